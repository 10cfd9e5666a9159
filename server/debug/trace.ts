// What the live debug view shows: trace entries, each one thing the gateway decided or did, in the
// one outcome vocabulary (common/outcome.ts). The view joins them by event_id. Built only while
// someone watches (or for traffic marked for debugging), and never with a secret or raw user data.
import type { DeliveryOutcome, RoutingOutcome } from '../../common/outcome.js'
import type { RequestDescription } from '../delivery/redact.js'

/** One incoming request: who claimed it, what it carried (redacted), its events and their routing. */
export interface TracedRequest {
  kind: 'request'
  /** Unique per traced request. */
  id: string
  /** When the gateway received it (ms since the epoch). */
  at: number
  /** The gateway process that took it (host:pid). */
  replica: string
  /** Marked for debugging: `?tagline_debug=1` on the page, the `X-Tagline-Debug` header or the debug cookie. */
  marked: boolean
  /** The client that claimed the request (`gtag`, `datalayer`, `mp`, `json`), or `none`. */
  client: string
  /** The request as received: cookies, authorization, secrets and user data redacted, the IP truncated. */
  request: { method: string, url: string, ip?: string, headers: Record<string, string>, body?: string }
  events: Array<{
    event_id: string
    event_name: string
    client_id?: string
    /** The event_id the sender gave (the browser pixel's); null when the gateway minted one. */
    browser_event_id: string | null
    /** The event as the pipeline saw it after enrichment, user data redacted. */
    event: Record<string, unknown>
  }>
  /** One per (event, tag): routed, blocked, declined, deduplicated, queued. */
  decisions: Array<{ event_id: string, tag: string, outcome: RoutingOutcome, detail?: string }>
  /** The HTTP status the sender got. */
  status?: number
  /** The error code of a refused request (`bad_request`, `rate_limited`…). */
  error?: string
}

/** One request a tag sent to its destination, and what came back. */
export interface TracedExchange {
  kind: 'exchange'
  at: number
  replica: string
  tag: string
  batchId: string
  attempt: number
  /** The events the request carried. */
  event_ids: string[]
  /** The request as logged: secrets and user data redacted. */
  request: RequestDescription
  /** The destination's status and body, or the network error; absent for dry runs and `log:` URLs. */
  answer?: { status: number, body: string } | { error: string }
  /** How the answer was classified (`credentials`: refused credentials, the tag pauses). */
  result: 'ok' | 'retry' | 'split' | 'drop' | 'credentials'
  reason?: string
  durationMs?: number
}

/** What became of one event at one tag in delivery. */
export interface TracedOutcome {
  kind: 'outcome'
  at: number
  replica: string
  tag: string
  event_id: string
  event_name: string
  outcome: DeliveryOutcome
  reason?: string
  /** The event_id in the tag's own copy: what Meta or TikTok got to match against the pixel's. */
  sent_event_id?: string
}

export type TraceEntry = TracedRequest | TracedExchange | TracedOutcome
