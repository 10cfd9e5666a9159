// One tag's delivery loop: batching timers, concurrency, one attempt per batch, and what each
// outcome means. Every tag has its own worker, so a slow or dead destination only ever fills
// its own queue and holds its own connections.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { Metrics } from '../metrics.js'
import type { DeadLetters } from './dead-letter.js'
import type { TagQueue } from './queue.js'
import type { Batch, QueuedEvent } from './types.js'
import { newBatchId } from './batch-id.js'
import { exchange } from './exchange.js'
import { scrubMessage, secretValues } from './redact.js'
import { giveUpReason, isExpired, nextAttempt, resolveRetryPolicy, type ResolvedRetryPolicy } from './retry.js'
import { SendError } from './send.js'
import { worst, type Verdict } from './verdict.js'

export interface WorkerDeps {
  queue: TagQueue
  metrics: Metrics
  logger: Logger
  deadLetters: DeadLetters
  dispatcher: Dispatcher
  concurrency: number
  now: () => number
  random: () => number
  /** Called whenever work settles or the queue changes shape (drain and retire checks). */
  onChange: () => void
  onDelivered: (count: number) => void
}

type Mode = 'running' | 'flushing' | 'stopped'

export class TagWorker {
  tag: CompiledTag
  retiring = false
  private policy: ResolvedRetryPolicy
  private secrets: string[]
  private mode: Mode = 'running'
  private flushDeadline = Infinity
  private timer?: NodeJS.Timeout
  private timerDue = Infinity
  private pumpQueued = false
  private readonly active = new Set<Promise<void>>()
  private readonly controllers = new Set<AbortController>()

  constructor (tag: CompiledTag, private readonly d: WorkerDeps) {
    this.tag = tag
    this.policy = resolveRetryPolicy(tag.retry)
    this.secrets = secretValues(tag.settings, tag.def.secrets)
  }

  get queue (): TagQueue { return this.d.queue }

  /** Config reload: new settings apply from the next attempt on; the queue stays. */
  update (tag: CompiledTag): void {
    this.tag = tag
    this.policy = resolveRetryPolicy(tag.retry)
    this.secrets = secretValues(tag.settings, tag.def.secrets)
    this.retiring = false
    this.schedulePump()
  }

  accept (items: QueuedEvent[]): void {
    this.d.queue.push(items)
    this.schedulePump()
  }

  /** Spool replay: events that were mid-retry keep their batch (and so their idempotency id). */
  restore (entries: QueuedEvent[]): void {
    const now = this.d.now()
    const batches = new Map<string, QueuedEvent[]>()
    const fresh: QueuedEvent[] = []
    for (const { batchId, ...item } of entries) {
      if (batchId === undefined) fresh.push(item)
      else if (batches.has(batchId)) batches.get(batchId)?.push(item)
      else batches.set(batchId, [item])
    }
    for (const [id, items] of batches) {
      for (let i = 0; i < items.length; i += this.tag.batch.maxEvents) {
        // A batch larger than today's maxEvents is split; only the first part keeps the old id.
        this.d.queue.addRetry({ id: i === 0 ? id : newBatchId(now), items: items.slice(i, i + this.tag.batch.maxEvents) }, now)
      }
    }
    this.d.queue.push(fresh)
    this.schedulePump()
  }

  /** Shutdown, phase 1: send partial batches now; retries due after the deadline are left. */
  flush (deadlineMs: number): void {
    if (this.mode !== 'running') return
    this.mode = 'flushing'
    this.flushDeadline = deadlineMs
    this.schedulePump()
  }

  /** True when nothing more can happen before the flush deadline. */
  idle (): boolean {
    const q = this.d.queue
    return this.active.size === 0 && q.waiting === 0 && (q.nextDueMs() ?? Infinity) > this.flushDeadline
  }

  /** Shutdown, phase 2: start nothing, abort what is in flight, wait for it to settle. */
  async stop (): Promise<void> {
    this.mode = 'stopped'
    this.clearTimer()
    for (const c of this.controllers) c.abort(new SendError('ABORTED_AT_SHUTDOWN', 'aborted at shutdown'))
    await Promise.allSettled([...this.active])
    this.updateDepth()
  }

  updateDepth (): void {
    this.d.metrics.queueDepth.set({ tag: this.tag.name }, this.d.queue.size)
  }

  private schedulePump (): void {
    if (this.pumpQueued || this.mode === 'stopped') return
    this.pumpQueued = true
    // Deferred so that events enqueued in one synchronous burst share a batch.
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  private pump (): void {
    if (this.mode === 'stopped') return
    const q = this.d.queue
    const { maxEvents, maxWaitMs } = this.tag.batch
    const now = this.d.now()
    while (this.active.size < this.d.concurrency) {
      // Retries first: they hold the oldest events.
      const due = q.takeDue(now)
      if (due !== undefined) {
        this.start(due)
        continue
      }
      const oldest = q.oldestWaitingMs()
      if (oldest === undefined) break
      if (q.waiting >= maxEvents || this.mode === 'flushing' || now - oldest >= maxWaitMs) {
        this.start({ id: newBatchId(now), items: q.take(maxEvents) })
        continue
      }
      break
    }
    this.updateDepth()
    this.armTimer(now)
    this.d.onChange()
  }

  private armTimer (now: number): void {
    const q = this.d.queue
    let next = q.nextDueMs() ?? Infinity
    const oldest = q.oldestWaitingMs()
    if (oldest !== undefined) next = Math.min(next, oldest + this.tag.batch.maxWaitMs)
    // At full concurrency the next completion pumps; a timer would only spin.
    if (this.active.size >= this.d.concurrency) next = Infinity
    if (next === this.timerDue) return
    this.clearTimer()
    if (next === Infinity) return
    this.timerDue = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerDue = Infinity
      this.pump()
    }, Math.max(0, next - now))
  }

  private clearTimer (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerDue = Infinity
  }

  private start (batch: Batch): void {
    const p: Promise<void> = this.attempt(batch)
      .catch(err => this.d.logger.error({ err, batchId: batch.id }, 'delivery attempt failed unexpectedly'))
      .finally(() => {
        this.active.delete(p)
        this.schedulePump()
        this.d.onChange()
      })
    this.active.add(p)
  }

  private async attempt (batch: Batch): Promise<void> {
    const { tag } = this
    const now = this.d.now()
    // Replayed or long-delayed events can be past the retry window before this attempt.
    const items: QueuedEvent[] = []
    for (const item of batch.items) {
      if (isExpired(this.policy, item.firstAttemptMs, now)) {
        this.deadLetter(item, 'dead_lettered', { reason: giveUpReason(item.attempts, item.lastReason ?? 'retry window passed') })
      } else items.push(item)
    }
    if (items.length === 0) return
    let attempt = 0
    for (const item of items) {
      item.attempts++
      item.firstAttemptMs ??= now
      attempt = Math.max(attempt, item.attempts)
    }

    let built
    try {
      built = tag.def.build(items.map(i => i.event), tag.settings, { now, batchId: batch.id, attempt })
    } catch (err) {
      // A build bug must not loop through retries; dead-letter so a fix plus replay recovers it.
      const reason = `build failed: ${err instanceof Error ? err.message : String(err)}`
      for (const item of items) this.deadLetter(item, 'dead_lettered', { reason })
      return
    }

    const verdicts: Array<Verdict | undefined> = new Array(items.length)
    const splits: number[][] = []
    const rejected = new Set<number>()
    for (const r of built.rejected ?? []) {
      if (items[r.index] === undefined || rejected.has(r.index)) continue
      rejected.add(r.index)
      this.deadLetter(items[r.index], 'dead_lettered', { reason: r.reason })
    }
    await Promise.all(built.requests.map(async req => {
      const verdict = await exchange(req, {
        tag,
        secrets: this.secrets,
        policy: this.policy,
        controllers: this.controllers,
        dispatcher: this.d.dispatcher,
        logger: this.d.logger,
        metrics: this.d.metrics,
        now: this.d.now
      })
      const carried = req.events.filter(i => items[i] !== undefined && !rejected.has(i))
      for (const i of carried) verdicts[i] = worst(verdicts[i], verdict)
      if (verdict.kind === 'split') splits.push(carried)
    }))

    const retry: QueuedEvent[] = []
    let floorMs = 0
    let aborted = false
    let reason = ''
    let evidence: { status?: number, response?: string } = {}
    items.forEach((item, i) => {
      if (rejected.has(i)) return
      const v = verdicts[i]
      // A tag must carry or reject every event; one it forgot is a tag bug, kept visible.
      if (v === undefined) this.deadLetter(item, 'dead_lettered', { reason: 'build produced no request for this event' })
      else if (v.kind === 'ok') this.delivered(item)
      else if (v.kind === 'drop') this.deadLetter(item, 'dropped', v)
      else if (v.kind === 'split') return // below
      else {
        retry.push(item)
        item.lastReason = v.reason
        floorMs = Math.max(floorMs, v.floorMs ?? 0)
        aborted ||= v.aborted === true
        reason = v.reason
        evidence = { status: v.status, response: v.response }
      }
    })
    if (retry.length > 0) this.retry({ id: batch.id, items: retry }, { floorMs, aborted, reason, evidence })
    this.split(items, verdicts, splits, now)
  }

  /**
   * A request refused whole because of some event in it goes out again in halves, at once,
   * until the bad event travels alone and is dead-lettered with the destination's reason.
   * Halving ends after log2(n) rounds; those rounds are not failures of the innocent events,
   * so they do not use up their retry budget.
   */
  private split (items: QueuedEvent[], verdicts: Array<Verdict | undefined>, groups: number[][], now: number): void {
    const done = new Set<number>()
    for (const group of groups) {
      const g = group.filter(i => verdicts[i]?.kind === 'split' && !done.has(i))
      for (const i of g) done.add(i)
      if (g.length === 0) continue
      if (g.length === 1) {
        this.deadLetter(items[g[0]], 'dropped', verdicts[g[0]] as Extract<Verdict, { kind: 'split' }>)
        continue
      }
      const mid = Math.ceil(g.length / 2)
      for (const half of [g.slice(0, mid), g.slice(mid)]) {
        for (const i of half) items[i].attempts--
        this.d.queue.schedule({ id: newBatchId(now), items: half.map(i => items[i]) }, now)
      }
      this.d.logger.debug({ events: g.length, reason: (verdicts[g[0]] as { reason: string }).reason }, 'request refused whole: resending in halves')
    }
  }

  private retry (batch: Batch, r: { floorMs: number, aborted: boolean, reason: string, evidence: { status?: number, response?: string } }): void {
    const now = this.d.now()
    if (r.aborted) {
      // Cut off by shutdown: the outcome is unknown, so it goes to the spool, not the retry count.
      this.d.queue.schedule(batch, now)
      return
    }
    const jitter = this.d.random() // one draw per batch: its events travel together
    const keep: QueuedEvent[] = []
    let dueMs = now
    for (const item of batch.items) {
      const next = nextAttempt(this.policy, {
        attempts: item.attempts, firstAttemptMs: item.firstAttemptMs ?? now, now, floorMs: r.floorMs, random: () => jitter
      })
      if (next.retry) {
        keep.push(item)
        dueMs = Math.max(dueMs, next.dueMs)
      } else {
        this.deadLetter(item, 'dead_lettered', { reason: giveUpReason(item.attempts, r.reason), ...r.evidence }, next.why)
      }
    }
    if (keep.length === 0) return
    this.d.metrics.tagEvents.inc({ tag: this.tag.name, outcome: 'retried' }, keep.length)
    this.d.logger.debug({ batchId: batch.id, events: keep.length, reason: r.reason, inMs: dueMs - now }, 'retry scheduled')
    this.d.queue.schedule({ id: batch.id, items: keep }, dueMs)
  }

  private delivered (item: QueuedEvent): void {
    const { name } = this.tag
    this.d.queue.settle(1)
    this.d.metrics.tagEvents.inc({ tag: name, outcome: 'sent' })
    const received = item.event.source?.received_ms
    if (typeof received === 'number') this.d.metrics.deliveryLatency.observe({ tag: name }, Math.max(0, this.d.now() - received) / 1000)
    this.d.onDelivered(1)
  }

  private deadLetter (
    item: QueuedEvent,
    outcome: 'dropped' | 'dead_lettered',
    v: { reason: string, status?: number, response?: string },
    why?: string
  ): void {
    const { name } = this.tag
    this.d.queue.settle(1)
    this.d.metrics.tagEvents.inc({ tag: name, outcome })
    const reason = scrubMessage(v.reason, item.event)
    const response = v.response === undefined ? undefined : scrubMessage(v.response, item.event)
    const letter = { tag: name, event: item.event, reason, attempts: item.attempts, atMs: this.d.now(), status: v.status, response }
    if (letter.status === undefined) delete letter.status
    if (letter.response === undefined) delete letter.response
    this.d.deadLetters.add(letter)
    this.d.logger.warn({
      outcome, why, event_name: item.event.event_name, event_id: item.event.event_id, attempts: item.attempts, status: v.status, reason
    }, outcome === 'dropped' ? 'event dropped by the destination' : 'event dead-lettered')
  }
}
