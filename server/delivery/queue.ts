// The per-tag queue delivery talks to. The memory queue is the embedded default; the Redis Streams
// queue (redis-queue.ts: stream = waiting, pending entries = in flight, a sorted set = scheduled
// retries, XACK = settle) fits the same contract, which test/delivery/queue-contract.test.ts holds
// every implementation to.
import type { Batch, QueuedEvent } from './types.js'

export interface QueueCounts {
  waiting: number
  inFlight: number
  scheduled: number
  /** enqueuedMs of the oldest waiting event. */
  oldestWaitingMs?: number
  /** When the earliest scheduled retry falls due. */
  nextDueMs?: number
  /** Shared queues: in-flight entries a dead consumer left, to be taken over now (take() does). */
  claimable?: number
  /** Shared queues: events this process accepted while the store was away, not stored there yet. */
  buffered?: number
}

export interface PushOptions {
  /**
   * Dedup, per item: a key (undefined: never a repeat). An item whose key is marked is a repeat
   * and is not stored; a stored item's key is marked for `ttlMs` in the same step as it is
   * stored, so a crash can never leave a mark without its event.
   */
  marks?: { keys: ReadonlyArray<string | undefined>, ttlMs: number }
  /** Store nothing when the queue would then hold more than this many events (waiting + in flight + scheduled). */
  max?: number
  /**
   * Events of a request without a valid API key: they may not fill a queue's last tenth
   * (`max` says so for the queue; a buffer in front of it, BufferedQueue, keeps its own).
   */
  anonymous?: boolean
}

/**
 * What events sent without an API key may fill of a queue or buffer of `size`: all but its last
 * tenth, kept for backend events (orders, sign-ups). A destination down for hours, or a flood of
 * beacons, fills a queue with page views first, and must not cost the conversions a backend
 * reports. (Under 10, no reserve.)
 */
export function anonymousMax (size: number): number {
  return size - Math.floor(size / 10)
}

export interface PushResult {
  /** Nothing was stored: the queue holds `max` events already. */
  shed: boolean
  /** Indexes of the items not stored because their key was marked. */
  repeats: number[]
}

/**
 * What a queue that other processes change too (a shared store) adds: its counts() is a reading
 * that goes stale, so delivery reads again when another process may have added work.
 */
export interface SharedQueue {
  /** Read the counts again without changing anything. */
  refresh (): Promise<QueueCounts>
  /** Resolves when another process may have added waiting events, or after `timeoutMs`. */
  wait (timeoutMs: number): Promise<void>
  /** Let go of this process's connections and consumer names; nothing stored changes. */
  close (): Promise<void>
  /** Events accepted here but not stored in the shared queue yet (a local buffer): the spool's. */
  unsent?: () => QueuedEvent[]
}

export interface TagQueue {
  /** Set when other processes share this queue (Redis); absent for the embedded queue. */
  readonly shared?: SharedQueue
  /**
   * The counts as this process last saw them (exact for the memory queue), read on every pump to
   * decide whether a batch is ready. waiting + inFlight + scheduled is what maxQueue bounds.
   */
  counts (): QueueCounts
  /** Store new events, all or none (less the repeats). Resolves once they are stored. */
  push (items: readonly QueuedEvent[], opts?: PushOptions): Promise<PushResult>
  /** Up to `max` waiting events, oldest first; they are in flight until settled or scheduled. */
  take (max: number): Promise<QueuedEvent[]>
  /** The earliest retry due at or before `now`; its events are in flight again. */
  takeDue (now: number): Promise<Batch | undefined>
  /**
   * In-flight events go back as a retry due at `dueMs`. The batch's records replace the stored
   * ones (that is how attempt counts persist); events not in flight here are added (spool replay).
   */
  schedule (batch: Batch, dueMs: number): Promise<void>
  /** In-flight events that are finished (delivered or dead-lettered). Unknown ids are ignored. */
  settle (ids: readonly string[]): Promise<void>
  /**
   * Remove and return everything waiting or scheduled (for the embedded spool); in flight stays.
   * A shared queue never needs it at shutdown: what one replica leaves, another takes.
   */
  drain (): Promise<Array<QueuedEvent & { batchId?: string }>>
}

/** Total events a queue answers for: what maxQueue bounds. */
export function queued (c: QueueCounts): number {
  return c.waiting + c.inFlight + c.scheduled
}
