// The shapes delivery shares with the pipeline, the spool file and the debug view.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { Metrics } from '../metrics.js'
import type { TaglineEvent } from '../../schemas/event.js'

export interface DeliveryOptions {
  tags: CompiledTag[]
  metrics: Metrics
  logger: Logger
  /** Per tag: events waiting + in flight + scheduled for retry. Default 10000. */
  maxQueue?: number
  /** Per tag, oldest evicted first. Default 1000. */
  deadLetterMax?: number
  /** Batches in flight per tag. Default 4. */
  concurrency?: number
  /** JSONL file for what is left at shutdown. Without one, leftovers are logged as lost. */
  spoolFile?: string
  now?: () => number
  random?: () => number
  /** Default: one shared keep-alive Agent, owned (and closed) by Delivery. */
  dispatcher?: Dispatcher
}

/** One event on its way to one tag. This is also the line format of the spool file. */
export interface QueuedEvent {
  tag: string
  event: TaglineEvent
  /** Attempts already made (0 until the first send). */
  attempts: number
  firstAttemptMs?: number
  enqueuedMs: number
  /** Set on events that were mid-retry when spooled, so the batch keeps its idempotency id. */
  batchId?: string
  /** Why the last attempt failed, kept so a dead letter after replay still says why. */
  lastReason?: string
}

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
