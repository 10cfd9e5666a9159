// Redis mode's answer to "Redis is down": the shared queue wrapped with a bounded buffer in this
// process. A push that cannot reach Redis is kept here instead of refused (dedup falls back to this
// process's marks), flushed to the stream, in order and with its marks, once Redis answers again,
// and spooled at shutdown if it never does. Past `max` buffered events a push fails as before and
// the edge answers 503. A refusal that is Redis's answer (a script error) is not an outage and is
// never buffered.
import { ReplyError } from 'ioredis'
import type { Logger } from 'pino'
import { anonymousMax, type PushOptions, type PushResult, type QueueCounts, type SharedQueue, type TagQueue } from './queue.js'
import type { Batch, QueuedEvent } from './types.js'
import { MemoryMarks } from './memory-marks.js'

export interface BufferedQueueOptions {
  /** Events kept while Redis cannot be reached. */
  max: number
  logger?: Logger
  /** How often a buffer tries to flush while Redis stays away. */
  retryMs?: number
}

const FLUSH_CHUNK = 1000

interface Kept { item: QueuedEvent, key?: string, ttlMs: number }

export class BufferedQueue implements TagQueue {
  readonly shared: SharedQueue
  private kept: Kept[] = []
  private readonly marks = new MemoryMarks()
  private flushing?: Promise<void>
  private timer?: NodeJS.Timeout
  private closed = false

  constructor (private readonly inner: TagQueue & { shared: SharedQueue }, private readonly opts: BufferedQueueOptions) {
    const s = inner.shared
    this.shared = {
      refresh: async () => this.withBuffered(await s.refresh()),
      wait: async ms => { await s.wait(ms) },
      close: async () => {
        this.closed = true
        clearTimeout(this.timer)
        // A chunk on its way to Redis is either stored or still kept once this resolves: what
        // unsent() then gives the spool is never also in the stream (a flush stops after its
        // current chunk once closed).
        await this.flushing
        await s.close()
      },
      unsent: () => this.kept.map(k => k.item)
    }
  }

  counts (): QueueCounts {
    return this.withBuffered(this.inner.counts())
  }

  async push (items: readonly QueuedEvent[], opts: PushOptions = {}): Promise<PushResult> {
    // While anything is buffered, new events queue behind it: order holds, and their marks are
    // checked here until the buffer has reached Redis.
    if (this.kept.length === 0) {
      try {
        return await this.inner.push(items, opts)
      } catch (err) {
        if (err instanceof ReplyError) throw err
        if (!this.room(items.length, opts.anonymous)) throw err
        this.opts.logger?.warn({ err, events: items.length }, 'Redis unreachable: events kept in this process until it answers (dedup is this process\'s only)')
      }
    }
    if (!this.room(items.length, opts.anonymous)) throw new Error(`Redis unreachable and the local buffer holds ${this.kept.length} events (its max is ${opts.anonymous === true ? `${anonymousMax(this.opts.max)} for events without an API key, ` : ''}${this.opts.max})`)
    const ttlMs = opts.marks?.ttlMs ?? 0
    const { fresh, repeats, marking } = this.marks.sift(opts.marks?.keys, items.length)
    for (const key of marking) this.marks.add(key, ttlMs)
    for (const i of fresh) this.kept.push({ item: items[i], key: opts.marks?.keys[i], ttlMs })
    this.later(0)
    return { shed: false, repeats }
  }

  async take (max: number): Promise<QueuedEvent[]> { return await this.inner.take(max) }
  async takeDue (now: number): Promise<Batch | undefined> { return await this.inner.takeDue(now) }
  async schedule (batch: Batch, dueMs: number): Promise<void> { await this.inner.schedule(batch, dueMs) }
  async settle (ids: readonly string[]): Promise<void> { await this.inner.settle(ids) }
  async drain (): Promise<Array<QueuedEvent & { batchId?: string }>> { return await this.inner.drain() }

  /** Resolves once the buffer is empty or a flush attempt failed. */
  private async flush (): Promise<void> {
    this.flushing ??= this.flushAll().then(done => {
      this.flushing = undefined
      if (!done) this.later(this.opts.retryMs ?? 1000)
    })
    await this.flushing
  }

  /** Anonymous events leave the buffer's last tenth to backend events, as they do a queue's. */
  private room (n: number, anonymous = false): boolean {
    return this.kept.length + n <= (anonymous ? anonymousMax(this.opts.max) : this.opts.max)
  }

  private withBuffered (c: QueueCounts): QueueCounts {
    return this.kept.length > 0 ? { ...c, buffered: this.kept.length } : c
  }

  private later (ms: number): void {
    if (this.closed || this.timer !== undefined || this.flushing !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, ms)
    this.timer.unref()
  }

  /** False when Redis refused a chunk: the rest waits for the next try. */
  private async flushAll (): Promise<boolean> {
    let moved = 0
    while (this.kept.length > 0 && !this.closed) {
      const chunk = this.kept.slice(0, FLUSH_CHUNK)
      try {
        // Each event keeps its own ttl; a chunk goes with the longest, as marks are per push.
        const ttlMs = Math.max(...chunk.map(k => k.ttlMs))
        await this.inner.push(chunk.map(k => k.item), { marks: { keys: chunk.map(k => k.key), ttlMs } })
      } catch {
        return false
      }
      // Repeats Redis found were queued by another replica meanwhile: they are dropped here.
      this.kept.splice(0, chunk.length)
      moved += chunk.length
    }
    if (moved > 0) this.opts.logger?.info({ events: moved }, 'Redis answers again: the local buffer is flushed to the queue')
    return true
  }
}
