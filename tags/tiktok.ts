// TikTok Events API 2.0 (web): POST /open_api/v1.3/event/track/ with up to 1,000 events
// (https://business-api.tiktok.com/portal/docs?id=1771101027431425). TikTok answers HTTP 200 to
// most errors, so classify reads the body's `code`, not the status.
import { eventTimeMs, isoTime } from './event-time.js'
import { Type, type Static } from '@sinclair/typebox'
import type { TaglineEvent, UserData } from '../schemas/event.js'
import { contentsOf, currencyOf, isMissingCurrency, valueOf } from './commerce.js'
import { destinationEventName } from './event-names.js'
import { classifyByStatus, isSuccessStatus, isTransientStatus } from './http-status.js'
import { isSha256Hex, withHashedUserData } from './pii.js'
import { defineTag, type OutgoingRequest, type Classification, type Rejection, type TagResponse } from './types.js'

export const TiktokSettings = Type.Object({
  pixelCode: Type.String({ minLength: 1, description: 'The pixel code (Events Manager → the web data source): sent as event_source_id.' }),
  accessToken: Type.String({ minLength: 1, description: 'Events API access token generated in Events Manager for this pixel (pixel → Settings → Generate Access Token).' }),
  testEventCode: Type.Optional(Type.String({ description: 'Code from Events Manager → Test Events: events then show up there only. Empty = none; remove in production.' })),
  eventNames: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'GA4 event name → TikTok event name, over the defaults (purchase → Purchase, view_item → ViewContent, …). Must equal what the site\'s ttq.track sends, or pixel dedup fails. "" skips the event. page_view is off by default; map it to Pageview to send it.' })),
  customEvents: Type.Optional(Type.Boolean({ default: false, description: 'Send events with no TikTok mapping under their own name. When false such events are not routed to this tag (counted as declined).' })),
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country (ISO 3166-1 alpha-2) a phone number written without + or 00 is read in when the address gives none: 07700 900123 with GB is +447700900123. Overrides identity.defaultCountry. With neither, such a number is not sent (tagline_user_data_dropped_total, reason no_country).' }))
}, { additionalProperties: false })

export type TiktokSettings = Static<typeof TiktokSettings>
type Settings = TiktokSettings & { endpoint?: string }

export const TIKTOK_URL = 'https://business-api.tiktok.com/open_api/v1.3/event/track/'
export const TIKTOK_MAX_EVENTS = 1000
/** TikTok documents no web window; 7 days (as Meta) keeps late events out of closed attribution. */
const TIKTOK_MAX_AGE_MS = 7 * 24 * 3600_000
// Names under which TikTok counts an order: a value there without a currency is refused, never
// sent as USD (which would silently misreport every other currency).
const PURCHASE_NAMES = new Set(['Purchase', 'CompletePayment', 'PlaceAnOrder'])

type Obj = Record<string, unknown>
const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
const hash = (v: unknown): string | undefined => typeof v === 'string' && isSha256Hex(v) ? v.trim().toLowerCase() : undefined

/** BCP 47 as TikTok shows it (`en-US`); browsers and gtag often send `en-us`. */
function locale (s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  const m = /^([a-z]{2,3})(?:[-_]([a-z]{2}|\d{3}))?$/i.exec(s.trim())
  if (m === null) return s
  return m[2] === undefined ? m[1].toLowerCase() : `${m[1].toLowerCase()}-${m[2].toUpperCase()}`
}

/** Only digests leave (and the address parts TikTok takes in clear), whatever the event holds. */
function user (e: TaglineEvent): Obj {
  const u: Obj = {}
  const set = (k: string, v: unknown): void => { if (v !== undefined) u[k] = v }
  const ud: UserData = e.user_data ?? {}
  const a = ud.address ?? {}
  set('email', hash(ud.sha256_email_address))
  set('phone', hash(ud.sha256_phone_number))
  set('external_id', hash(ud.sha256_external_id))
  set('first_name', hash(a.sha256_first_name))
  set('last_name', hash(a.sha256_last_name))
  set('zip_code', hash(a.sha256_postal_code))
  // TikTok matches city/state/country in clear (normalised by prepare); a hash of them is useless.
  set('city', text(a.city))
  set('state', text(a.region))
  set('country', text(a.country))
  set('ttp', text(e.browser_ids?.ttp))
  set('ttclid', text(e.click_ids?.ttclid))
  set('ip', text(e.ip_override))
  set('user_agent', text(e.user_agent))
  set('locale', locale(text(e.language)))
  return u
}

function properties (e: TaglineEvent): Obj {
  const p: Obj = {}
  const currency = currencyOf(e)
  const value = valueOf(e)
  // A value means nothing without its currency, and one bad field fails TikTok's whole batch.
  if (value !== undefined && currency !== undefined) p.value = value
  if (currency !== undefined) p.currency = currency
  const contents = contentsOf(e).map(c => {
    const o: Obj = { content_id: c.id }
    if (c.quantity !== undefined) o.quantity = c.quantity
    if (c.item_price !== undefined) o.price = c.item_price
    if (c.title !== undefined) o.content_name = c.title
    if (c.category !== undefined) o.content_category = c.category
    if (c.brand !== undefined) o.brand = c.brand
    return o
  })
  if (contents.length > 0) { p.contents = contents; p.content_type = 'product' }
  const order = text(e.transaction_id)
  if (order !== undefined) p.order_id = order
  const query = text(e.params?.search_term)
  if (query !== undefined) p.query = query // GA4 search / view_search_results
  return p
}

function tooOld (ms: number, now: number): string {
  const iso = isoTime(ms)
  const when = iso === undefined ? '' : ` (${iso})`
  return `TikTok events are sent at most 7 days late; this one is ${((now - ms) / 86_400_000).toFixed(1)} days old${when}`
}

/** Why the event has no TikTok name, or undefined when it has one. */
function unmapped (e: TaglineEvent, s: Settings): string | undefined {
  if (destinationEventName('tiktok', e.event_name, s.eventNames, s.customEvents ?? false) !== undefined) return undefined
  return s.eventNames !== undefined && Object.hasOwn(s.eventNames, e.event_name)
    ? `eventNames maps ${e.event_name} to "" (skipped)`
    : `no TikTok event for ${e.event_name}`
}

/** One event as TikTok wants it, or why it can never be sent. */
function toTiktok (e: TaglineEvent, s: Settings, now: number): Obj | string {
  const name = destinationEventName('tiktok', e.event_name, s.eventNames, s.customEvents ?? false)
  if (name === undefined) return unmapped(e, s) as string
  let ms = eventTimeMs(e) ?? now
  if (now - ms > TIKTOK_MAX_AGE_MS) return tooOld(ms, now)
  ms = Math.min(ms, now) // browser clocks run ahead; TikTok has no use for a future event
  if ((e.event_name === 'purchase' || PURCHASE_NAMES.has(name)) && isMissingCurrency(e)) {
    return `${e.event_name} has a value but no currency; TikTok needs an ISO 4217 currency and tagline never assumes one`
  }
  const out: Obj = { event: name, event_time: Math.floor(ms / 1000) }
  // Verbatim: TikTok dedups the server copy against the pixel's on (pixel, event, event_id).
  if (text(e.event_id) !== undefined) out.event_id = e.event_id
  const u = user(e)
  if (Object.keys(u).length > 0) out.user = u
  const page: Obj = {}
  if (text(e.page_location) !== undefined) page.url = e.page_location
  if (text(e.page_referrer) !== undefined) page.referrer = e.page_referrer
  if (Object.keys(page).length > 0) out.page = page
  const p = properties(e)
  if (Object.keys(p).length > 0) out.properties = p
  return out
}

// ---- classify ----

interface TiktokAnswer { code: number, message?: unknown, request_id?: unknown }

function answer (body: string): TiktokAnswer | undefined {
  try {
    const a = JSON.parse(body) as Partial<TiktokAnswer> | null
    return a !== null && typeof a === 'object' && typeof a.code === 'number' ? a as TiktokAnswer : undefined
  } catch { return undefined }
}

// Throttling, system errors and internal RPC / pixel-service errors clear up by themselves.
const isTransient = (c: number): boolean => c === 40100 || c === 40132 || c === 50000 || c === 50002 || (c >= 51000 && c <= 51999)
const TOKEN_CODES = new Set([40102, 40104, 40105])
const PERMISSION_CODES = new Set([40001, 40003])

function classifyTiktok (res: TagResponse, req: OutgoingRequest): Classification {
  const a = answer(res.body)
  const excerpt = res.body === '' ? '' : `: ${res.body.slice(0, 300)}`
  if (isTransientStatus(res.status)) return { kind: 'retry', reason: `HTTP ${res.status}${excerpt}` }
  if (a === undefined) {
    // A 2xx that is not TikTok's JSON comes from a proxy or a maintenance page: try again later.
    if (isSuccessStatus(res.status)) return { kind: 'retry', reason: `HTTP ${res.status}, not a TikTok answer${excerpt}` }
    return classifyByStatus(res)
  }
  const c = a.code
  if (c === 0 || c === 20001) return { kind: 'ok' } // 20001: partial success, the request counts as sent
  const id = typeof a.request_id === 'string' ? ` (request_id ${a.request_id})` : ''
  const msg = typeof a.message === 'string' && a.message !== '' ? `: ${a.message.slice(0, 300)}` : ''
  const reason = `TikTok code ${c}${msg}${id}`
  if (isTransient(c)) return { kind: 'retry', reason }
  if (TOKEN_CODES.has(c)) return { kind: 'credentials', reason: `${reason}; the accessToken is missing, expired or invalid: generate a new one in Events Manager (it goes raw in the Access-Token header, no "Bearer")` }
  if (PERMISSION_CODES.has(c)) return { kind: 'credentials', reason: `${reason}; the token has no permission for this pixel: check pixelCode and the token's scope` }
  // Data errors refuse the whole batch for one event (40061: batch size): halve until it is alone.
  if (c >= 40000 && c <= 40099) return req.events.length > 1 ? { kind: 'split', reason } : { kind: 'drop', reason }
  return { kind: 'retry', reason: `${reason} (unknown code)` }
}

export const tiktok = defineTag({
  type: 'tiktok',
  category: 'ads',
  settings: TiktokSettings,
  secrets: ['accessToken'],
  defaults: { batch: { maxEvents: TIKTOK_MAX_EVENTS, maxWaitMs: 1000 }, consent: ['ad_storage', 'ad_user_data'] },
  // Unmapped events (page_view by default) are not routed here; build still refuses a stray one.
  accepts: (event, settings) => unmapped(event, settings) ?? true,
  prepare (event, settings, ctx) {
    // The user id is TikTok's external_id: it must equal what the pixel passes to ttq.identify.
    return withHashedUserData(event, 'tiktok', { defaultCountry: settings.defaultCountry, dateOrder: ctx?.dateOrder, userIdAsExternalId: true, onDrop: ctx?.dropped })
  },
  build (events, settings: Settings, ctx) {
    const rejected: Rejection[] = []
    const ready: Array<{ index: number, json: string }> = []
    events.forEach((e, index) => {
      const t = toTiktok(e, settings, ctx.now)
      if (typeof t === 'string') rejected.push({ index, reason: t })
      else ready.push({ index, json: JSON.stringify(t) })
    })
    const head: Obj = { event_source: 'web', event_source_id: settings.pixelCode }
    if (text(settings.testEventCode) !== undefined) head.test_event_code = settings.testEventCode
    const h = JSON.stringify(head)
    // Access-Token carries the raw token: a "Bearer " prefix makes TikTok answer 40105.
    const headers = { 'Access-Token': settings.accessToken, 'content-type': 'application/json' }
    const requests: OutgoingRequest[] = []
    for (let i = 0; i < ready.length; i += TIKTOK_MAX_EVENTS) {
      const chunk = ready.slice(i, i + TIKTOK_MAX_EVENTS)
      const body = `${h.slice(0, -1)},"data":[${chunk.map(c => c.json).join(',')}]}`
      requests.push({ method: 'POST', url: settings.endpoint ?? TIKTOK_URL, headers: { ...headers }, body, events: chunk.map(c => c.index) })
    }
    return rejected.length > 0 ? { requests, rejected } : { requests }
  },
  classify: classifyTiktok
})
