// The one I/O core every tag shares: per-tag queues, batching, HTTP, retries, dead letters,
// bounded memory, and a graceful drain into a spool at shutdown (docs/architecture.md, "Delivery").
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import { errors } from '../../common/errors.js'
import { Throttle } from '../../common/throttle.js'
import { ConfigError } from '../../config/errors.js'
import { DELIVERY_DEFAULTS } from '../../schemas/defaults.js'
import type { DeadLetterStore } from './dead-letters.js'
import { memoryQueues, type QueueFactory } from './factory.js'
import { createAgent } from './send.js'
import { appendSpool, readSpool, removeSpool } from './spool.js'
import type { QueuedEvent, SpooledEvent } from './types.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryObserver } from '../observer.js'
import { TagWorker } from './worker.js'
import { giveUp } from './letter.js'
import { systemClock, type Clock } from './clock.js'
import { newBatchId } from './batch-id.js'
import type { TaglineEvent } from '../../schemas/event.js'
import { queueStats, replay, type ReplayResult, type TagStats } from './admin.js'
import { anonymousMax } from './queue.js'

export type { SpooledEvent } from './types.js'

export interface DeliveryOptions {
  tags: CompiledTag[]
  metrics: Metrics
  logger: Logger
  /** Per tag: events waiting + in flight + scheduled for retry. Default 10000. */
  maxQueue?: number
  /** Queues and dead letters; default: in memory. */
  queues?: QueueFactory
  /** Per tag, oldest evicted first, for the default memory dead letters. Default 1000. */
  deadLetterMax?: number
  /** Told of every send and every final outcome. */
  observer?: DeliveryObserver
  /** Batches in flight per tag, for every tag, over each tag's own `concurrency` (tests, the benchmark). */
  concurrency?: number
  /** Shared queues: the longest wait before looking again for due retries and claims. */
  pollMs?: number
  /** JSONL file for what is left at shutdown. Without one, leftovers are logged as lost. */
  spoolFile?: string
  /** Time and timers (batching windows, retries, the shutdown deadline). Default: the system's. */
  clock?: Clock
  random?: () => number
  /** Default: one shared keep-alive Agent, owned (and closed) by Delivery. */
  dispatcher?: Dispatcher
}

/** One event for one tag, as the pipeline hands it over. */
export interface EnqueueItem {
  tag: string
  /** The tag's own copy of the event (prepared). */
  event: TaglineEvent
  /** The dedup key of the event as it arrived; absent, it is never a repeat. */
  key?: string
}

/** Per item: stored, a repeat the tag already has (within the dedup window), or shed (its tag's queue is full). */
export type EnqueueOutcome = 'queued' | 'deduplicated' | 'shed'

/** What the pipeline hands its events to. */
export interface Enqueuer {
  /**
   * Per tag all or none, and each item's dedup mark is set in the same step as it is stored.
   * Resolves once every item is stored, found a repeat or shed; rejects when a queue cannot be
   * reached (some tags may have stored theirs: their marks make the sender's retry a repeat
   * there, so the retry is safe). Rejects with queue_full when every item was shed.
   * `anonymous`: the request had no valid API key; its events may not take a queue's last
   * tenth (anonymousMax), kept for backend events.
   */
  enqueue (items: readonly EnqueueItem[], opts?: { dedupMs?: number, anonymous?: boolean }): Promise<EnqueueOutcome[]>
  /**
   * An event the pipeline could not make ready for a tag (its prepare failed): kept with the
   * reason, without its user data, and never sent.
   */
  deadLetter (tag: string, event: TaglineEvent, reason: string): Promise<void>
}

/** What an operator asks of a running gateway (the /admin routes). */
export interface QueueAdmin {
  /** Per tag delivering here, by name: waiting, in flight, scheduled, dead letters, oldest wait. */
  stats (): Promise<TagStats[]>
  /**
   * The tag's dead letters (those of the last `withinMs`, the oldest `limit`) back into its queue;
   * a dry run only counts them. An unknown tag is 404 not_found.
   */
  replay (opts: { tag: string, withinMs?: number, limit?: number, dryRun?: boolean }): Promise<ReplayResult>
}

export class Delivery implements Enqueuer, QueueAdmin {
  /** Where given-up events are kept (the factory's store). */
  readonly deadLetters: DeadLetterStore
  private readonly workers = new Map<string, TagWorker>()
  private readonly queues: QueueFactory
  private readonly logger: Logger
  private readonly maxQueue: number
  private readonly clock: Clock
  private readonly now: () => number
  private readonly dispatcher: Dispatcher
  private readonly ownsDispatcher: boolean
  private closing?: Promise<{ delivered: number, spooled: number }>
  private delivered = 0
  private onIdle?: () => void
  private readonly shedLogged = new Throttle(1000)
  // Queue ids: unique per process and time-ordered, cheap enough for every event.
  private readonly idPrefix = newBatchId(Date.now())
  private seq = 0

  constructor (private readonly opts: DeliveryOptions) {
    this.logger = opts.logger
    this.maxQueue = opts.maxQueue ?? DELIVERY_DEFAULTS.maxQueue
    this.clock = opts.clock ?? systemClock
    this.now = () => this.clock.now()
    this.queues = opts.queues ?? memoryQueues({ logger: this.logger, deadLetterMax: opts.deadLetterMax })
    this.deadLetters = this.queues.deadLetters
    this.ownsDispatcher = opts.dispatcher === undefined
    this.dispatcher = opts.dispatcher ?? createAgent()
    for (const tag of opts.tags) if (tag.enabled) this.addWorker(tag)
    opts.metrics.readQueues(async () => await this.stats())
  }

  async enqueue (items: readonly EnqueueItem[], opts: { dedupMs?: number, anonymous?: boolean } = {}): Promise<EnqueueOutcome[]> {
    if (this.closing !== undefined) throw errors.notReady('Delivery is shutting down; the events were not accepted.')
    const byTag = new Map<string, { records: QueuedEvent[], keys: Array<string | undefined>, at: number[] }>()
    const now = this.now()
    for (let i = 0; i < items.length; i++) {
      const { tag, event, key } = items[i]
      let group = byTag.get(tag)
      if (group === undefined) byTag.set(tag, group = { records: [], keys: [], at: [] })
      group.records.push({ id: this.nextId(), tag, type: this.workers.get(tag)?.tag.type, event, attempts: 0, enqueuedMs: now })
      group.keys.push(opts.dedupMs !== undefined ? key : undefined)
      group.at.push(i)
    }
    for (const tag of byTag.keys()) {
      const worker = this.workers.get(tag)
      // Unknown during a config reload race: 503 makes the sender try again shortly. Tag names
      // stay out of the error body: it goes to browsers; the log and the depth gauge name them.
      if (worker === undefined || worker.retiring) {
        this.logger.warn({ tag }, 'enqueue for a tag without a delivery queue')
        throw errors.notReady('A destination is being reconfigured; the events were not accepted.')
      }
    }
    const outcomes: EnqueueOutcome[] = new Array(items.length).fill('queued')
    const max = opts.anonymous === true ? anonymousMax(this.maxQueue) : this.maxQueue
    await Promise.all([...byTag].map(async ([tag, g]) => {
      const worker = this.workers.get(tag) as TagWorker
      const marks = opts.dedupMs !== undefined && g.keys.some(k => k !== undefined) ? { keys: g.keys, ttlMs: opts.dedupMs } : undefined
      const r = await worker.accept(g.records, { marks, max, anonymous: opts.anonymous }).catch((err: unknown) => {
        // Per request, so debug: the worker's watch loop warns once per outage.
        this.logger.debug({ err, tag, events: g.records.length }, 'enqueue failed: the queue could not store the events')
        throw err
      })
      if (r.shed) {
        for (const i of g.at) outcomes[i] = 'shed'
        this.shed(worker, g.records.length, opts.anonymous === true)
      }
      for (const i of r.repeats) outcomes[g.at[i]] = 'deduplicated'
    }))
    if (items.length > 0 && outcomes.every(o => o === 'shed')) throw errors.queueFull()
    return outcomes
  }

  async deadLetter (tag: string, event: TaglineEvent, reason: string): Promise<void> {
    // Never prepared, so its user data may be raw: the reason is scrubbed against it, then the
    // letter keeps the event without it.
    const { user_data: _raw, ...kept } = event
    const now = this.now()
    const item = { id: this.nextId(), tag, event, attempts: 0, enqueuedMs: now }
    const refused = await giveUp({ ...this.opts, logger: this.logger, deadLetters: this.deadLetters }, tag, { item, outcome: 'dead_lettered', reason }, now, kept)
    if (refused === undefined) return
    // Never queued, so nothing stores its letter later: it is given up on all the same, and counts now.
    this.logger.error({ err: refused.err, tag, event_id: event.event_id }, 'the dead letter could not be stored and is lost')
    this.opts.metrics.countOutcome(tag, 'dead_lettered')
  }

  async stats (): Promise<TagStats[]> {
    const workers = new Map(this.workers)
    return await queueStats([...workers.keys()].sort(), tag => (workers.get(tag) as TagWorker).queue, this.deadLetters, this.now())
  }

  async replay (opts: { tag: string, withinMs?: number, limit?: number, dryRun?: boolean }): Promise<ReplayResult> {
    const worker = this.workers.get(opts.tag)
    if (worker === undefined || worker.retiring) {
      throw errors.notFound(`No tag "${opts.tag}" delivers here; tags: ${[...this.workers].filter(([, w]) => !w.retiring).map(([name]) => name).sort().join(', ') || 'none'}.`)
    }
    const dryRun = opts.dryRun === true
    if (!dryRun && this.closing !== undefined) throw errors.notReady('Delivery is shutting down; nothing was replayed.')
    const now = this.now()
    return await replay({
      tag: opts.tag,
      // accept() pushes and wakes the worker: the replayed events go out at once.
      queue: { push: async items => await worker.accept([...items]) },
      deadLetters: this.deadLetters,
      sinceMs: opts.withinMs === undefined ? undefined : now - opts.withinMs,
      limit: opts.limit,
      dryRun,
      now,
      newId: () => this.nextId()
    })
  }

  /** Events the tag holds: waiting, in flight and scheduled for retry. */
  depth (tag: string): number {
    return this.workers.get(tag)?.size ?? 0
  }

  /**
   * Config reload: tags that keep their name keep their queue (new settings apply from the next
   * attempt); new tags start empty; removed or disabled tags stop taking events and finish what
   * they already accepted with their old settings, then disappear.
   */
  reload (tags: CompiledTag[]): void {
    if (this.closing !== undefined) return
    // A queue holds copies prepared for its tag's type (hashed its way, or not hashed at all for a
    // webhook) and routed by its consent rules: under another type they would go out as they are.
    const retyped = tags.flatMap((tag, i) => {
      const was = this.workers.get(tag.name)?.tag.type
      return tag.enabled && was !== undefined && was !== tag.type ? [{ path: `tags[${i}].type`, code: 'invalid_value' as const, message: `tag '${tag.name}' is a ${was} tag, and its queue and dead letters hold copies prepared for one; a tag keeps its type across reloads: give the ${tag.type} tag another name (the ${was} tag then finishes its queue and retires)` }] : []
    })
    if (retyped.length > 0) throw new ConfigError(undefined, retyped)
    const keep = new Set<string>()
    for (const tag of tags) {
      if (!tag.enabled) continue
      keep.add(tag.name)
      const worker = this.workers.get(tag.name)
      if (worker !== undefined) worker.update(tag)
      else this.addWorker(tag)
    }
    for (const [name, worker] of this.workers) {
      if (keep.has(name)) continue
      worker.retiring = true
      this.retireIfEmpty(worker)
    }
  }

  /**
   * Flush everything now, wait up to deadlineMs for in-flight work and retries falling due,
   * then abort the rest and spool it. Idempotent: later calls get the first call's result.
   */
  async close (deadlineMs: number): Promise<{ delivered: number, spooled: number }> {
    this.closing ??= this.shutdown(deadlineMs)
    return await this.closing
  }

  /** Load the spool of the previous run back into the queues, then delete the file. */
  async replaySpool (): Promise<number> {
    const file = this.opts.spoolFile
    if (file === undefined) return 0
    if (this.closing !== undefined) throw errors.notReady('Delivery is shutting down.')
    const contents = await readSpool(file)
    if (contents === undefined) return 0
    if (contents.bad > 0) this.logger.warn({ file, lines: contents.bad }, 'spool: skipped unreadable lines')
    const byTag = new Map<string, Array<QueuedEvent & { batchId?: string }>>()
    for (const entry of contents.entries) {
      const item = { ...entry, id: entry.id ?? this.nextId() }
      const list = byTag.get(entry.tag)
      if (list === undefined) byTag.set(entry.tag, [item])
      else list.push(item)
    }
    let count = 0
    for (const [tag, entries] of byTag) {
      const worker = this.workers.get(tag)
      if (worker === undefined || worker.retiring) {
        this.logger.error({ tag, events: entries.length }, 'spool: tag no longer configured; its spooled events are dropped')
        continue
      }
      // Already acknowledged to their senders, so they are taken even past maxQueue.
      if (worker.size + entries.length > this.maxQueue) {
        this.logger.warn({ tag, events: entries.length, maxQueue: this.maxQueue }, 'spool: replay takes the queue past maxQueue')
      }
      await worker.restore(entries)
      count += entries.length
    }
    await removeSpool(file)
    this.logger.info({ file, events: count }, 'spool replayed')
    return count
  }

  /**
   * A full tag loses new events rather than making the edge refuse them for every tag: counted per
   * tag, and logged at warn at most once a second per tag and kind (anonymous events shed at
   * anonymousMax, or any at maxQueue), so that a backend's lost orders get a line of their own.
   */
  private shed (worker: TagWorker, events: number, anonymous: boolean): void {
    const tag = worker.tag.name
    this.opts.metrics.countOutcome(tag, 'shed', events)
    const held = this.shedLogged.pass(`${tag}\u0000${anonymous ? 'anonymous' : 'all'}`, this.now(), events)
    if (held === undefined) return
    const fields = { tag, events: events + held, depth: worker.size, maxQueue: this.maxQueue }
    if (anonymous) this.logger.warn({ ...fields, anonymousMax: anonymousMax(this.maxQueue) }, 'queue nearly full: the tag sheds events sent without an API key (the last tenth of maxQueue is kept for backend events); its destination is not keeping up or is down')
    else this.logger.warn(fields, 'queue full: the tag sheds new events (maxQueue), whoever sent them; its destination is not keeping up or is down')
  }

  private nextId (): string {
    return `${this.idPrefix}-${(this.seq++).toString(36)}`
  }

  private addWorker (tag: CompiledTag): void {
    const worker: TagWorker = new TagWorker(tag, {
      queue: this.queues.queue(tag.name),
      metrics: this.opts.metrics,
      logger: this.logger.child({ tag: tag.name }),
      deadLetters: this.deadLetters,
      dispatcher: this.dispatcher,
      concurrency: this.opts.concurrency === undefined ? undefined : Math.max(1, this.opts.concurrency),
      pollMs: this.opts.pollMs ?? DELIVERY_DEFAULTS.pollMs,
      clock: this.clock,
      random: this.opts.random ?? Math.random,
      observer: this.opts.observer,
      onChange: () => {
        this.retireIfEmpty(worker)
        if (this.onIdle !== undefined && [...this.workers.values()].every(w => w.idle())) this.onIdle()
      },
      onDelivered: n => { this.delivered += n }
    })
    this.workers.set(tag.name, worker)
    worker.updateDepth()
  }

  private retireIfEmpty (worker: TagWorker): void {
    if (!worker.retiring || worker.size > 0 || this.workers.get(worker.tag.name) !== worker) return
    this.workers.delete(worker.tag.name)
    this.opts.metrics.queueDepth.remove({ tag: worker.tag.name })
    this.logger.info({ tag: worker.tag.name }, 'tag removed from delivery after draining its queue')
  }

  private async shutdown (deadlineMs: number): Promise<{ delivered: number, spooled: number }> {
    const deliveredBefore = this.delivered
    const workers = [...this.workers.values()]
    const deadline = this.now() + deadlineMs
    let timer: unknown
    await new Promise<void>(resolve => {
      this.onIdle = resolve
      timer = this.clock.setTimeout(resolve, deadlineMs)
      for (const w of workers) w.flush(deadline)
      if (workers.every(w => w.idle())) resolve()
    })
    this.clock.clearTimeout(timer)
    this.onIdle = undefined
    await Promise.all(workers.map(async w => await w.stop()))

    const leftovers: SpooledEvent[] = []
    for (const w of workers) {
      // What a shared queue holds stays there for the other replicas (and the next start); what
      // this process accepted while the store was away goes to the spool.
      if (w.queue.shared !== undefined) {
        for (const item of w.queue.shared.unsent?.() ?? []) leftovers.push(item)
        continue
      }
      // A loop, not push(...): hundreds of thousands of events would overflow the stack.
      for (const item of await w.queue.drain()) leftovers.push(item)
      w.updateDepth()
    }
    let spooled = 0
    if (leftovers.length > 0) spooled = await this.spool(leftovers)
    if (this.ownsDispatcher) await this.dispatcher.destroy().catch(() => {})
    await this.queues.close?.().catch(err => this.logger.error({ err }, 'delivery: closing the queues failed'))
    const delivered = this.delivered - deliveredBefore
    this.logger.info({ delivered, spooled }, 'delivery closed')
    return { delivered, spooled }
  }

  private async spool (leftovers: SpooledEvent[]): Promise<number> {
    const file = this.opts.spoolFile
    const byTag: Record<string, number> = {}
    for (const e of leftovers) byTag[e.tag] = (byTag[e.tag] ?? 0) + 1
    if (file === undefined) {
      this.logger.error({ events: leftovers.length, byTag }, `lost ${leftovers.length} undelivered events at shutdown: no spool file is configured`)
      return 0
    }
    try {
      await appendSpool(file, leftovers)
      this.logger.info({ file, events: leftovers.length, byTag }, 'undelivered events spooled for the next start')
      return leftovers.length
    } catch (err) {
      this.logger.error({ err, file, events: leftovers.length, byTag }, `lost ${leftovers.length} undelivered events at shutdown: the spool could not be written`)
      return 0
    }
  }
}
