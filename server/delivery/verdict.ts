// What one attempt means for one event. A request's outcome applies to every event it carries;
// an event carried by several requests takes the worst of them (drop > split > retry > ok), so it
// is retried whole rather than half-delivered.
import type { Outcome, TagResponse } from '../../tags/types.js'
import { retryAfterMs } from './retry.js'

export type Verdict =
  | { kind: 'ok' }
  | { kind: 'retry', reason: string, floorMs?: number, status?: number, response?: string, aborted?: boolean }
  | { kind: 'split', reason: string, status?: number, response?: string }
  | { kind: 'drop', reason: string, status?: number, response?: string }

const rank = { ok: 0, retry: 1, split: 2, drop: 3 } as const

export function worst (a: Verdict | undefined, b: Verdict): Verdict {
  if (a === undefined || rank[b.kind] > rank[a.kind]) return b
  if (a.kind === 'retry' && b.kind === 'retry') {
    return { ...a, floorMs: Math.max(a.floorMs ?? 0, b.floorMs ?? 0), aborted: a.aborted === true || b.aborted === true }
  }
  return a
}

/**
 * Turn classify()'s outcome into a verdict. classify() is pure and has no clock, so the
 * Retry-After header is read here too: whichever of the two asks for the longer wait wins.
 */
export function fromOutcome (outcome: Outcome, res: TagResponse, now: number): Verdict {
  if (outcome.kind === 'ok') return { kind: 'ok' }
  const evidence = { status: res.status, response: res.body }
  if (outcome.kind === 'drop') return { kind: 'drop', reason: outcome.reason, ...evidence }
  if (outcome.kind === 'split') return { kind: 'split', reason: outcome.reason, ...evidence }
  const floorMs = Math.max(outcome.retryAfterMs ?? 0, retryAfterMs(res.headers, now) ?? 0)
  return { kind: 'retry', reason: outcome.reason, floorMs, ...evidence }
}
