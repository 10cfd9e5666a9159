// One tag's queue. Delivery only talks to the TagQueue interface so a Redis-streams queue can
// replace the memory one in scaled mode (stream = waiting, pending list = in flight, sorted set =
// scheduled retries, XACK = settle) without touching the batching and retry logic.
import type { Batch, QueuedEvent } from './types.js'

export interface TagQueue {
  /** Everything this queue answers for: waiting + in flight + scheduled. Bounded by maxQueue. */
  readonly size: number
  readonly waiting: number
  readonly inFlight: number
  readonly scheduled: number
  /** enqueuedMs of the oldest waiting event. */
  oldestWaitingMs (): number | undefined
  push (items: QueuedEvent[]): void
  /** Up to `max` waiting events, oldest first; they count as in flight until settled or scheduled. */
  take (max: number): QueuedEvent[]
  /** Put in-flight events back as a retry due at `dueMs`. */
  schedule (batch: Batch, dueMs: number): void
  /** Add a retry that was never in flight here (spool replay). */
  addRetry (batch: Batch, dueMs: number): void
  /** The earliest retry due at or before `now`; it counts as in flight again. */
  takeDue (now: number): Batch | undefined
  nextDueMs (): number | undefined
  /** In-flight events that are finished (delivered or dead-lettered). */
  settle (count: number): void
  /** Remove and return everything waiting or scheduled (for the spool). In-flight stays counted. */
  drain (): QueuedEvent[]
}

interface Scheduled { batch: Batch, dueMs: number }

export class MemoryQueue implements TagQueue {
  // FIFO as an array with a moving head: take() is O(batch), compaction amortised.
  private items: QueuedEvent[] = []
  private head = 0
  private retries: Scheduled[] = [] // sorted by dueMs
  private retryCount = 0
  private flying = 0

  get waiting (): number { return this.items.length - this.head }
  get inFlight (): number { return this.flying }
  get scheduled (): number { return this.retryCount }
  get size (): number { return this.waiting + this.flying + this.retryCount }

  oldestWaitingMs (): number | undefined {
    return this.waiting > 0 ? this.items[this.head].enqueuedMs : undefined
  }

  push (items: QueuedEvent[]): void {
    for (const item of items) this.items.push(item)
  }

  take (max: number): QueuedEvent[] {
    const out = this.items.slice(this.head, this.head + max)
    this.head += out.length
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    this.flying += out.length
    return out
  }

  schedule (batch: Batch, dueMs: number): void {
    this.flying -= batch.items.length
    this.addRetry(batch, dueMs)
  }

  addRetry (batch: Batch, dueMs: number): void {
    let lo = 0
    let hi = this.retries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.retries[mid].dueMs <= dueMs) lo = mid + 1
      else hi = mid
    }
    this.retries.splice(lo, 0, { batch, dueMs })
    this.retryCount += batch.items.length
  }

  takeDue (now: number): Batch | undefined {
    if (this.retries.length === 0 || this.retries[0].dueMs > now) return undefined
    const { batch } = this.retries.shift() as Scheduled
    this.retryCount -= batch.items.length
    this.flying += batch.items.length
    return batch
  }

  nextDueMs (): number | undefined {
    return this.retries[0]?.dueMs
  }

  settle (count: number): void {
    this.flying -= count
  }

  drain (): QueuedEvent[] {
    const out: QueuedEvent[] = []
    for (const { batch } of this.retries) {
      for (const item of batch.items) out.push({ ...item, batchId: batch.id })
    }
    out.push(...this.items.slice(this.head))
    this.retries = []
    this.retryCount = 0
    this.items = []
    this.head = 0
    return out
  }
}
