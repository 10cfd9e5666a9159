// What an operator asks of delivery: how full each tag's queue is, and to send a tag's dead letters
// again. One implementation for both surfaces: the gateway's /admin routes (its own queues, either
// mode) and `tagline queues` / `tagline replay` on Redis, which talk to the shared queues with no
// gateway running.
import type { DeadLetterStore } from './dead-letters.js'
import type { TagQueue } from './queue.js'
import type { QueuedEvent } from './types.js'

export interface TagStats {
  tag: string
  waiting: number
  inFlight: number
  scheduled: number
  /** Dead letters the tag holds. */
  dead: number
  /** How long the oldest waiting event has waited; absent when none waits. */
  oldestWaitingAgeMs?: number
  /** Redis mode: events this process accepted while Redis was away, not stored there yet. */
  buffered?: number
}

/**
 * Per tag, in the order given. A shared queue is read afresh (its counts() is this process's last
 * reading, and another replica, or none, may have changed it since); the memory queue's are exact.
 */
export async function queueStats (tags: readonly string[], queueOf: (tag: string) => TagQueue, deadLetters: DeadLetterStore, now: number): Promise<TagStats[]> {
  return await Promise.all(tags.map(async tag => {
    const queue = queueOf(tag)
    const [c, dead] = await Promise.all([queue.shared !== undefined ? queue.shared.refresh() : queue.counts(), deadLetters.count(tag)])
    const stats: TagStats = { tag, waiting: c.waiting, inFlight: c.inFlight, scheduled: c.scheduled, dead }
    if (c.oldestWaitingMs !== undefined) stats.oldestWaitingAgeMs = Math.max(0, now - c.oldestWaitingMs)
    if (c.buffered !== undefined) stats.buffered = c.buffered
    return stats
  }))
}

export interface ReplayOptions {
  tag: string
  /** Where the letters go: the tag's queue (or whatever pushes into it and wakes its worker). */
  queue: Pick<TagQueue, 'push'>
  deadLetters: DeadLetterStore
  /** Only letters with `atMs >= sinceMs`. */
  sinceMs?: number
  /** Only the oldest `limit` of those. */
  limit?: number
  /** List only: nothing is pushed or removed. */
  dryRun: boolean
  now: number
  /** A queue id for each replayed event, unique within the tag's queue. */
  newId: () => string
}

export interface ReplayResult {
  tag: string
  /** Letters that matched the window (all of them are replayed, unless a dry run). */
  matched: number
  /** Letters pushed back into the queue and removed from the dead letters. */
  replayed: number
  /** Matched letters per reason. */
  byReason: Record<string, number>
}

/**
 * A tag's dead letters back into that tag's queue, oldest first, as new events: attempt count 0,
 * a new id, enqueued now, the letter's event as it is (it is the tag's prepared copy: hashed, never
 * raw). No dedup marks are checked or set, and the queue's cap does not apply: these were
 * acknowledged long ago. Only this tag is touched, so other destinations are not sent anything
 * twice. The letters are removed only after the push: a crash in between replays them twice,
 * never loses them (at least once).
 */
export async function replay (opts: ReplayOptions): Promise<ReplayResult> {
  const { tag, deadLetters } = opts
  const letters = await deadLetters.list(tag, { sinceMs: opts.sinceMs, limit: opts.limit })
  // A Map, then own properties: a reason is the destination's text and may be any key at all.
  const reasons = new Map<string, number>()
  for (const l of letters) reasons.set(l.reason, (reasons.get(l.reason) ?? 0) + 1)
  const byReason = Object.fromEntries(reasons)
  if (opts.dryRun || letters.length === 0) return { tag, matched: letters.length, replayed: 0, byReason }
  // The type travels back with the event: a tag of another type that took the name since never sends it (attempt).
  const records: QueuedEvent[] = letters.map(l => ({ id: opts.newId(), tag, ...(l.type !== undefined ? { type: l.type } : {}), event: l.event, attempts: 0, enqueuedMs: opts.now }))
  await opts.queue.push(records)
  await deadLetters.remove(tag, letters.map(l => l.id))
  return { tag, matched: letters.length, replayed: records.length, byReason }
}
