// What one request's answer means for the events it carries: the tag's classification plus the
// evidence (status, body) and timing (Retry-After) delivery needs. An event carried by several
// requests takes the worst of them (drop > split > retry > ok), so it is retried whole rather
// than half-delivered.
import type { Classification, TagResponse } from '../../tags/types.js'
import { retryAfterMs } from './retry.js'

interface Evidence { status?: number, response?: string }

export type RequestResult =
  | { kind: 'ok' }
  | { kind: 'retry', reason: string, floorMs?: number, aborted?: boolean } & Evidence
  | { kind: 'split', reason: string } & Evidence
  | { kind: 'drop', reason: string } & Evidence
  | { kind: 'credentials', reason: string } & Evidence

// Refused credentials rank highest: such an event is kept for after the fix, whatever else it met.
const rank = { ok: 0, retry: 1, split: 2, drop: 3, credentials: 4 } as const

export function worst (a: RequestResult | undefined, b: RequestResult): RequestResult {
  if (a === undefined || rank[b.kind] > rank[a.kind]) return b
  if (a.kind === 'retry' && b.kind === 'retry') {
    return { ...a, floorMs: Math.max(a.floorMs ?? 0, b.floorMs ?? 0), aborted: a.aborted === true || b.aborted === true }
  }
  return a
}

/**
 * classify() is pure and has no clock, so the Retry-After header is read here too: whichever of
 * the two asks for the longer wait wins.
 */
export function fromClassification (c: Classification, res: TagResponse, now: number): RequestResult {
  if (c.kind === 'ok') return { kind: 'ok' }
  const evidence = { status: res.status, response: res.body }
  if (c.kind === 'drop') return { kind: 'drop', reason: c.reason, ...evidence }
  if (c.kind === 'split') return { kind: 'split', reason: c.reason, ...evidence }
  if (c.kind === 'credentials') return { kind: 'credentials', reason: c.reason, ...evidence }
  const floorMs = Math.max(c.retryAfterMs ?? 0, retryAfterMs(res.headers, now) ?? 0)
  return { kind: 'retry', reason: c.reason, floorMs, ...evidence }
}
