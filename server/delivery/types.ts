// The shapes delivery shares with the pipeline, the spool file and its observers.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryObserver } from '../observer.js'
import type { QueueFactory } from './factory.js'
import type { TaglineEvent } from '../../schemas/event.js'

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
  /** Batches in flight per tag. Default 4. */
  concurrency?: number
  /** JSONL file for what is left at shutdown. Without one, leftovers are logged as lost. */
  spoolFile?: string
  now?: () => number
  random?: () => number
  /** Default: one shared keep-alive Agent, owned (and closed) by Delivery. */
  dispatcher?: Dispatcher
}

/**
 * One event on its way to one tag, as its queue holds it. Records are never changed in place:
 * each attempt makes a new record (attempts + 1), which the queue stores when it schedules a retry.
 */
export interface QueuedEvent {
  /** Unique within the tag's queue: what settle() and schedule() name. */
  id: string
  tag: string
  event: TaglineEvent
  /** Attempts already made (0 until the first send). */
  attempts: number
  firstAttemptMs?: number
  enqueuedMs: number
  /** Why the last attempt failed, kept so a dead letter after replay still says why. */
  lastReason?: string
}

/**
 * A line of the shutdown spool. `batchId` is set on events that were mid-retry, so the batch keeps
 * its idempotency id; `id` is absent in spools written before ids existed.
 */
export type SpooledEvent = Omit<QueuedEvent, 'id'> & { id?: string, batchId?: string }

export interface DeadLetter {
  tag: string
  event: TaglineEvent
  reason: string
  attempts: number
  status?: number
  /** The vendor's answer, capped at 2 KB. */
  response?: string
  atMs: number
}

/** Events leaving a queue together; `id` stays the same across every retry of the batch. */
export interface Batch {
  id: string
  items: QueuedEvent[]
}
