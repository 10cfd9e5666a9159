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
}

export interface TagQueue {
  /**
   * The counts as this process last saw them (exact for the memory queue), read on every pump to
   * decide whether a batch is ready. waiting + inFlight + scheduled is what maxQueue bounds.
   */
  counts (): QueueCounts
  /** Store new events, all or none. Resolves once they are stored. */
  push (items: readonly QueuedEvent[]): Promise<void>
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
  /** Remove and return everything waiting or scheduled (for the spool); in flight stays. */
  drain (): Promise<Array<QueuedEvent & { batchId?: string }>>
}

/** Total events a queue answers for: what maxQueue bounds. */
export function queued (c: QueueCounts): number {
  return c.waiting + c.inFlight + c.scheduled
}
