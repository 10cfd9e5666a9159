import type { Consent, TaglineEvent } from '../schemas/event.js'

/**
 * What the HTTP edge hands to clients: everything a client may look at, already decoded,
 * with no access to the live request. Clients are pure functions of this snapshot.
 */
export interface RequestSnapshot {
  method: string
  /** Route path without the query string, e.g. `/g/collect`. */
  path: string
  /** Raw query string without the leading `?` (parsed once, by the client that claims it). */
  query: string
  /** Raw body text ('' when there is none). */
  body: string
  /** Parsed JSON body when the body is JSON (already checked for `__proto__` keys). */
  json?: unknown
  /** Lower-cased media type without parameters, e.g. `application/json`. */
  contentType?: string
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>
  /** Visitor IP as the edge resolved it (trusted proxies only). */
  ip: string
  cookies: Record<string, string>
  /** True when the request carried a valid API key (a backend). */
  trusted: boolean
  requestId: string
  receivedMs: number
  /** Host the request was sent to (X-Forwarded-Host only from trusted proxies). */
  host?: string
  protocol?: 'http' | 'https'
  /** Marked for the live debug view (the edge decides; enrichment records it on each event). */
  debug?: boolean
}

/** An event as a client produces it: `source` and enrichment are added by the pipeline. */
export type ParsedEvent = Omit<TaglineEvent, 'source'>

export interface Client {
  readonly name: string
  /** Cheap test: is this request in my format? The first client that claims it parses it. */
  claims (snap: RequestSnapshot): boolean
  /** Parse into events; throws a TaglineError (4xx) when the request is broken. */
  parse (snap: RequestSnapshot): ParsedEvent[]
  /**
   * The visitor's consent as the request leaves it, where that is more than its events say (a
   * dataLayer's Consent Mode update after its last event): the cookies the answer sets and the
   * context the visitor leaves follow it. Called after parse() succeeded.
   */
  consentAfter? (snap: RequestSnapshot): Consent | undefined
}
