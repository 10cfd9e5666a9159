// The data delivery keeps: queued events, spool lines, batches and dead letters.
import type { TaglineEvent } from '../../schemas/event.js'
import type { DeliveryOutcome } from '../../common/outcome.js'

/**
 * One event on its way to one tag, as its queue holds it. Records are never changed in place:
 * each attempt makes a new record (attempts + 1), which the queue stores when it schedules a retry.
 */
export interface QueuedEvent {
  /** Unique within the tag's queue: what settle() and schedule() name. */
  id: string
  tag: string
  /**
   * The type of tag the copy was prepared for (hashed its way, or not at all for a webhook). A
   * tag's name may come back as another type after a restart; such a copy is never sent there.
   * Absent in records written before it existed.
   */
  type?: string
  event: TaglineEvent
  /** Attempts already made (0 until the first send). */
  attempts: number
  firstAttemptMs?: number
  enqueuedMs: number
  /** Why the last attempt failed, kept so a dead letter after replay still says why. */
  lastReason?: string
  /**
   * The dead letter this event is waiting to become: its letter could not be stored (a store
   * error), so it stayed queued and its next attempt stores the letter without sending it.
   */
  letter?: UnstoredLetter
}

/** A letter's own fields, as `QueuedEvent.letter` keeps them. */
export interface UnstoredLetter {
  outcome: DeadLetter['outcome']
  reason: string
  status?: number
  response?: string
  /** Why retrying stopped: max_attempts or max_age. */
  why?: string
  /** How often the store has refused it so far: each refusal doubles the wait before the next try. */
  refusals?: number
}

/**
 * A line of the shutdown spool. `batchId` is set on events that were mid-retry, so the batch keeps
 * its idempotency id; `id` is absent in spools written before ids existed.
 */
export type SpooledEvent = Omit<QueuedEvent, 'id'> & { id?: string, batchId?: string }

export interface DeadLetter {
  tag: string
  /** The type of tag its event was prepared for (QueuedEvent.type): a replay keeps it. */
  type?: string
  event: TaglineEvent
  /** Who stopped it: the destination (`dropped`) or the gateway (`dead_lettered`). */
  outcome: Extract<DeliveryOutcome, 'dropped' | 'dead_lettered'>
  reason: string
  attempts: number
  status?: number
  /** The vendor's answer, capped at 2 KB. */
  response?: string
  atMs: number
}

/** A dead letter as a store lists it: `id` is unique within the store and tag, what remove() names. */
export type StoredLetter = DeadLetter & { id: string }

/** Events leaving a queue together; `id` stays the same across every retry of the batch. */
export interface Batch {
  id: string
  items: QueuedEvent[]
}
