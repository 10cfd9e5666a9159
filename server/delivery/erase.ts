// Erasure in the queues (server/forget.ts asks, for `tagline forget`): one person's events
// removed from every tag's queue, waiting or scheduled for a retry. An event in flight (a request
// to the destination is open now) is left alone and counted: if that send fails, the event comes
// back as a retry or a dead letter, and a second erasure a little later finds it there.
import type { TaglineEvent } from '../../schemas/event.js'

/** Whether an event (a tag's prepared copy) is the person's. */
export type EventMatch = (event: TaglineEvent) => boolean

/** What erasing one tag's queue did. */
export interface QueueErasure {
  tag: string
  /** The person's events removed (waiting, or scheduled for a retry). */
  removed: number
  /** The person's events in flight to the destination now, left as they are. */
  inFlight: number
}

export interface QueueEraser {
  /** Every queue the eraser can reach; a tag with nothing of the person's is not listed. */
  erase: (match: EventMatch) => Promise<QueueErasure[]>
}
