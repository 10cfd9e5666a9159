// PostHog capture API (`/batch/`, https://posthog.com/docs/api/capture). Product analytics: events flow without
// ad consent, but person properties ($set) go only with analytics consent, and no raw user data
// ever leaves for PostHog.
import { eventTimeMs } from './event-time.js'
import { createHash } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import type { TaglineEvent } from '../schemas/event.js'
import { defineTag, type OutgoingRequest, type Classification, type Rejection, type TagResponse } from './types.js'
import { classifyByStatus } from './http-status.js'
import { destinationEventName } from './event-names.js'

export const POSTHOG_US_HOST = 'https://us.i.posthog.com'
const POSTHOG_EU_HOST = 'https://eu.i.posthog.com'
/** PostHog wants events this old sent as a backfill, `historical_migration` (https://posthog.com/docs/migrate). */
const HISTORICAL_AGE_MS = 48 * 60 * 60 * 1000
/** A 429 may be a billing quota, which no quick retry clears: wait at least this long. */
export const QUOTA_BACKOFF_MS = 60_000

export const PosthogSettings = Type.Object({
  apiKey: Type.String({ minLength: 1, description: 'Project API key (phc_…), sent as api_key in each request body.' }),
  host: Type.Optional(Type.String({ pattern: '^https?://', default: POSTHOG_US_HOST, description: `Ingestion host: ${POSTHOG_US_HOST} (US Cloud), ${POSTHOG_EU_HOST} (EU Cloud) or a self-hosted / reverse-proxy URL. Requests go to <host>/batch/; a tag's endpoint replaces that whole URL.` })),
  personProperties: Type.Optional(Type.Boolean({ default: true, description: 'Send user_properties as $set (person properties), only for events whose consent.analytics_storage is not denied.' }))
}, { additionalProperties: false })

export type PosthogSettings = Static<typeof PosthogSettings>

// Keys this tag decides itself: a beacon's params must not slip person data past the consent
// check, nor an IP past the tag's `ip` setting.
const GUARDED_PARAMS = new Set(['$set', '$set_once', '$unset', '$ip', 'distinct_id'])
const CAMPAIGN_KEYS = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content', id: 'utm_id' } as const
// tagline's own UUID v5 namespace (random, fixed forever: changing it breaks dedup of replays).
const UUID_NAMESPACE = Buffer.from('b7241e4eba03429bafdb13c72e51f438', 'hex')

function hex (b: Buffer): string {
  const h = b.toString('hex', 0, 16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/**
 * RFC 4122 v5 UUID of (event name, event id). PostHog merges events with the same uuid, event,
 * timestamp and distinct_id, so retries and replays of one event collapse into one.
 */
export function posthogUuid (eventName: string, eventId: string): string {
  const h = createHash('sha1').update(UUID_NAMESPACE).update(`${eventName}\u0000${eventId}`).digest()
  h[6] = (h[6] & 0x0f) | 0x50
  h[8] = (h[8] & 0x3f) | 0x80
  return hex(h)
}

/**
 * PostHog sessions (web analytics, replay) need a UUID v7 $session_id whose time is the session
 * start. GA4's session id *is* the start time in seconds, so the v7 is derived from it and the
 * client: stable for the whole session. Anything else passes through as given.
 */
export function posthogSessionId (gaSessionId: string, clientKey: string): string {
  if (!/^\d{9,11}$/.test(gaSessionId)) return gaSessionId
  const h = createHash('sha256').update(`${clientKey}\u0000${gaSessionId}`).digest()
  h.writeUIntBE(Number(gaSessionId) * 1000, 0, 6)
  h[6] = (h[6] & 0x0f) | 0x70
  h[8] = (h[8] & 0x3f) | 0x80
  return hex(h)
}

function nonEmpty (s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s
}

function parseUrl (s: string | undefined): URL | undefined {
  if (s === undefined) return undefined
  try { return new URL(s) } catch { return undefined }
}

/** Person properties go only when allowed by the setting and by analytics consent. */
function personPropertiesAllowed (e: TaglineEvent, settings: PosthogSettings): boolean {
  return settings.personProperties !== false && e.consent?.analytics_storage !== 'denied'
}

function properties (e: TaglineEvent, settings: PosthogSettings, distinctId: string): Record<string, unknown> {
  const p: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e.params ?? {})) if (!GUARDED_PARAMS.has(k)) p[k] = v
  const set = (k: string, v: unknown): void => { if (v !== undefined) p[k] = v }
  set('$lib', 'tagline')
  // The common `ip: none | truncate` setting has already shaped ip_override. Without $ip PostHog would locate the gateway's data centre instead of the visitor.
  if (e.ip_override !== undefined) p.$ip = e.ip_override
  else p.$geoip_disable = true
  const url = parseUrl(e.page_location)
  set('$current_url', e.page_location)
  set('$host', url?.host ?? e.page_hostname)
  set('$pathname', url?.pathname ?? e.page_path)
  set('$referrer', e.page_referrer)
  set('title', e.page_title)
  set('$raw_user_agent', e.user_agent)
  set('$browser_language', e.language)
  const screen = /^(\d+)x(\d+)$/.exec(e.screen_resolution ?? '')
  if (screen !== null) { p.$screen_width = Number(screen[1]); p.$screen_height = Number(screen[2]) }
  if (e.ga_session_id !== undefined) {
    p.$session_id = posthogSessionId(e.ga_session_id, e.client_id ?? distinctId)
    p.ga_session_id = e.ga_session_id
  }
  set('currency', e.currency)
  set('value', e.value)
  set('transaction_id', e.transaction_id)
  set('tax', e.tax)
  set('shipping', e.shipping)
  set('coupon', e.coupon)
  set('items', e.items)
  for (const [k, utm] of Object.entries(CAMPAIGN_KEYS)) set(utm, e.campaign?.[k as keyof typeof CAMPAIGN_KEYS])
  for (const [k, v] of Object.entries(e.click_ids ?? {})) set(k, v)
  const person = e.user_properties
  if (person !== undefined && Object.keys(person).length > 0 && personPropertiesAllowed(e, settings)) p.$set = { ...person }
  return p
}

interface BatchItem { index: number, item: Record<string, unknown> }

function request (url: string, apiKey: string, historical: boolean, items: BatchItem[]): OutgoingRequest {
  const body = { api_key: apiKey, ...(historical ? { historical_migration: true } : {}), batch: items.map(i => i.item) }
  return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), events: items.map(i => i.index) }
}

function posthogUrl (settings: PosthogSettings & { endpoint?: string }): string {
  return settings.endpoint ?? `${(settings.host ?? POSTHOG_US_HOST).replace(/\/+$/, '')}/batch/`
}

function classifyPosthog (res: TagResponse): Classification {
  if (res.status === 429) {
    // PostHog answers 429 both for rate limits and for a project over its billing limit.
    const excerpt = res.body ? ': ' + res.body.slice(0, 500) : ''
    return { kind: 'retry', reason: `HTTP 429: rate limited, or the project's billing quota is reached (then retries only succeed once the quota resets or is raised)${excerpt}`, retryAfterMs: QUOTA_BACKOFF_MS }
  }
  return classifyByStatus(res)
}

export const posthog = defineTag({
  type: 'posthog',
  category: 'analytics',
  settings: PosthogSettings,
  secrets: ['apiKey'],
  // No consent types block the tag: person data is gated per event in build instead.
  defaults: { batch: { maxEvents: 100, maxWaitMs: 1000 }, consent: [] },
  prepare (event) {
    // PostHog gets no raw PII from us, so the queue and dead letters never hold it either.
    if (event.user_data === undefined) return event
    const { user_data: _userData, ...copy } = event
    return copy
  },
  build (events, settings, ctx) {
    const url = posthogUrl(settings)
    const recent: BatchItem[] = []
    const historical: BatchItem[] = []
    const rejected: Rejection[] = []
    events.forEach((e, index) => {
      const distinctId = nonEmpty(e.user_id) ?? nonEmpty(e.client_id)
      if (distinctId === undefined) {
        // PostHog would answer 200 and silently drop it; dead-letter it visibly instead.
        rejected.push({ index, reason: 'no user_id or client_id: PostHog needs a distinct_id' })
        return
      }
      const ms = eventTimeMs(e, { asDate: true })
      // page_view → $pageview; every other name is kept (PostHog events are all custom).
      const event = destinationEventName('posthog', e.event_name) ?? e.event_name
      const item: Record<string, unknown> = { event, distinct_id: distinctId }
      if (ms !== undefined) item.timestamp = new Date(ms).toISOString()
      // Without an event id the event's own content is its identity (it is never mutated once queued).
      item.uuid = posthogUuid(e.event_name, e.event_id ?? `content:${JSON.stringify(e)}`)
      item.properties = properties(e, settings, distinctId)
      // Old events go in their own request so recent ones stay real-time.
      const old = ms !== undefined && ctx.now - ms >= HISTORICAL_AGE_MS
      ;(old ? historical : recent).push({ index, item })
    })
    const requests: OutgoingRequest[] = []
    if (recent.length > 0) requests.push(request(url, settings.apiKey, false, recent))
    if (historical.length > 0) requests.push(request(url, settings.apiKey, true, historical))
    return rejected.length > 0 ? { requests, rejected } : { requests }
  },
  classify: res => classifyPosthog(res)
})
