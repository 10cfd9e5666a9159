// One tag's delivery loop: batching timers, concurrency, and carrying out each attempt's plan.
// Every tag has its own worker, so a slow or dead destination only ever fills its own queue and
// holds its own connections.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryObserver } from '../observer.js'
import type { DeadLetterStore } from './dead-letters.js'
import { queued, type PushOptions, type PushResult, type TagQueue } from './queue.js'
import type { Batch, QueuedEvent } from './types.js'
import { attempt, settledIds, type Plan } from './attempt.js'
import { giveUp } from './letter.js'
import { newBatchId } from './batch-id.js'
import { redactText, secretValues } from './redact.js'
import { resolveRetryPolicy, type ResolvedRetryPolicy } from './retry.js'
import { SendError } from './send.js'
import type { Clock } from './clock.js'
import { Breaker, type Verdict } from './breaker.js'

/**
 * How long an event whose dead letter the store refused waits before its letter is tried again:
 * 30 s after the first refusal, doubling with each one after, up to 10 minutes (a store that is
 * down for hours is then asked six times an hour per batch, not 120).
 */
const LETTER_RETRY_MS = 30_000
const LETTER_RETRY_MAX_MS = 600_000

function letterRetryMs (refusals: number): number {
  return Math.min(LETTER_RETRY_MAX_MS, LETTER_RETRY_MS * 2 ** Math.max(0, refusals - 1))
}

export interface WorkerDeps {
  queue: TagQueue
  metrics: Metrics
  logger: Logger
  deadLetters: DeadLetterStore
  dispatcher: Dispatcher
  /** Overrides every tag's own `concurrency` (tests, the benchmark). */
  concurrency?: number
  clock: Clock
  random: () => number
  observer?: DeliveryObserver
  /** Shared queues: the longest wait before looking again for retries and claims. */
  pollMs: number
  /** Called whenever work settles or the queue changes shape (drain and retire checks). */
  onChange: () => void
  onDelivered: (count: number) => void
}

// flushing: the embedded shutdown, partial batches go now. quiescing: the shared shutdown, nothing
// new is taken (another replica will), what is in flight finishes.
type Mode = 'running' | 'flushing' | 'quiescing' | 'stopped'

export class TagWorker {
  tag: CompiledTag
  retiring = false
  private policy: ResolvedRetryPolicy
  private secrets: string[]
  private mode: Mode = 'running'
  private flushDeadline = Infinity
  private timer?: unknown
  private timerDue = Infinity
  private pumpQueued = false
  private pumping = false
  private pumpAgain = false
  private readonly active = new Set<Promise<void>>()
  private readonly controllers = new Set<AbortController>()

  private watching?: Promise<void>
  private readonly breaker: Breaker
  /** Bumped by every update(): an attempt built with older settings does not speak for the new ones. */
  private generation = 0

  constructor (tag: CompiledTag, private readonly d: WorkerDeps) {
    this.tag = tag
    this.policy = resolveRetryPolicy(tag.retry)
    this.secrets = secretValues(tag.settings, tag.def.secrets)
    this.breaker = new Breaker(tag.breaker)
    if (d.queue.shared !== undefined) this.watching = this.watch()
  }

  get queue (): TagQueue { return this.d.queue }

  /** Events the tag holds: waiting, in flight and scheduled for retry. */
  get size (): number { return queued(this.d.queue.counts()) }

  /** Config reload: new settings apply from the next attempt on; the queue stays. */
  update (tag: CompiledTag): void {
    this.tag = tag
    this.policy = resolveRetryPolicy(tag.retry)
    this.secrets = secretValues(tag.settings, tag.def.secrets)
    this.retiring = false
    this.breaker.policy = tag.breaker
    this.generation++
    // New settings may carry the fixed credentials: try again now rather than at the next probe.
    if (this.breaker.reason === 'credentials') {
      this.breaker.close()
      this.transition('closed', 'config changed')
    }
    this.schedulePump()
  }

  async accept (items: QueuedEvent[], opts?: PushOptions): Promise<PushResult> {
    const result = await this.d.queue.push(items, opts)
    if (!result.shed && result.repeats.length < items.length) this.schedulePump()
    return result
  }

  /** Spool replay: events that were mid-retry keep their batch (and so their idempotency id). */
  async restore (entries: Array<QueuedEvent & { batchId?: string }>): Promise<void> {
    const now = this.d.clock.now()
    const batches = new Map<string, QueuedEvent[]>()
    const fresh: QueuedEvent[] = []
    for (const { batchId, ...item } of entries) {
      if (batchId === undefined) fresh.push(item)
      else if (batches.has(batchId)) batches.get(batchId)?.push(item)
      else batches.set(batchId, [item])
    }
    const max = this.tag.batch.maxEvents
    for (const [id, items] of batches) {
      for (let i = 0; i < items.length; i += max) {
        // A batch larger than today's maxEvents is split; only the first part keeps the old id.
        await this.d.queue.schedule({ id: i === 0 ? id : newBatchId(now), items: items.slice(i, i + max) }, now)
      }
    }
    // Already acknowledged to their senders: taken past maxQueue, and not checked for repeats.
    await this.d.queue.push(fresh)
    this.schedulePump()
  }

  /**
   * Shutdown, phase 1. Embedded: send partial batches now; retries due after the deadline are
   * left for the spool. Shared: take nothing more (what waits is another replica's to take) and
   * let what is in flight finish.
   */
  flush (deadlineMs: number): void {
    if (this.mode !== 'running') return
    this.mode = this.d.queue.shared !== undefined ? 'quiescing' : 'flushing'
    this.flushDeadline = deadlineMs
    this.schedulePump()
  }

  /** True when nothing more can happen before the flush deadline. */
  idle (): boolean {
    if (this.mode === 'quiescing') return this.active.size === 0 && !this.pumping
    const c = this.d.queue.counts()
    return this.active.size === 0 && !this.pumping && !this.pumpQueued && c.waiting === 0 && (c.nextDueMs ?? Infinity) > this.flushDeadline
  }

  /** Shutdown, phase 2: start nothing, abort what is in flight, wait for it to settle. */
  async stop (): Promise<void> {
    this.mode = 'stopped'
    this.clearTimer()
    for (const c of this.controllers) c.abort(new SendError('ABORTED_AT_SHUTDOWN', 'aborted at shutdown'))
    await Promise.allSettled([...this.active])
    const shared = this.d.queue.shared
    if (shared !== undefined) {
      await shared.close().catch(err => this.d.logger.warn({ err }, 'delivery queue: could not release its consumer'))
      await this.watching
    }
    this.updateDepth()
  }

  /**
   * Shared queues only: other replicas add work this process is not told of. A blocking wait on
   * the stream wakes the pump when an event is added; between events it times out every pollMs
   * to see retries falling due and what dead replicas left. Idle, that is one cheap command per
   * tag per pollMs, never a busy loop.
   */
  private async watch (): Promise<void> {
    const shared = this.d.queue.shared as NonNullable<TagQueue['shared']>
    let failures = 0
    while (this.mode === 'running') {
      try {
        await shared.refresh()
        failures = 0
        this.schedulePump()
        if (this.mode !== 'running') break
        await shared.wait(this.d.pollMs)
      } catch (err) {
        if (this.mode !== 'running') break
        // Logged once per outage, not once per attempt; the edge's 503s say the rest.
        if (failures++ === 0) this.d.logger.warn({ err }, 'delivery queue unreachable; trying again every second')
        await new Promise<void>(resolve => this.d.clock.setTimeout(resolve, 1000))
      }
    }
  }

  updateDepth (): void {
    this.d.metrics.queueDepth.set({ tag: this.tag.name }, this.size)
  }

  private schedulePump (): void {
    if (this.pumpQueued || this.mode === 'stopped') return
    this.pumpQueued = true
    // Deferred so that events enqueued in one synchronous burst share a batch.
    queueMicrotask(() => {
      this.pumpQueued = false
      void this.pump()
    })
  }

  /** One pump at a time: the queue is asynchronous, and two pumps would take the same retry twice. */
  private async pump (): Promise<void> {
    if (this.pumping) { this.pumpAgain = true; return }
    this.pumping = true
    try {
      do {
        this.pumpAgain = false
        await this.fill()
      } while (this.pumpAgain && this.mode !== 'stopped')
    } catch (err) {
      this.d.logger.error({ err }, 'delivery queue failed; trying again shortly')
      this.arm(this.d.clock.now() + 1000)
    } finally {
      this.pumping = false
      this.d.onChange()
    }
  }

  private async fill (): Promise<void> {
    if (this.mode === 'stopped' || this.mode === 'quiescing') return
    const q = this.d.queue
    const { maxEvents, maxWaitMs } = this.tag.batch
    const now = this.d.clock.now()
    while (this.active.size < this.breaker.limit(this.concurrency) && (this.mode as Mode) !== 'stopped' && (this.mode as Mode) !== 'quiescing') {
      // Paused: nothing starts before the probe, then one batch.
      if (!this.breaker.allows(now, this.active.size)) break
      // Retries first: they hold the oldest events. (The counts say whether one is due, which
      // spares the busy path a round trip per pump.)
      const c = q.counts()
      if (c.nextDueMs !== undefined && c.nextDueMs <= now) {
        const due = await q.takeDue(now)
        if (due !== undefined) {
          this.start(due)
          continue
        }
      }
      if ((c.claimable ?? 0) > 0) {
        // A dead replica's batches: overdue by claimIdleMs already.
        const items = await q.take(maxEvents)
        if (items.length > 0) {
          this.start({ id: newBatchId(now), items })
          continue
        }
      }
      if (c.oldestWaitingMs === undefined) break
      if (c.waiting >= maxEvents || this.mode === 'flushing' || now - c.oldestWaitingMs >= maxWaitMs) {
        const items = await q.take(maxEvents)
        if (items.length === 0) break
        this.start({ id: newBatchId(now), items })
        continue
      }
      break
    }
    this.updateDepth()
    this.armTimer(now)
  }

  private armTimer (now: number): void {
    const c = this.d.queue.counts()
    let next = c.nextDueMs ?? Infinity
    if (c.oldestWaitingMs !== undefined) next = Math.min(next, c.oldestWaitingMs + this.tag.batch.maxWaitMs)
    // Paused: the probe is the next thing that can happen (when there is anything to send).
    if (this.breaker.state === 'open' && next !== Infinity) next = Math.max(next, this.breaker.untilMs)
    // At full concurrency the next completion pumps; a timer would only spin.
    if (this.active.size >= this.breaker.limit(this.concurrency)) next = Infinity
    if (next !== this.timerDue) this.arm(next, now)
  }

  private arm (due: number, now = this.d.clock.now()): void {
    this.clearTimer()
    if (due === Infinity || this.mode === 'stopped') return
    this.timerDue = due
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = undefined
      this.timerDue = Infinity
      void this.pump()
    }, Math.max(0, due - now))
  }

  private clearTimer (): void {
    if (this.timer !== undefined) this.d.clock.clearTimeout(this.timer)
    this.timer = undefined
    this.timerDue = Infinity
  }

  private start (batch: Batch): void {
    const p: Promise<void> = this.run(batch)
      .catch(err => this.d.logger.error({ err, batchId: batch.id }, 'delivery attempt failed unexpectedly'))
      .finally(() => {
        this.active.delete(p)
        this.schedulePump()
        this.d.onChange()
      })
    this.active.add(p)
  }

  private async run (batch: Batch): Promise<void> {
    const generation = this.generation
    const plan = await attempt(batch, {
      tag: this.tag,
      secrets: this.secrets,
      policy: this.policy,
      controllers: this.controllers,
      dispatcher: this.d.dispatcher,
      logger: this.d.logger,
      metrics: this.d.metrics,
      now: () => this.d.clock.now(),
      random: this.d.random,
      observer: this.d.observer
    })
    await this.carryOut(plan, generation)
  }

  /**
   * The plan's effects, each before what depends on it, so that nothing is lost if a later step
   * fails: dead letters are stored before their events leave the queue (a crash in between
   * stores a letter twice, never none), then the queue, then the rest.
   */
  private async carryOut (plan: Plan, generation: number): Promise<void> {
    const q = this.d.queue
    const now = this.d.clock.now()
    // An event whose letter the store refused stays queued as that letter (attempt() stores it
    // without sending), tried again after letterRetryMs(its refusals).
    const refused = await Promise.all(plan.letters.map(async l => await giveUp(this.d, this.tag.name, l, now)))
    const unstored: QueuedEvent[] = []
    refused.forEach((r, i) => {
      const { item } = plan.letters[i]
      if (r !== undefined) unstored.push({ ...item, letter: { ...r.letter, refusals: (item.letter?.refusals ?? 0) + 1 } })
    })
    let retryInMs: number | undefined
    if (unstored.length > 0) {
      retryInMs = letterRetryMs(Math.min(...unstored.map(i => i.letter?.refusals ?? 1)))
      // One line per batch, not per event: a store that is down refuses them all.
      const err = refused.find(r => r !== undefined)?.err
      this.d.logger.error({ err, events: unstored.length, event_ids: unstored.slice(0, 10).map(i => i.event.event_id), retryInMs }, 'dead letters could not be stored: their events stay queued')
    }
    const kept = new Set(unstored.map(i => i.id))
    await q.settle(settledIds(plan).filter(id => !kept.has(id)))
    for (const item of plan.sent) this.delivered(item, now)
    if (retryInMs !== undefined) await q.schedule({ id: newBatchId(now), items: unstored }, now + retryInMs)
    if (plan.retry !== undefined) {
      const { batch, dueMs, reason, aborted } = plan.retry
      await q.schedule(batch, dueMs)
      if (!aborted) {
        this.count('retried', batch.items, reason)
        this.d.logger.debug({ batchId: batch.id, events: batch.items.length, reason, inMs: dueMs - now }, 'retry scheduled')
      }
    }
    if (plan.held !== undefined) {
      // Kept as they came, due now: the breaker, not the retry schedule, decides when they go.
      await q.schedule(plan.held.batch, now)
    }
    for (const half of plan.halves) await q.schedule(half, now)
    if (plan.halves.length > 0) {
      const items = plan.halves.flatMap(h => h.items)
      this.count('split', items)
      this.d.logger.debug({ events: items.length, requests: plan.halves.length }, 'request refused whole: resending in halves')
    }
    if (plan.sent.length > 0) this.d.onDelivered(plan.sent.length)
    // A refusal of the credentials a reload has since replaced says nothing of the new ones.
    const v = verdict(plan)
    const change = v === 'credentials' && generation !== this.generation ? undefined : this.breaker.record(v, now)
    // The reason quotes the destination, which may quote the request back: no token, no user data.
    const why = plan.held?.reason ?? plan.retry?.reason
    const items = plan.held?.batch.items ?? plan.retry?.batch.items ?? []
    this.transition(change, why === undefined || change === undefined ? why : redactText(why, this.secrets, items.map(i => i.event)))
  }

  /** Logs and gauges a breaker change: an open breaker is an operator's business. */
  private transition (change: 'opened' | 'closed' | undefined, why?: string): void {
    if (change === undefined) return
    const name = this.tag.name
    const g = this.d.metrics.tagPaused
    g.set({ tag: name, reason: 'credentials' }, this.breaker.reason === 'credentials' ? 1 : 0)
    g.set({ tag: name, reason: 'failing' }, this.breaker.reason === 'failing' ? 1 : 0)
    if (change === 'closed') {
      this.d.logger.info({ why }, 'tag resumed')
      return
    }
    const probeInMs = Math.max(0, this.breaker.untilMs - this.d.clock.now())
    if (this.breaker.reason === 'credentials') {
      this.d.logger.error({ reason: why, probeInMs }, 'the destination refused the credentials: tag paused, its events kept (no attempt spent); fix the token or permissions and reload the config')
    } else {
      this.d.logger.warn({ reason: why, probeInMs }, 'attempts keep failing: tag paused, then probed with one batch')
    }
  }

  private get concurrency (): number {
    return this.d.concurrency ?? this.tag.concurrency
  }

  private count (outcome: 'retried' | 'split', items: QueuedEvent[], reason?: string): void {
    this.d.metrics.countOutcome(this.tag.name, outcome, items.length)
    const o = this.d.observer?.outcome
    if (o !== undefined) for (const item of items) o({ tag: this.tag.name, event: item.event, outcome, reason })
  }

  private delivered (item: QueuedEvent, now: number): void {
    const { name } = this.tag
    this.d.metrics.countOutcome(name, 'sent')
    const received = item.event.source?.received_ms
    if (typeof received === 'number') this.d.metrics.deliveryLatency.observe({ tag: name }, Math.max(0, now - received) / 1000)
    this.d.observer?.outcome?.({ tag: name, event: item.event, outcome: 'sent' })
  }

}

/** What an attempt says about the destination, for the breaker. */
export function verdict (plan: Plan): Verdict {
  if (plan.held !== undefined) return 'credentials'
  // Sent, refused or split: the destination answered, so it is up. A letter stored again from
  // QueuedEvent.letter went nowhere: it says nothing of the destination (nor may it close a pause).
  if (plan.sent.length > 0 || plan.halves.length > 0 || plan.letters.some(l => l.outcome === 'dropped' && l.item.letter === undefined)) return 'answered'
  if (plan.retry !== undefined && !plan.retry.aborted) return 'failed'
  return 'none'
}
