// GA4. Events that came from gtag are forwarded as the original hit to /g/collect (lossless:
// sessions, attribution, client hints and consent strings survive, as with sGTM's GA4 tag); every
// other event goes over Measurement Protocol. MP reference:
// https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference; /g/collect
// has no official one (see clients/gtag.ts).
//
// Endpoint rule: `endpoint` replaces Google's host. Its origin and path are kept, minus a trailing
// `/g/collect`, `/mp/collect` or `/debug/mp/collect`, and each transport appends its own path:
// `https://proxy.example/ga` → `https://proxy.example/ga/g/collect` and `…/ga/mp/collect`. Its
// query string and fragment are ignored (MP's own query is always measurement_id + api_secret).
import { Type, type Static } from '@sinclair/typebox'
import type { Consent, TaglineEvent, UserData } from '../schemas/event.js'
import { scrubRaw, type RawHit } from '../protocol/ga4-raw-hit.js'
import { MAX_CUSTOM_ITEM_PARAMS, MAX_PARAMS, MAX_USER_PROPERTIES, USER_PROPERTY_VALUE_MAX, VALUE_MAX, isScalar, longerThan, refusedItemParamName, refusedParamName, refusedUserPropertyName, validateMp, valueMax, type MpProblem } from '../protocol/ga4-mp-rules.js'
import { MAX_ITEMS, STANDARD_ITEM_KEYS } from '../protocol/ga4-items.js'
import { cutText, isObject } from '../common/guards.js'
import { classifyByStatus } from './http-status.js'
import { isSha256Hex, withHashedUserData } from './pii.js'
import { isoTime } from './event-time.js'
import { defineTag, type CutField, type OutgoingRequest, type Classification, type Rejection, type TagResponse } from './types.js'

export const Ga4Settings = Type.Object({
  measurementId: Type.String({ pattern: '^G-[A-Z0-9]+$', description: 'The web stream\'s measurement ID (G-…): Measurement Protocol events go there. Forwarded gtag hits keep the tid they were sent with.' }),
  apiSecret: Type.String({ minLength: 1, description: 'Measurement Protocol API secret (GA4 Admin → Data streams → the stream → Measurement Protocol API secrets).' }),
  region: Type.Optional(Type.Union([Type.Literal('global'), Type.Literal('eu')], { description: 'global (www.google-analytics.com, the default) or eu (region1.google-analytics.com: collection in the EU).' })),
  forwardGtag: Type.Optional(Type.Boolean({ description: 'Forward gtag hits as they came to /g/collect (default true). When false they go over Measurement Protocol like every other event, losing session and attribution detail.' })),
  debug: Type.Optional(Type.Boolean({ description: 'Send Measurement Protocol events to /debug/mp/collect: Google validates them and records nothing; problems dead-letter the events. Forwarded gtag hits are unaffected.' })),
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country (ISO 3166-1 alpha-2) a phone number written without + or 00 is read in when the address gives none: 07700 900123 with GB is +447700900123. Overrides identity.defaultCountry. With neither, such a number is not sent (tagline_user_data_dropped_total, reason no_country).' }))
}, { additionalProperties: false })

type Settings = Static<typeof Ga4Settings> & { endpoint?: string }

const GOOGLE = 'https://www.google-analytics.com'
const GOOGLE_EU = 'https://region1.google-analytics.com'
const MP_MAX_EVENTS = 25
// MP: "The total size of the post body must be less than 130kB"; decimal kB to be safe.
// https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events
const MP_MAX_BYTES = 130_000
// MP accepts events backdated up to 72 h; RELAXED validation silently moves older ones to
// "72 h ago", so they are refused here instead of being recorded at the wrong time.
const MP_MAX_AGE_MS = 72 * 3600_000

const RAW_ONLY = ['x-ga-raw'] as const

function rawHit (e: TaglineEvent): RawHit | undefined {
  const r = e['x-ga-raw'] as Partial<RawHit> | null | undefined
  if (r === null || typeof r !== 'object' || typeof r.query !== 'string') return undefined
  return r.line === undefined || typeof r.line === 'string' ? r as RawHit : undefined
}

function baseUrl (s: Settings): string {
  if (s.endpoint === undefined) return s.region === 'eu' ? GOOGLE_EU : GOOGLE
  const u = new URL(s.endpoint)
  const path = u.pathname.replace(/\/+$/, '').replace(/(\/g|(\/debug)?\/mp)\/collect$/, '')
  return u.origin + path
}

// ---- gtag hits: the original query and body line ----

/** The hit's query with `_uip` set to the visitor's IP, or `::` (redacted) when this tag gets no IP. */
function forwardQuery (query: string, ip: string | undefined): string {
  // scrubRaw drops any `_uip` (and plain-text user data) exactly as the gtag client does.
  const q = scrubRaw(query)
  // Without _uip Google would geolocate the gateway, so an absent IP is sent as the redaction value.
  return `${q}${q === '' ? '' : '&'}_uip=${encodeURIComponent(ip ?? '::')}`
}

function gtagRequests (events: TaglineEvent[], indices: number[], base: string): OutgoingRequest[] {
  const requests: OutgoingRequest[] = []
  // Lines of one hit share its query, IP and UA: they travel together again, one line per event.
  const open = new Map<string, { req: OutgoingRequest, lines: string[] }>()
  for (const i of indices) {
    const e = events[i]
    const raw = rawHit(e) as RawHit
    const url = `${base}/g/collect?${forwardQuery(raw.query, e.ip_override)}`
    const headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8' }
    // A header carries Latin-1 only (undici refuses the request otherwise): anything past it is a `?`.
    if (e.user_agent !== undefined) headers['user-agent'] = e.user_agent.replace(/[^\t\x20-\x7e\x80-\xff]/gu, '?')
    if (raw.line === undefined) {
      requests.push({ method: 'POST', url, headers, body: '', events: [i] })
      continue
    }
    const key = `${url}\n${e.user_agent ?? ''}`
    const group = open.get(key)
    if (group !== undefined) {
      group.lines.push(raw.line)
      group.req.events.push(i)
      continue
    }
    const req: OutgoingRequest = { method: 'POST', url, headers, body: '', events: [i] }
    requests.push(req)
    open.set(key, { req, lines: [raw.line] })
  }
  for (const { req, lines } of open.values()) req.body = lines.join('\n')
  return requests
}

// ---- Measurement Protocol ----

type Obj = Record<string, unknown>

function mpConsent (c: Consent | undefined): Obj | undefined {
  const out: Obj = {}
  for (const k of ['ad_user_data', 'ad_personalization'] as const) {
    if (c?.[k] !== undefined) out[k] = c[k] === 'granted' ? 'GRANTED' : 'DENIED'
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** Only digests (and the address fields MP takes in clear) leave, whatever the event holds. */
function mpUserData (ud: UserData | undefined): Obj | undefined {
  if (ud === undefined) return undefined
  const out: Obj = {}
  const hash = (v: unknown): string | undefined => typeof v === 'string' && isSha256Hex(v) ? v.trim().toLowerCase() : undefined
  const email = hash(ud.sha256_email_address)
  const phone = hash(ud.sha256_phone_number)
  if (email !== undefined) out.sha256_email_address = [email]
  if (phone !== undefined) out.sha256_phone_number = [phone]
  const a = ud.address
  if (a !== undefined) {
    const addr: Obj = {}
    for (const k of ['sha256_first_name', 'sha256_last_name', 'sha256_street'] as const) {
      const h = hash(a[k])
      if (h !== undefined) addr[k] = h
    }
    for (const k of ['city', 'region', 'postal_code', 'country'] as const) if (typeof a[k] === 'string' && a[k] !== '') addr[k] = a[k]
    if (Object.keys(addr).length > 0) out.address = [addr]
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function mpUserProperties (up: TaglineEvent['user_properties']): Obj | undefined {
  if (up === undefined || Object.keys(up).length === 0) return undefined
  const out: Obj = {}
  // MP takes strings and numbers only.
  for (const [k, v] of Object.entries(up)) out[k] = { value: typeof v === 'boolean' ? String(v) : v }
  return out
}

function mpParams (e: TaglineEvent): Obj {
  const p: Obj = {}
  const set = (k: string, v: unknown): void => { if (v !== undefined && v !== null) p[k] = v }
  set('session_id', e.ga_session_id)
  // MP needs a positive engagement_time_msec next to session_id, or the event misses Realtime
  // and session attribution (MP's sending-events page, linked at MP_MAX_BYTES).
  const et = e.engagement_time_msec ?? e.params?.engagement_time_msec
  if (typeof et === 'number' && et > 0) p.engagement_time_msec = et
  else if (p.session_id !== undefined) p.engagement_time_msec = 1
  set('page_location', e.page_location)
  set('page_referrer', e.page_referrer)
  set('page_title', e.page_title)
  set('currency', e.currency)
  set('value', e.value)
  set('transaction_id', e.transaction_id)
  set('tax', e.tax)
  set('shipping', e.shipping)
  set('coupon', e.coupon)
  set('items', e.items)
  for (const [k, v] of Object.entries(e.params ?? {})) if (!Object.hasOwn(p, k) && k !== 'engagement_time_msec') set(k, v)
  // An empty transaction_id makes GA4 dedupe every such purchase together.
  if (p.transaction_id === '') delete p.transaction_id
  return p
}

/** Model fields that mpParams sends as parameters of their own name, before the event's params. */
const MODEL_PARAMS: ReadonlySet<string> = new Set(['page_location', 'page_referrer', 'page_title', 'currency', 'value', 'transaction_id', 'tax', 'shipping', 'coupon', 'items'])
/** Parameters every report reads: past GA4's 25, the others go first, wherever these came from. */
const KEPT_FIRST: ReadonlySet<string> = new Set([...MODEL_PARAMS, 'session_id', 'engagement_time_msec'])
const URL_PARAMS: ReadonlySet<string> = new Set(['page_location', 'page_referrer'])

// What GA4 would drop by its name or its value's type, left out so that the rest of the event is
// sent (MP's validation refuses the event for it; GA4's collection keeps the event without it).
// A parameter other than items: a name GA4 reserves or cannot read, or a value that is not a
// string, number or boolean (an object, an array, null).
const refusedParam = (k: string, v: unknown): boolean => k === 'items' ? !Array.isArray(v) : refusedParamName(k) || !isScalar(v)
const refusedItemParam = (k: string, v: unknown): boolean => refusedItemParamName(k) || !isScalar(v)
/** GA4 needs an item_id or an item_name to read an item at all. */
const unnamedItem = (item: Record<string, unknown>): boolean => item.item_id == null && item.item_name == null
const refusedUserProperty = (k: string, v: unknown): boolean => refusedUserPropertyName(k) || !isScalar(v)

/** Whether withinLimits may have anything to cut (no allocation: nearly every event has nothing). */
function mayBeOver (e: TaglineEvent): boolean {
  const model = e as Record<string, unknown>
  let params = 0
  for (const k of MODEL_PARAMS) if (model[k] != null) { params++; if (longerThan(model[k], valueMax(k))) return true }
  if (e.params !== undefined) {
    for (const k in e.params) {
      if (!Object.hasOwn(e.params, k)) continue
      // session_id and engagement_time_msec aside, the count can only come out lower than this.
      if (++params > MAX_PARAMS - 2 || longerThan(e.params[k], valueMax(k)) || refusedParam(k, e.params[k])) return true
    }
    if (Array.isArray(e.params.items)) return true
  }
  if (e.items !== undefined && e.items.length > MAX_ITEMS) return true
  for (const item of (e.items ?? []) as unknown[]) {
    if (!isObject(item) || unnamedItem(item)) return true
    let custom = 0
    for (const k in item) {
      if (!Object.hasOwn(item, k)) continue
      if (longerThan(item[k], VALUE_MAX) || refusedItemParam(k, item[k]) || (!STANDARD_ITEM_KEYS.has(k) && ++custom > MAX_CUSTOM_ITEM_PARAMS)) return true
    }
  }
  if (e.user_properties !== undefined) {
    let n = 0
    for (const k in e.user_properties) {
      if (!Object.hasOwn(e.user_properties, k)) continue
      const v = e.user_properties[k]
      if (++n > MAX_USER_PROPERTIES || longerThan(v, USER_PROPERTY_VALUE_MAX) || refusedUserProperty(k, v)) return true
    }
  }
  return false
}

/**
 * The event cut to what GA4 keeps of it: each value MP would send that is longer than GA4 keeps
 * cut to GA4's limit (valueMax: 1,000 characters of page_location, 100 of most parameters and item
 * values, 36 of a user property), and the event's own parameters past the 25th sent, user
 * properties past the 25th and custom item parameters past an item's 10th left out; before that,
 * parameters, item parameters and user properties GA4 refuses by name or value type left out.
 * Each is told to `cut`. GA4 keeps an event past its limits (it cuts or drops what is over); refusing the event
 * here would lose it. Read off mpParams, so that what is cut and counted is what would be sent,
 * and the parameters mpParams adds itself (session, engagement, page, commerce) are kept first.
 * The same object when nothing is over.
 */
function withinLimits (e: TaglineEvent, cut?: (field: CutField) => void): TaglineEvent {
  if (!mayBeOver(e)) return e
  let out: TaglineEvent | undefined
  const copy = (): TaglineEvent => (out ??= { ...e })
  const fit = (v: unknown, max: number | undefined, field: CutField, url = false): unknown => {
    if (!longerThan(v, max)) return v
    cut?.(field)
    return cutText(v as string, max as number, url)
  }
  /**
   * Its entries GA4 `refused` left out; its string values cut to `max`; past `most` entries that
   * `counted` holds, the rest left out.
   */
  const fitAll = <T extends Record<string, unknown>>(o: T, max: number, field: CutField, refused: (k: string, v: unknown) => boolean, most = Infinity, counted: (k: string) => boolean = () => true): T => {
    let fitted: Record<string, unknown> | undefined
    let n = 0
    for (const [k, v] of Object.entries(o)) {
      if (refused(k, v) || (counted(k) && ++n > most)) {
        cut?.(field)
        delete (fitted ??= { ...o })[k]
        continue
      }
      const f = fit(v, max, field)
      if (f !== v) (fitted ??= { ...o })[k] = f
    }
    return (fitted ?? o) as T
  }
  const model = e as Record<string, unknown>
  /** Whether mpParams took parameter k from the model (or made it), not from the event's params. */
  const fromModel = (k: string): boolean =>
    k === 'engagement_time_msec' || (k === 'session_id' ? e.ga_session_id != null : MODEL_PARAMS.has(k) && model[k] != null)
  /** Parameter k takes f (undefined: left out) where mpParams read it. */
  const put = (k: string, f: unknown): void => {
    if (fromModel(k)) { (copy() as Record<string, unknown>)[k] = f; return }
    const params: Record<string, unknown> = { ...copy().params }
    if (f === undefined) delete params[k]
    else params[k] = f
    copy().params = params as TaglineEvent['params']
  }
  const sent = mpParams(e)
  const leaveOut = (k: string): void => {
    put(k, undefined)
    cut?.('params')
    delete sent[k]
  }
  for (const [k, v] of Object.entries(sent)) if (!fromModel(k) && refusedParam(k, v)) leaveOut(k)
  const keys = Object.keys(sent)
  // Past the 25th, the event's other parameters go, last first: GA4 drops what is over (MP's
  // RELAXED validation), and session, engagement, page and commerce are what every report reads.
  let over = keys.length - MAX_PARAMS
  for (let i = keys.length - 1; i >= 0 && over > 0; i--) {
    if (KEPT_FIRST.has(keys[i])) continue
    leaveOut(keys[i])
    over--
  }
  for (const [k, v] of Object.entries(sent)) {
    if (k === 'items') {
      if (!Array.isArray(v)) continue
      // Items past the 200th go, and so does an entry that is not an item GA4 can read: not an
      // object, or (once fitted) with neither an item_id nor an item_name.
      const items = v.filter(isObject)
        .map(item => fitAll(item, VALUE_MAX, 'items', refusedItemParam, MAX_CUSTOM_ITEM_PARAMS, key => !STANDARD_ITEM_KEYS.has(key)))
        .filter(item => !unnamedItem(item))
        .slice(0, MAX_ITEMS)
      for (let n = items.length; n < v.length; n++) cut?.('items')
      if (items.length !== v.length || items.some((item, i) => item !== v[i])) put(k, items)
      continue
    }
    const f = fit(v, valueMax(k), k === 'page_location' || k === 'page_referrer' || k === 'page_title' ? k : 'params', URL_PARAMS.has(k))
    if (f !== v) put(k, f)
  }
  if (e.user_properties !== undefined) {
    const up = fitAll(e.user_properties, USER_PROPERTY_VALUE_MAX, 'user_properties', refusedUserProperty, MAX_USER_PROPERTIES)
    if (up !== e.user_properties) copy().user_properties = up
  }
  return out ?? e
}

interface MpEvent { key: string, head: Obj, json: string }

function describeProblems (problems: MpProblem[]): string {
  const shown = problems.slice(0, 5).map(p => `${p.message.replaceAll('events[0]', 'event')} (${p.validationCode} at ${p.path.replace('events[0]', 'event')})`)
  const more = problems.length > 5 ? ` … and ${problems.length - 5} more` : ''
  return `Measurement Protocol would refuse this event: ${shown.join('; ')}${more}`
}

/**
 * One event as MP wants it, or why MP would refuse it (checked alone, with its request fields).
 * Values are cut to GA4's limits here too, for events queued without prepare's cut (before an
 * upgrade, or gtag hits whose tag stopped forwarding them).
 */
function toMp (queued: TaglineEvent, now: number): MpEvent | string {
  const e = withinLimits(queued)
  if (e.timestamp_ms !== undefined && now - e.timestamp_ms > MP_MAX_AGE_MS) {
    const hours = ((now - e.timestamp_ms) / 3600_000).toFixed(1)
    return `Measurement Protocol accepts events at most 72 h old; this one is ${hours} h old (${isoTime(e.timestamp_ms) ?? 'not a time'})`
  }
  if (e.client_id === undefined || e.client_id === '') return 'Measurement Protocol needs a client_id for a web stream; the event has none'
  const head: Obj = { client_id: e.client_id }
  if (e.user_id !== undefined && e.user_id !== '') head.user_id = e.user_id
  const micros = e.timestamp_ms !== undefined ? Math.round(e.timestamp_ms * 1000) : undefined
  if (micros !== undefined) head.timestamp_micros = micros
  if (e.ip_override !== undefined) head.ip_override = e.ip_override
  if (e.user_agent !== undefined) head.user_agent = e.user_agent
  const consent = mpConsent(e.consent)
  if (consent !== undefined) head.consent = consent
  const up = mpUserProperties(e.user_properties)
  if (up !== undefined) head.user_properties = up
  // user_data with or without a user_id: Google recommends one, no longer requires it
  // (https://developers.google.com/analytics/devguides/collection/ga4/uid-data). None when the
  // visitor denied ad_user_data, as gtag sends none then.
  const ud = e.consent?.ad_user_data !== 'denied' ? mpUserData(e.user_data) : undefined
  if (ud !== undefined) head.user_data = ud

  const event: Obj = { name: e.event_name }
  if (micros !== undefined) event.timestamp_micros = micros
  event.params = mpParams(e)
  const problems = validateMp({ ...head, events: [event] })
  if (problems.length > 0) return describeProblems(problems)

  // Events share a request only when everything request-level is the same (timestamp aside:
  // each event carries its own, the request's is its first event's).
  const { timestamp_micros: _, ...shared } = head
  return { key: JSON.stringify(shared), head, json: JSON.stringify(event) }
}

function mpBody (head: Obj, eventJson: string[]): string {
  const h = JSON.stringify(head)
  return `${h.slice(0, -1)},"events":[${eventJson.join(',')}]}`
}

function mpRequests (events: TaglineEvent[], indices: number[], s: Settings, now: number, rejected: Rejection[]): OutgoingRequest[] {
  const url = `${baseUrl(s)}${s.debug === true ? '/debug/mp/collect' : '/mp/collect'}` +
    `?measurement_id=${encodeURIComponent(s.measurementId)}&api_secret=${encodeURIComponent(s.apiSecret)}`
  const groups: Array<{ head: Obj, json: string[], bytes: number, req: OutgoingRequest }> = []
  const open = new Map<string, (typeof groups)[number]>()
  for (const i of indices) {
    const m = toMp(events[i], now)
    if (typeof m === 'string') { rejected.push({ index: i, reason: m }); continue }
    const eventBytes = Buffer.byteLength(m.json)
    let group = open.get(m.key)
    if (group !== undefined && (group.json.length >= MP_MAX_EVENTS || group.bytes + 1 + eventBytes >= MP_MAX_BYTES)) group = undefined
    if (group === undefined) {
      const alone = Buffer.byteLength(mpBody(m.head, [m.json]))
      if (alone >= MP_MAX_BYTES) {
        rejected.push({ index: i, reason: `Measurement Protocol bodies must be under 130 kB; this event alone makes ${alone} bytes` })
        continue
      }
      const req: OutgoingRequest = { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '', events: [] }
      group = { head: m.head, json: [], bytes: alone - eventBytes, req }
      groups.push(group)
      open.set(m.key, group)
    } else {
      group.bytes += 1 // the comma
    }
    group.json.push(m.json)
    group.bytes += eventBytes
    group.req.events.push(i)
  }
  return groups.map(g => ({ ...g.req, body: mpBody(g.head, g.json) }))
}

// ---- classify ----

interface ValidationMessage { fieldPath?: string, description?: string, validationCode?: string }

function classifyGa4 (res: TagResponse, req: OutgoingRequest): Classification {
  // Google answers 2xx to almost anything: a 4xx (but 408/429) means the request itself is wrong.
  const outcome = classifyByStatus(res, { permanent: 'every4xx' })
  // Only the validation endpoint says what is wrong; production answers 2xx even to garbage.
  if (outcome.kind !== 'ok' || !req.url.includes('/debug/mp/collect')) return outcome
  let messages: unknown
  try {
    messages = (JSON.parse(res.body) as { validationMessages?: unknown }).validationMessages
  } catch {
    return { kind: 'drop', reason: `debug validation: the answer is not JSON: ${res.body.slice(0, 200)}` }
  }
  if (!Array.isArray(messages) || messages.length === 0) return { kind: 'ok' }
  const text = (messages as ValidationMessage[]).map(m => `${m.fieldPath ?? '?'}: ${m.description ?? ''} (${m.validationCode ?? '?'})`).join('; ')
  return { kind: 'drop', reason: `debug validation: ${text}`.slice(0, 1000) }
}

export const ga4 = defineTag({
  type: 'ga4',
  category: 'analytics',
  settings: Ga4Settings,
  secrets: ['apiSecret'],
  // No consent gate by default: GA4 receives the consent state (gcs/gcd, MP `consent`) and
  // applies Consent Mode itself.
  defaults: { batch: { maxEvents: 25, maxWaitMs: 1000 }, consent: [] },
  // gtag forwarding sends the raw hit on; the parsed x-ga-* values are in it already.
  protocolFields: () => RAW_ONLY,
  prepare (event, settings, ctx) {
    const hashed = withHashedUserData(event, 'google', { defaultCountry: settings.defaultCountry, dateOrder: ctx?.dateOrder, onDrop: ctx?.dropped })
    // A forwarded hit goes as it came (GA4 applies its limits to it); what goes over MP is cut here,
    // where each cut is counted once, not at every attempt.
    return settings.forwardGtag !== false && rawHit(hashed) !== undefined ? hashed : withinLimits(hashed, ctx?.cut)
  },
  build (events, settings: Settings, ctx) {
    const base = baseUrl(settings)
    const gtag: number[] = []
    const mp: number[] = []
    events.forEach((e, i) => (settings.forwardGtag !== false && rawHit(e) !== undefined ? gtag : mp).push(i))
    const rejected: Rejection[] = []
    const requests = [...gtagRequests(events, gtag, base), ...mpRequests(events, mp, settings, ctx.now, rejected)]
    return rejected.length > 0 ? { requests, rejected } : { requests }
  },
  classify: classifyGa4
})
