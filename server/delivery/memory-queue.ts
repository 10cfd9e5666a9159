// The embedded per-tag queue: everything in this process's memory, exact counts, no I/O. Its
// methods resolve at once; they are async only to share the TagQueue contract.
import { queued, type PushOptions, type PushResult, type QueueCounts, type TagQueue } from './queue.js'
import type { Batch, QueuedEvent } from './types.js'
import { MemoryMarks } from './memory-marks.js'

interface Scheduled { batch: Batch, dueMs: number }

export class MemoryQueue implements TagQueue {
  // FIFO as an array with a moving head: take() is O(batch), compaction amortised.
  private items: QueuedEvent[] = []
  private head = 0
  private retries: Scheduled[] = [] // sorted by dueMs
  private retryCount = 0
  private readonly flying = new Map<string, QueuedEvent>()

  /** `marks` may be shared by several queues: keys are prefixed with the queue's tag. */
  constructor (private readonly tag = '', private readonly marks = new MemoryMarks()) {}

  counts (): QueueCounts {
    return {
      waiting: this.items.length - this.head,
      inFlight: this.flying.size,
      scheduled: this.retryCount,
      oldestWaitingMs: this.head < this.items.length ? this.items[this.head].enqueuedMs : undefined,
      nextDueMs: this.retries[0]?.dueMs
    }
  }

  async push (items: readonly QueuedEvent[], opts: PushOptions = {}): Promise<PushResult> {
    const { keys, ttlMs = 0 } = opts.marks ?? {}
    const { fresh, repeats, marking } = this.marks.sift(keys, items.length, `${this.tag}\u0000`)
    if (opts.max !== undefined && queued(this.counts()) + fresh.length > opts.max) return { shed: true, repeats: [] }
    for (const key of marking) this.marks.add(key, ttlMs)
    for (const i of fresh) this.items.push(items[i])
    return { shed: false, repeats }
  }

  async take (max: number): Promise<QueuedEvent[]> {
    const out = this.items.slice(this.head, this.head + max)
    // The slots let go of what they held: a delivered event must not stay in memory until the
    // next compaction (up to about a thousand per tag, and a request's events can be large).
    this.items.fill(undefined as unknown as QueuedEvent, this.head, this.head + out.length)
    this.head += out.length
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    for (const item of out) this.flying.set(item.id, item)
    return out
  }

  async takeDue (now: number): Promise<Batch | undefined> {
    if (this.retries.length === 0 || this.retries[0].dueMs > now) return undefined
    const { batch } = this.retries.shift() as Scheduled
    this.retryCount -= batch.items.length
    for (const item of batch.items) this.flying.set(item.id, item)
    return batch
  }

  async schedule (batch: Batch, dueMs: number): Promise<void> {
    for (const item of batch.items) this.flying.delete(item.id)
    let lo = 0
    let hi = this.retries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.retries[mid].dueMs <= dueMs) lo = mid + 1
      else hi = mid
    }
    this.retries.splice(lo, 0, { batch: { id: batch.id, items: [...batch.items] }, dueMs })
    this.retryCount += batch.items.length
  }

  async settle (ids: readonly string[]): Promise<void> {
    for (const id of ids) this.flying.delete(id)
  }

  /**
   * Erasure (erase.ts): the matching events leave the queue, waiting or scheduled, in place (the
   * others keep their order and due times); those in flight are only counted.
   */
  remove (match: (item: QueuedEvent) => boolean): { removed: number, inFlight: number } {
    const before = this.items.length - this.head + this.retryCount
    this.items = this.items.slice(this.head).filter(item => !match(item))
    this.head = 0
    const retries: Scheduled[] = []
    for (const { batch, dueMs } of this.retries) {
      const items = batch.items.filter(item => !match(item))
      if (items.length > 0) retries.push({ batch: { id: batch.id, items }, dueMs })
    }
    this.retries = retries
    this.retryCount = retries.reduce((n, r) => n + r.batch.items.length, 0)
    let inFlight = 0
    for (const item of this.flying.values()) if (match(item)) inFlight++
    return { removed: before - this.items.length - this.retryCount, inFlight }
  }

  async drain (): Promise<Array<QueuedEvent & { batchId?: string }>> {
    const out: Array<QueuedEvent & { batchId?: string }> = []
    for (const { batch } of this.retries) {
      for (const item of batch.items) out.push({ ...item, batchId: batch.id })
    }
    // A loop, not push(...rest): a spread of a few hundred thousand events overflows the stack.
    for (let i = this.head; i < this.items.length; i++) out.push(this.items[i])
    this.retries = []
    this.retryCount = 0
    this.items = []
    this.head = 0
    return out
  }
}
