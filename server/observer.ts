// Optional observers of what the pipeline and delivery decide, for traces (the debug view) and
// tests. Nothing is computed for an observer that is not attached: callers check first.
import type { RequestSnapshot } from '../clients/types.js'
import type { DeliveryOutcome, TagDecision } from '../common/outcome.js'
import type { TaglineEvent } from '../schemas/event.js'
import type { RequestDescription } from './delivery/redact.js'
import type { RequestResult } from './delivery/request-result.js'

/** One per incoming request. */
export interface RequestObserver {
  /** The client that claimed the request (`none` when none did), and the snapshot it read. */
  claimed? (client: string, snap: RequestSnapshot): void
  /** The events after enrichment, before dedup. */
  events? (events: readonly TaglineEvent[]): void
  /** One routing outcome per (event, tag), `deduplicated` included. */
  routed? (event: TaglineEvent, decision: TagDecision): void
}

/** One per Delivery: every send, and every final outcome of an (event, tag). */
export interface DeliveryObserver {
  /** Asked before a send is described for exchange(); absent means always. */
  wants? (events: readonly TaglineEvent[]): boolean
  exchange? (x: {
    tag: string
    batchId: string
    attempt: number
    /** The events the request carries (the tag's copies). */
    events: readonly TaglineEvent[]
    /** The request as it is logged: secrets and user data redacted. */
    request: RequestDescription
    /** The destination's status and body, or the network error; absent for dry runs. */
    answer?: { status: number, body: string } | { error: string }
    result: RequestResult
    durationMs?: number
  }): void
  outcome? (x: { tag: string, event: TaglineEvent, outcome: DeliveryOutcome, reason?: string }): void
}
