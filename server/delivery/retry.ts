// The whole retry policy. Every default is in RETRY_DEFAULTS (schemas/defaults.ts); a tag's
// `retry:` settings are merged over it, nothing else changes behaviour.
//
// Retrying a POST is normally unsafe (undici's RetryHandler refuses to), but our sends are
// idempotent at the destination: Meta and TikTok deduplicate on (event_name, event_id), GA4 on
// transaction_id, and webhooks get the same `webhook-id` (the batch id) on every attempt. So a
// timeout whose request did arrive costs nothing but a duplicate the vendor discards.
import type { RetryPolicy } from '../../config/types.js'
import type { TagResponse } from '../../tags/types.js'
import { RETRY_DEFAULTS } from '../../schemas/defaults.js'

export interface ResolvedRetryPolicy extends RetryPolicy {
  factor: number
  jitter: 'full' | 'equal'
  permanentErrorCodes: readonly string[]
}

export function resolveRetryPolicy (overrides: Partial<RetryPolicy> = {}): ResolvedRetryPolicy {
  const out: ResolvedRetryPolicy = { ...RETRY_DEFAULTS }
  for (const key of ['maxAttempts', 'maxAgeMs', 'initialDelayMs', 'maxDelayMs'] as const) {
    const v = overrides[key]
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[key] = v
  }
  return out
}

/** Delay before the next attempt, after `attempts` attempts were made (1 = after the first). */
export function backoffMs (policy: ResolvedRetryPolicy, attempts: number, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempts - 1))
  const r = Math.min(1, Math.max(0, random()))
  return Math.round(policy.jitter === 'full' ? exp * r : exp / 2 + (exp / 2) * r)
}

/**
 * Milliseconds a `Retry-After` header asks us to wait (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), or undefined when absent or unreadable. `now` is the time the response arrived.
 */
export function retryAfterMs (headers: TagResponse['headers'], now: number): number | undefined {
  let raw: string | string[] | undefined = headers['retry-after']
  if (raw === undefined) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'retry-after') raw = headers[k]
  }
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim()
  if (value === undefined || value === '') return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  // Only something that looks like a date: Date.parse also reads "-1" as a year.
  if (!/^[A-Za-z]{3,9},? /.test(value)) return undefined
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export type RetryDecision =
  | { retry: true, dueMs: number }
  | { retry: false, why: 'max_attempts' | 'max_age' }

/**
 * When to try again, or that we stop. `floorMs` is the destination's Retry-After: a floor, never
 * shortened by jitter or by maxDelayMs, because retrying earlier only earns another 429.
 */
export function nextAttempt (
  policy: ResolvedRetryPolicy,
  s: { attempts: number, firstAttemptMs: number, now: number, floorMs?: number, random: () => number }
): RetryDecision {
  if (s.attempts >= policy.maxAttempts) return { retry: false, why: 'max_attempts' }
  const deadline = s.firstAttemptMs + policy.maxAgeMs
  // Backoff that would overshoot the retry window is pulled in to one last try at its edge.
  const backoffDue = Math.min(s.now + backoffMs(policy, s.attempts, s.random), deadline)
  const dueMs = Math.max(backoffDue, s.now + (s.floorMs ?? 0))
  if (dueMs > deadline || s.now >= deadline) return { retry: false, why: 'max_age' }
  return { retry: true, dueMs }
}

export function isExpired (policy: ResolvedRetryPolicy, firstAttemptMs: number | undefined, now: number): boolean {
  return firstAttemptMs !== undefined && now - firstAttemptMs > policy.maxAgeMs
}

export function giveUpReason (attempts: number, lastReason: string): string {
  return `gave up after ${attempts} attempts: ${lastReason}`
}

export function isPermanentError (policy: ResolvedRetryPolicy, code: string): boolean {
  return policy.permanentErrorCodes.includes(code)
}
