// One attempt at one batch: build it, exchange each request, and decide what becomes of every
// event (sent, retried, split, dead-lettered, dropped). Decides only: the worker carries the plan
// out against the queue, the dead letters and the metrics.
import type { TaglineEvent } from '../../schemas/event.js'
import { newBatchId } from './batch-id.js'
import { exchange, type ExchangeContext } from './exchange.js'
import { worst, type RequestResult } from './request-result.js'
import { giveUpReason, isExpired, nextAttempt } from './retry.js'
import type { Batch, QueuedEvent, UnstoredLetter } from './types.js'

export interface Letter extends UnstoredLetter {
  item: QueuedEvent
}

export interface Plan {
  sent: QueuedEvent[]
  letters: Letter[]
  /** Events to try again, as one batch that keeps its id (the destination's idempotency key). */
  retry?: { batch: Batch, dueMs: number, reason: string, aborted: boolean }
  /** A request refused whole for one event: its events go out again at once, in halves. */
  halves: Batch[]
  /**
   * The destination refused our credentials: these events go back as they came (no attempt
   * spent), to wait for a fixed config while the tag is paused.
   */
  held?: { batch: Batch, reason: string, status?: number, response?: string }
}

export interface AttemptContext extends ExchangeContext {
  random: () => number
}

const buildFailed = (err: unknown): string => `build failed: ${err instanceof Error ? err.message : String(err)}`

export async function attempt (batch: Batch, c: AttemptContext): Promise<Plan> {
  const now = c.now()
  const plan: Plan = { sent: [], letters: [], halves: [] }
  // Replayed or long-delayed events can be past the retry window before this attempt.
  const items: QueuedEvent[] = []
  for (const item of batch.items) {
    if (item.letter !== undefined) {
      plan.letters.push({ ...item.letter, item })
    } else if (item.type !== undefined && item.type !== c.tag.type) {
      // Prepared for another type of tag that had this name (before a restart, or in a dead letter
      // replayed since): its user data is hashed that type's way, or not at all, and it was routed
      // by that type's consent rules. Sent here it would go out as it is.
      plan.letters.push({ item, outcome: 'dead_lettered', reason: `queued for a tag of type ${item.type}; '${c.tag.name}' is now of type ${c.tag.type}, so it is not sent` })
    } else if (isExpired(c.policy, item.firstAttemptMs, now)) {
      plan.letters.push({ item, outcome: 'dead_lettered', reason: giveUpReason(item.attempts, item.lastReason ?? 'retry window passed') })
    } else items.push(item)
  }
  if (items.length === 0) return plan
  // The record after this attempt, made only for events that stay (retry, dead letter, halves):
  // a sent event needs none, and most events are sent.
  const tried = (i: number): QueuedEvent => ({ ...items[i], attempts: items[i].attempts + 1, firstAttemptMs: items[i].firstAttemptMs ?? now })
  let attemptNo = 0
  const events: TaglineEvent[] = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    attemptNo = Math.max(attemptNo, items[i].attempts + 1)
    events[i] = items[i].event
  }

  const build = (evs: TaglineEvent[]): ReturnType<typeof c.tag.def.build> => c.tag.def.build(evs, c.tag.settings, { now, batchId: batch.id, attempt: attemptNo })
  let built
  try {
    built = build(events)
  } catch (err) {
    // A build bug must not loop through retries: what throws is dead-lettered, so that a fix plus
    // a replay recovers it. Only what throws: each event is built alone to find it, and the others
    // go out without it (one visitor's odd value must not cost other visitors their events).
    const failing = new Map<number, unknown>()
    if (items.length > 1) {
      for (let i = 0; i < events.length; i++) {
        try { build([events[i]]) } catch (one) { failing.set(i, one) }
      }
    }
    // None fails alone (they fail only together), or a batch of one: all of it.
    if (failing.size === 0) for (let i = 0; i < items.length; i++) failing.set(i, err)
    for (const [i, e] of failing) plan.letters.push({ item: tried(i), outcome: 'dead_lettered', reason: buildFailed(e) })
    for (const i of [...failing.keys()].sort((a, b) => b - a)) {
      items.splice(i, 1)
      events.splice(i, 1)
    }
    if (items.length === 0) return plan
    try {
      built = build(events)
    } catch (again) {
      for (let i = 0; i < items.length; i++) plan.letters.push({ item: tried(i), outcome: 'dead_lettered', reason: buildFailed(again) })
      return plan
    }
  }

  const results: Array<RequestResult | undefined> = new Array(items.length)
  const splitGroups: number[][] = []
  const rejected = new Set<number>()
  for (const r of built.rejected ?? []) {
    if (items[r.index] === undefined || rejected.has(r.index)) continue
    rejected.add(r.index)
    plan.letters.push({ item: tried(r.index), outcome: 'dead_lettered', reason: r.reason })
  }
  await Promise.all(built.requests.map(async req => {
    const carried = req.events.filter(i => items[i] !== undefined && !rejected.has(i))
    const { result } = await exchange(req, c, { batchId: batch.id, attempt: attemptNo, events, carried })
    for (const i of carried) results[i] = worst(results[i], result)
    if (result.kind === 'split') splitGroups.push(carried)
  }))

  const retry: QueuedEvent[] = []
  const held: QueuedEvent[] = []
  let refused: Extract<RequestResult, { kind: 'credentials' }> | undefined
  let last: Extract<RequestResult, { kind: 'retry' }> | undefined
  let floorMs = 0
  let aborted = false
  for (let i = 0; i < items.length; i++) {
    if (rejected.has(i)) continue
    const r = results[i]
    // A tag must carry or reject every event; one it forgot is a tag bug, kept visible.
    if (r === undefined) plan.letters.push({ item: tried(i), outcome: 'dead_lettered', reason: 'build produced no request for this event' })
    else if (r.kind === 'ok') plan.sent.push(items[i])
    else if (r.kind === 'credentials') {
      held.push(items[i])
      refused = r
    }
    else if (r.kind === 'drop') plan.letters.push({ item: tried(i), outcome: 'dropped', reason: r.reason, status: r.status, response: r.response })
    else if (r.kind === 'retry') {
      retry.push({ ...tried(i), lastReason: r.reason })
      floorMs = Math.max(floorMs, r.floorMs ?? 0)
      aborted ||= r.aborted === true
      last = r
    }
  }
  if (refused !== undefined) plan.held = { batch: { id: batch.id, items: held }, reason: refused.reason, status: refused.status, response: refused.response }
  // Backoff counts from the answer, not from when the attempt began.
  if (last !== undefined) planRetry(plan, { id: batch.id, items: retry }, last, floorMs, aborted, c.now(), c)
  planHalves(plan, items, tried, results, splitGroups, now)
  return plan
}

function planRetry (plan: Plan, batch: Batch, r: Extract<RequestResult, { kind: 'retry' }>, floorMs: number, aborted: boolean, now: number, c: AttemptContext): void {
  if (aborted) {
    // Cut off by shutdown: the outcome is unknown, so it goes to the spool, not the retry count.
    plan.retry = { batch, dueMs: now, reason: r.reason, aborted }
    return
  }
  const jitter = c.random() // one draw per batch: its events travel together
  const keep: QueuedEvent[] = []
  let dueMs = now
  for (const item of batch.items) {
    const next = nextAttempt(c.policy, { attempts: item.attempts, firstAttemptMs: item.firstAttemptMs ?? now, now, floorMs, random: () => jitter })
    if (next.retry) {
      keep.push(item)
      dueMs = Math.max(dueMs, next.dueMs)
    } else {
      plan.letters.push({ item, outcome: 'dead_lettered', reason: giveUpReason(item.attempts, r.reason), status: r.status, response: r.response, why: next.why })
    }
  }
  if (keep.length > 0) plan.retry = { batch: { id: batch.id, items: keep }, dueMs, reason: r.reason, aborted }
}

/**
 * A request refused whole because of some event in it goes out again in halves, at once, until
 * the bad event travels alone and is dropped with the destination's reason. Halving ends after
 * log2(n) rounds; those rounds are not failures of the innocent events, so the halves keep the
 * attempt counts they came in with.
 */
function planHalves (plan: Plan, before: QueuedEvent[], tried: (i: number) => QueuedEvent, results: Array<RequestResult | undefined>, groups: number[][], now: number): void {
  const done = new Set<number>()
  for (const group of groups) {
    const g = group.filter(i => results[i]?.kind === 'split' && !done.has(i))
    for (const i of g) done.add(i)
    if (g.length === 0) continue
    const r = results[g[0]] as Extract<RequestResult, { kind: 'split' }>
    if (g.length === 1) {
      plan.letters.push({ item: tried(g[0]), outcome: 'dropped', reason: r.reason, status: r.status, response: r.response })
      continue
    }
    const mid = Math.ceil(g.length / 2)
    for (const half of [g.slice(0, mid), g.slice(mid)]) {
      plan.halves.push({ id: newBatchId(now), items: half.map(i => ({ ...tried(i), attempts: before[i].attempts })) })
    }
  }
}

/** The events a plan settles for good (sent or dead-lettered), by id. */
export function settledIds (plan: Plan): string[] {
  return [...plan.sent.map(i => i.id), ...plan.letters.map(l => l.item.id)]
}
