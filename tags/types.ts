// A tag is data plus two pure functions: `build` turns a batch of events into HTTP request
// descriptions, `classify` turns the destination's answer into ok / retry / drop / split. No I/O here:
// server/delivery does every send, retry and dead letter for every tag.
import type { TSchema, Static } from '@sinclair/typebox'
import type { TaglineEvent, ConsentType } from '../schemas/event.js'

export interface OutgoingRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH'
  url: string
  headers: Record<string, string>
  body?: string
  /** Indices (into the batch given to build) of the events this request carries. */
  events: number[]
}

export interface BuildContext {
  /** Clock for this attempt (ms). */
  now: number
  /** Stable across retries of the same batch: the idempotency key of the batch. */
  batchId: string
  /** 1 for the first attempt. */
  attempt: number
}

export interface Rejection {
  index: number
  reason: string
}

export interface BuildResult {
  requests: OutgoingRequest[]
  /** Events that can never be sent as they are: dead-lettered with the reason, never cut silently. */
  rejected?: Rejection[]
}

export interface TagResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export type Classification =
  | { kind: 'ok' }
  | { kind: 'retry', reason: string, retryAfterMs?: number }
  | { kind: 'drop', reason: string }
  /**
   * The destination refused our credentials (a token, its permissions, the account or pixel id):
   * no event is at fault, and every request will fail the same way until the config is fixed.
   * Delivery pauses the tag and keeps its events, spending none of their attempts.
   */
  | { kind: 'credentials', reason: string }
  /**
   * The destination refused the whole request because of some event in it (Meta and TikTok
   * reject a batch for one bad event). Delivery resends the events in halves until the bad one
   * is alone, then dead-letters it with this reason; the others are delivered. For a request
   * carrying one event, split means drop.
   */
  | { kind: 'split', reason: string }

/** A user-data field of the event model (`user_data.*`, `user_data.address.*`). */
export type UserDataField = 'email_address' | 'phone_number' | 'external_id' | 'gender' | 'date_of_birth' |
  'first_name' | 'last_name' | 'street' | 'city' | 'region' | 'postal_code' | 'country'

/**
 * Why a field given in the event is not sent: `no_country`, a national phone number with no
 * country to read it in (set `defaultCountry`); `invalid`, a value the destination's rules cannot
 * make anything of (a malformed e-mail, an impossible number, an unreadable date).
 */
export type DropReason = 'no_country' | 'invalid'

/**
 * Where a value longer than the destination keeps was cut to its limit: the page fields, or one
 * of the event's parameters, items' values or user properties.
 */
export type CutField = 'page_location' | 'page_referrer' | 'page_title' | 'params' | 'items' | 'user_properties'

/** What prepare may tell its caller; prepare stays pure, the caller counts. */
export interface PrepareContext {
  dropped? (field: UserDataField, reason: DropReason): void
  cut? (field: CutField): void
  /** How an ambiguous date of birth is read (identity.dateOrder; month first when unset). */
  dateOrder?: 'mdy' | 'dmy'
}

interface TagDefaults {
  batch: { maxEvents: number, maxWaitMs: number }
  /** Consent types that must not be `denied` for this tag to fire. */
  consent: ConsentType[]
}

export interface TagDefinition<S extends TSchema = TSchema> {
  readonly type: string
  /** Advertising destinations are what a Global Privacy Control signal opts out of. */
  readonly category?: 'ads' | 'analytics' | 'other'
  /** Type-specific settings (merged with the common tag settings in the config schema). */
  readonly settings: S
  /** Setting keys holding secrets: redacted in logs, `try` output and the debug view. */
  readonly secrets: readonly string[]
  readonly defaults: TagDefaults
  /**
   * Optional, pure: the tag's own copy of an event, made when it is queued. Tags hash user data
   * here (each destination normalises differently), so the queue, the spool and the dead-letter
   * list only ever hold what that destination may receive. User data it leaves out is told to
   * `ctx.dropped` (the pipeline counts it in `tagline_user_data_dropped_total`), values it cuts to
   * `ctx.cut` (`tagline_values_cut_total`).
   */
  prepare? (event: TaglineEvent, settings: Static<S>, ctx?: PrepareContext): TaglineEvent
  /**
   * Optional: which raw GA4 protocol values (`x-ga-*`, `x-sst-*`) build reads: all of them, or
   * these keys. The tag's queued copy leaves the others out: they are half of a gtag hit's
   * bytes, and every byte of every copy is serialised and stored in Redis mode.
   */
  protocolFields? (settings: Static<S>): 'all' | readonly string[]
  /**
   * Optional, pure: whether this destination has anything to send for the event at all (an ad
   * platform with no standard name for it). Answer true, or a short reason: the event is then
   * not routed to the tag (the outcome `declined`), rather than dead-lettered later.
   */
  accepts? (event: TaglineEvent, settings: Static<S>): true | string
  build (events: TaglineEvent[], settings: Static<S>, ctx: BuildContext): BuildResult
  classify (res: TagResponse, req: OutgoingRequest): Classification
}

/**
 * A worked example of a tag: events in (as queued, before prepare), the build result out. Each
 * tag's `<type>.examples.ts` lists them; its test runs them and docs/destinations.md shows them.
 */
export interface TagExample<S> {
  name: string
  settings: S & { endpoint?: string }
  events: TaglineEvent[]
  expected: BuildResult
}

/** Identity helper that keeps the settings type attached to a definition. */
export function defineTag<S extends TSchema> (def: TagDefinition<S>): TagDefinition<S> {
  return def
}
