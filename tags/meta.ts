// Meta Conversions API (https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api).
// One POST per ≤ 1,000 events to the pixel's /events edge. Meta refuses a whole request for one
// bad event (and for one event_time past its window), so every event is checked here first and
// the doubtful ones are dead-lettered, never sent.
//
// Events with no Meta name (not in the default map or `eventNames`, customEvents off, or mapped
// to '') are not routed to this tag: accepts() gives the reason and the event is counted as
// `declined`, never dead-lettered. build still refuses one that reaches it another way.
import { eventTimeMs, isoTime } from './event-time.js'
import { Type, type Static } from '@sinclair/typebox'
import type { TaglineEvent, UserData } from '../schemas/event.js'
import { defineTag, type OutgoingRequest, type Classification, type Rejection, type TagResponse } from './types.js'
import { classifyByStatus, isServerErrorStatus } from './http-status.js'
import { isContactName, isSha256Hex, withHashedUserData } from './pii.js'
import { destinationEventName } from './event-names.js'
import { contentsOf, currencyOf, numItems, valueOf } from './commerce.js'

/**
 * The Graph API version requests go to unless a tag sets `apiVersion`. Meta keeps each version
 * available for at least two years for the Conversions API; move to a newer one from
 * https://developers.facebook.com/docs/graph-api/changelog
 */
export const META_API_VERSION = 'v25.0'

const ACTION_SOURCES = ['website', 'email', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'business_messaging', 'other'] as const
type ActionSource = typeof ACTION_SOURCES[number]

export const MetaSettings = Type.Object({
  pixelId: Type.String({ pattern: '^[0-9]+$', description: 'The pixel (dataset) ID, digits only.' }),
  accessToken: Type.String({ minLength: 1, description: 'Conversions API access token (Events Manager → the pixel → Settings). Sent in the request body, never in the URL.' }),
  apiVersion: Type.Optional(Type.String({ pattern: '^v\\d+\\.\\d+$', default: META_API_VERSION, description: 'Graph API version (vNN.N) to pin instead of the default. Meta\'s versions and their end dates: https://developers.facebook.com/docs/graph-api/changelog' })),
  testEventCode: Type.Optional(Type.String({ description: 'Events Manager → Test Events code (TEST…). Test events are still processed: leave empty in production.' })),
  actionSource: Type.Optional(Type.Union(ACTION_SOURCES.map(s => Type.Literal(s)), { default: 'website', description: 'Where the conversions happen. website events need a user agent and a page URL. An event may carry its own in params.action_source.' })),
  eventNames: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'GA4 event name → Meta event name, over the defaults (purchase → Purchase …). Must equal what the pixel sends, or dedup fails. \'\' skips an event.' })),
  customEvents: Type.Optional(Type.Boolean({ default: false, description: 'Send events with no Meta standard name under their own name. When false such events are not routed to this tag (counted as declined).' })),
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country (ISO 3166-1 alpha-2) a phone number written without + or 00 is read in when the address gives none: 07700 900123 with GB is +447700900123. Overrides identity.defaultCountry. With neither, such a number is not sent (tagline_user_data_dropped_total, reason no_country).' })),
  limitedDataUse: Type.Optional(Type.Boolean({ default: false, description: 'Flag every event for Limited Data Use (US state privacy laws); Meta geolocates the visitor to apply it.' })),
  partnerAgent: Type.Optional(Type.String({ minLength: 1, description: 'partner_agent sent with each request (identifies the sending platform).' }))
}, { additionalProperties: false })

export type MetaSettings = Static<typeof MetaSettings>
type Settings = MetaSettings & { endpoint?: string }
type Obj = Record<string, unknown>

export const MAX_EVENTS = 1000
const DAY_MS = 86_400_000
// "If any event_time in data is greater than 7 days in the past, we return an error for the entire
// request" (62 days for physical_store). A minute of margin covers the trip and clock skew.
const maxAgeMs = (source: ActionSource): number => (source === 'physical_store' ? 62 : 7) * DAY_MS - 60_000
const STANDARD = new Set(['AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'CompleteRegistration', 'Contact', 'CustomizeProduct', 'Donate',
  'FindLocation', 'InitiateCheckout', 'Lead', 'PageView', 'Purchase', 'Schedule', 'Search', 'StartTrial', 'SubmitApplication', 'Subscribe', 'ViewContent'])
// custom_data keys Meta documents that only params can supply (value, contents, order_id … come from the event model).
const DOCUMENTED = ['content_name', 'content_category', 'content_type', 'predicted_ltv', 'status', 'delivery_category', 'net_revenue', 'item_number', 'search_string']
// GA4 housekeeping and keys this tag sets itself: never custom_data, even for custom events.
const NOT_CUSTOM = new Set(['debug_mode', 'engagement_time_msec', 'action_source', 'search_term', 'value', 'currency', 'contents', 'content_ids', 'num_items', 'order_id'])
const USER_KEYS: Array<[string, (u: UserData) => unknown]> = [
  ['em', u => u.sha256_email_address], ['ph', u => u.sha256_phone_number], ['fn', u => u.address?.sha256_first_name],
  ['ln', u => u.address?.sha256_last_name], ['ge', u => u.sha256_gender], ['db', u => u.sha256_date_of_birth],
  ['ct', u => u.address?.sha256_city], ['st', u => u.address?.sha256_region], ['zp', u => u.address?.sha256_postal_code],
  ['country', u => u.address?.sha256_country], ['external_id', u => u.sha256_external_id]
]

const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
const scalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))

/**
 * Meta's user_data hashes: the event's user data plus its user_id as external_id, normalised and
 * hashed the Meta way. Idempotent (hashes pass through), so build can run it again safely.
 */
function metaUserData (e: TaglineEvent, settings: Settings): UserData | undefined {
  return withHashedUserData(e, 'meta', { defaultCountry: settings.defaultCountry, userIdAsExternalId: true }).user_data
}

function userData (e: TaglineEvent, settings: Settings): Obj {
  const hashed = metaUserData(e, settings) ?? {}
  const out: Obj = {}
  for (const [key, get] of USER_KEYS) {
    const h = get(hashed)
    if (typeof h === 'string' && isSha256Hex(h)) out[key] = [h.trim().toLowerCase()]
  }
  // Never hashed: Meta matches on them as the browser sent them.
  if (text(e.ip_override) !== undefined) out.client_ip_address = e.ip_override
  if (text(e.user_agent) !== undefined) out.client_user_agent = e.user_agent
  if (text(e.browser_ids?.fbc) !== undefined) out.fbc = e.browser_ids?.fbc
  if (text(e.browser_ids?.fbp) !== undefined) out.fbp = e.browser_ids?.fbp
  return out
}

function customData (e: TaglineEvent, name: string): Obj | string {
  const p: Obj = e.params ?? {}
  const cd: Obj = {}
  // Ad platforms get documented keys only; a custom event's own params are what custom
  // conversions filter on, so those go too (scalars, minus GA4 housekeeping).
  // Contact details by name (`email`) go to Meta only hashed, in user_data: never as custom_data.
  if (!STANDARD.has(name)) for (const [k, v] of Object.entries(p)) if (scalar(v) && !k.startsWith('_') && !NOT_CUSTOM.has(k) && !isContactName(k)) cd[k] = v
  for (const k of DOCUMENTED) if (scalar(p[k])) cd[k] = p[k]
  if (cd.search_string === undefined && scalar(p.search_term)) cd.search_string = String(p.search_term)
  const value = valueOf(e)
  const currency = currencyOf(e)
  if (name === 'Purchase') {
    // Meta requires both; assuming USD would silently mis-report every other currency.
    if (value === undefined) return 'Meta requires a value for Purchase; the event has no value and no priced items'
    if (currency === undefined) return 'Meta requires a currency for Purchase; the event has none (no currency is assumed)'
  }
  // A value without its currency means nothing: both or neither.
  if (value !== undefined && currency !== undefined) { cd.value = value; cd.currency = currency }
  const contents = contentsOf(e)
  if (contents.length > 0) {
    cd.content_ids = contents.map(c => c.id)
    cd.contents = contents.map(c => ({ id: c.id, ...(c.quantity !== undefined ? { quantity: c.quantity } : {}), ...(c.item_price !== undefined ? { item_price: c.item_price } : {}) }))
    cd.content_type ??= 'product'
    if (contents.length === 1) {
      if (contents[0].title !== undefined) cd.content_name ??= contents[0].title
      if (contents[0].category !== undefined) cd.content_category ??= contents[0].category
    }
  }
  if (name === 'InitiateCheckout') {
    const n = numItems(e)
    if (n !== undefined) cd.num_items = n
  }
  if (text(e.transaction_id) !== undefined) cd.order_id = e.transaction_id
  return cd
}

/** Why the event has no Meta name, or undefined when it has one. */
function unmapped (e: TaglineEvent, settings: Settings): string | undefined {
  if (destinationEventName('meta', e.event_name, settings.eventNames, settings.customEvents ?? false) !== undefined) return undefined
  return settings.eventNames?.[e.event_name] === ''
    ? `no Meta event for '${e.event_name}': eventNames maps it to '' (skip)`
    : `no Meta event for '${e.event_name}': map it in eventNames or set customEvents: true`
}

/** One server event, or why Meta would refuse it (and with it the whole request). */
function serverEvent (e: TaglineEvent, settings: Settings, now: number): Obj | string {
  const name = destinationEventName('meta', e.event_name, settings.eventNames, settings.customEvents ?? false)
  if (name === undefined) return unmapped(e, settings) as string
  const own = e.params?.action_source
  const source: ActionSource = (ACTION_SOURCES as readonly unknown[]).includes(own) ? own as ActionSource : settings.actionSource ?? 'website'
  const ms = eventTimeMs(e) ?? now
  if (now - ms > maxAgeMs(source)) {
    const iso = isoTime(ms) // a Date cannot hold an absurd time; the message must not throw
    return `Meta accepts event_time at most ${source === 'physical_store' ? 62 : 7} days old (one older event fails the whole request); this one is ${((now - ms) / DAY_MS).toFixed(1)} days old${iso === undefined ? '' : ` (${iso})`}`
  }
  const ud = userData(e, settings)
  if (source === 'website') {
    if (ud.client_user_agent === undefined) return 'Meta requires client_user_agent for website events; the event has no user_agent (send it, stitch it, or set actionSource)'
    if (text(e.page_location) === undefined) return 'Meta requires event_source_url for website events; the event has no page_location (send it, stitch it, or set actionSource)'
  }
  if (Object.keys(ud).length === 0) return 'Meta needs at least one customer information parameter; the event has no user data, IP, user agent or fbp/fbc'
  const cd = customData(e, name)
  if (typeof cd === 'string') return cd
  // Seconds; a browser clock ahead of ours must not put the event in the future.
  const ev: Obj = { event_name: name, event_time: Math.floor(Math.min(ms, now) / 1000) }
  // Verbatim: (event_name, event_id) is the dedup key shared with the pixel's eventID.
  if (text(e.event_id) !== undefined) ev.event_id = e.event_id
  ev.action_source = source
  if (text(e.page_location) !== undefined) ev.event_source_url = e.page_location
  if (text(e.page_referrer) !== undefined) ev.referrer_url = e.page_referrer
  // No consent to personalised ads: Meta may use the event for attribution only.
  if (e.consent?.ad_personalization === 'denied') ev.opt_out = true
  ev.user_data = ud
  if (Object.keys(cd).length > 0) ev.custom_data = cd
  if (settings.limitedDataUse === true) {
    // Country 0 and state 0 ask Meta to geolocate the visitor (from the IP) to decide where LDU applies.
    ev.data_processing_options = ['LDU']
    ev.data_processing_options_country = 0
    ev.data_processing_options_state = 0
  }
  return ev
}

function metaUrl (settings: Settings): string {
  return settings.endpoint ?? `https://graph.facebook.com/${settings.apiVersion ?? META_API_VERSION}/${settings.pixelId}/events`
}

// ---- classify: Meta's answer is in the body (error.code / is_transient), not the status ----

const RETRY_CODES = new Set([1, 2, 4, 17, 32, 341, 368, 613])
/** Setup errors: the token, the permissions or the pixel id. No event of the batch is at fault. */
function isSetupError (code: number, subcode: number | undefined): boolean {
  return code === 190 || code === 102 || code === 10 || code === 3 || (code >= 200 && code <= 299) || (code === 100 && subcode === 33)
}
const isThrottle = (code: number): boolean => code === 4 || code === 17 || code === 32 || code === 613 || (code >= 80000 && code <= 80099)

interface MetaError { message?: unknown, type?: unknown, code?: unknown, error_subcode?: unknown, is_transient?: unknown, error_user_title?: unknown, error_user_msg?: unknown, fbtrace_id?: unknown }

/** Minutes to wait from X-Business-Use-Case-Usage (`estimated_time_to_regain_access`), in ms. */
function regainAccessMs (headers: TagResponse['headers']): number | undefined {
  const key = Object.keys(headers).find(k => k.toLowerCase() === 'x-business-use-case-usage')
  const raw = key === undefined ? undefined : headers[key]
  try {
    const usage = JSON.parse(Array.isArray(raw) ? raw[0] : raw ?? '') as Record<string, Array<{ estimated_time_to_regain_access?: unknown }>>
    const minutes = Object.values(usage).flat().map(u => u?.estimated_time_to_regain_access).filter((m): m is number => typeof m === 'number' && m > 0)
    return minutes.length > 0 ? Math.max(...minutes) * 60_000 : undefined
  } catch { return undefined }
}

function classifyMeta (res: TagResponse, req: OutgoingRequest): Classification {
  let body: { error?: MetaError } | undefined
  try { body = JSON.parse(res.body) as { error?: MetaError } } catch { body = undefined }
  const err = body !== null && typeof body === 'object' && body.error !== null && typeof body.error === 'object' ? body.error : undefined
  // 2xx without an error is { events_received, messages, fbtrace_id }. Any other answer without
  // Meta's envelope comes from a proxy or a middlebox (an HTML error page): the status decides.
  if (err === undefined) return classifyByStatus(res)
  const code = typeof err.code === 'number' ? err.code : Number(err.code)
  const subcode = typeof err.error_subcode === 'number' ? err.error_subcode : undefined
  const head = `Meta error ${Number.isFinite(code) ? code : '?'}${subcode !== undefined ? '/' + String(subcode) : ''}${text(err.type) !== undefined ? ` (${String(err.type)})` : ''}`
  const parts = [`${head}: ${text(err.message) ?? 'no message'}`]
  const user = [err.error_user_title, err.error_user_msg].filter(s => text(s) !== undefined)
  if (user.length > 0) parts.push(user.join(': '))
  if (text(err.fbtrace_id) !== undefined) parts.push(`fbtrace_id ${String(err.fbtrace_id)}`)
  const reason = `HTTP ${res.status}; ${parts.join('; ')}`.slice(0, 1000)
  if (err.is_transient === true || RETRY_CODES.has(code) || isThrottle(code) || (isServerErrorStatus(res.status) && !isSetupError(code, subcode) && code !== 100)) {
    // 368: blocked for a while for a policy violation; quick retries only prolong it.
    const floor = code === 368 ? 15 * 60_000 : isThrottle(code) ? regainAccessMs(res.headers) : undefined
    return floor !== undefined ? { kind: 'retry', reason, retryAfterMs: floor } : { kind: 'retry', reason }
  }
  if (isSetupError(code, subcode)) return { kind: 'credentials', reason: `${reason} (check the access token, its permissions and the pixel id)` }
  // Invalid parameter (100) or another permanent refusal: one bad event rejects the whole batch.
  return req.events.length > 1 ? { kind: 'split', reason } : { kind: 'drop', reason }
}

export const meta = defineTag({
  type: 'meta',
  category: 'ads',
  settings: MetaSettings,
  secrets: ['accessToken'],
  defaults: { batch: { maxEvents: MAX_EVENTS, maxWaitMs: 1000 }, consent: ['ad_storage', 'ad_user_data'] },
  // Unmapped events are not routed here at all; build still refuses one that gets through.
  accepts: (event, settings) => unmapped(event, settings) ?? true,
  prepare (event, settings, ctx) {
    // The queued copy holds Meta's hashes only: no raw email, phone or name, and the user_id as
    // the hashed external_id. Where the event brought an external_id of its own, the user id is
    // kept (build never reads it), so that erasing the user finds this copy too.
    if (event.user_data === undefined && event.user_id === undefined) return event
    const hashed = withHashedUserData(event, 'meta', { defaultCountry: settings.defaultCountry, dateOrder: ctx?.dateOrder, userIdAsExternalId: true, onDrop: ctx?.dropped })
    if (event.user_data?.external_id !== undefined || event.user_data?.sha256_external_id !== undefined) return hashed
    const { user_id: _uid, ...copy } = hashed
    return copy
  },
  build (events, settings: Settings, ctx) {
    const rejected: Rejection[] = []
    const requests: OutgoingRequest[] = []
    let data: Obj[] = []
    let indices: number[] = []
    const flush = (): void => {
      if (data.length === 0) return
      const body: Obj = { data }
      if (text(settings.testEventCode) !== undefined) body.test_event_code = settings.testEventCode
      if (settings.partnerAgent !== undefined) body.partner_agent = settings.partnerAgent
      // In the body, not the query string: URLs end up in access logs.
      body.access_token = settings.accessToken
      requests.push({ method: 'POST', url: metaUrl(settings), headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), events: indices })
      data = []
      indices = []
    }
    events.forEach((e, index) => {
      const ev = serverEvent(e, settings, ctx.now)
      if (typeof ev === 'string') { rejected.push({ index, reason: ev }); return }
      data.push(ev)
      indices.push(index)
      if (data.length === MAX_EVENTS) flush()
    })
    flush()
    return rejected.length > 0 ? { requests, rejected } : { requests }
  },
  classify: classifyMeta
})
