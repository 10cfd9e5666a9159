// GA4 Measurement Protocol JSON
// (https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference), checked
// against MP's own rules (protocol/ga4-mp-rules.ts) before it is mapped to events.
import { isObject, isSafeKey, toNumber } from '../common/guards.js'
import { consentFromObject } from './consent.js'
import type { Consent, UserData } from '../schemas/event.js'
import { errors } from '../common/errors.js'
import { normalizeItems } from './items.js'
import { MAX_PROBLEMS, validateMp } from '../protocol/ga4-mp-rules.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'

type Obj = Record<string, unknown>


// ---- mapping ----

const MODEL_STRINGS: ReadonlySet<string> = new Set(['currency', 'transaction_id', 'coupon', 'page_location', 'page_referrer', 'page_title'])
const MODEL_NUMBERS: ReadonlySet<string> = new Set(['value', 'tax', 'shipping', 'engagement_time_msec'])

function first (v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v
}

function mpUserData (raw: Obj): UserData | undefined {
  const out: UserData = {}
  const email = first(raw.sha256_email_address)
  const phone = first(raw.sha256_phone_number)
  if (typeof email === 'string' && email !== '') out.sha256_email_address = email
  if (typeof phone === 'string' && phone !== '') out.sha256_phone_number = phone
  const addr = first(raw.address)
  if (isObject(addr)) {
    const address: Record<string, string> = {}
    for (const key of ['sha256_first_name', 'sha256_last_name', 'sha256_street', 'city', 'region', 'postal_code', 'country']) {
      if (typeof addr[key] === 'string' && addr[key] !== '') address[key] = addr[key]
    }
    if (Object.keys(address).length > 0) out.address = address
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function mpConsent (body: Obj): Consent | undefined {
  // MP defines ad_user_data and ad_personalization; a sender that also says ad_storage (or
  // analytics_storage) is heard too: a refusal there must gate the ad tags as a gtag hit's would.
  const out: Consent = consentFromObject(body.consent) ?? {}
  // Deprecated flag, honoured only where the consent object is silent.
  if (body.non_personalized_ads === true && out.ad_personalization === undefined) out.ad_personalization = 'denied'
  return Object.keys(out).length > 0 ? out : undefined
}

/** What every event of the request shares. */
function shared (body: Obj, snap: RequestSnapshot): ParsedEvent {
  const base = { event_name: '' } as ParsedEvent & Obj
  const q = new URLSearchParams(snap.query)
  const mid = q.get('measurement_id')
  const appId = q.get('firebase_app_id')
  if (mid !== null && mid !== '') base['x-ga-measurement_id'] = mid
  if (appId !== null && appId !== '') base['x-ga-firebase_app_id'] = appId
  if (typeof body.client_id === 'string') base.client_id = body.client_id
  if (typeof body.app_instance_id === 'string') base['x-ga-app_instance_id'] = body.app_instance_id
  if (typeof body.user_id === 'string' && body.user_id !== '') base.user_id = body.user_id
  if (isObject(body.user_properties)) {
    const props: Record<string, string | number> = {}
    for (const [name, entry] of Object.entries(body.user_properties)) {
      if (isSafeKey(name) && isObject(entry) && (typeof entry.value === 'string' || typeof entry.value === 'number')) props[name] = entry.value
    }
    if (Object.keys(props).length > 0) base.user_properties = props
  }
  const consent = mpConsent(body)
  if (consent !== undefined) base.consent = consent
  if (isObject(body.user_data)) {
    const ud = mpUserData(body.user_data)
    if (ud !== undefined) base.user_data = ud
  }
  // A browser could claim any IP or UA; only an authenticated backend may.
  if (snap.trusted) {
    if (typeof body.ip_override === 'string' && body.ip_override !== '') base.ip_override = body.ip_override
    if (typeof body.user_agent === 'string' && body.user_agent !== '') base.user_agent = body.user_agent
  }
  return base
}

function toEvent (raw: Obj, base: ParsedEvent, requestMicros: unknown): ParsedEvent {
  const ev = { ...base, event_name: raw.name as string } as ParsedEvent & Obj
  const micros = toNumber(raw.timestamp_micros) ?? toNumber(requestMicros)
  if (micros !== undefined) ev.timestamp_ms = Math.floor(micros / 1000)
  const params: Obj = {}
  if (isObject(raw.params)) {
    for (const [key, v] of Object.entries(raw.params)) {
      if (!isSafeKey(key) || v === undefined) continue
      if (key === 'session_id' && (typeof v === 'string' || typeof v === 'number') && v !== '') ev.ga_session_id = String(v)
      else if (key === 'session_number' && toNumber(v) !== undefined) ev.ga_session_number = toNumber(v)
      else if (MODEL_NUMBERS.has(key) && toNumber(v) !== undefined) ev[key] = toNumber(v)
      else if (MODEL_STRINGS.has(key) && (typeof v === 'string' || typeof v === 'number')) { if (v !== '') ev[key] = String(v) }
      else if (key === 'items' && Array.isArray(v)) ev.items = normalizeItems(v)
      else params[key] = v
    }
  }
  if (Object.keys(params).length > 0) ev.params = params as ParsedEvent['params']
  return ev
}

export const mp: Client = {
  name: 'mp',

  claims (snap: RequestSnapshot): boolean {
    if (snap.path.endsWith('/mp/collect')) return true
    const json = snap.json
    if (!isObject(json) || !Array.isArray(json.events)) return false
    const ev = json.events[0]
    return isObject(ev) && Object.hasOwn(ev, 'name') && !Object.hasOwn(ev, 'event_name')
  },

  parse (snap: RequestSnapshot): ParsedEvent[] {
    // A value over GA4's length limits, a 26th parameter: GA4's to cut, not a reason to refuse the
    // event to every destination (tags/ga4.ts cuts it).
    const problems = validateMp(snap.json, { limits: false })
    if (problems.length > 0) {
      const summary = problems.length === 1 ? problems[0].message : `The Measurement Protocol payload has ${problems.length === MAX_PROBLEMS ? 'many' : problems.length} problems; the first: ${problems[0].message}`
      throw errors.invalidMp(summary, problems)
    }
    const body = snap.json as Obj
    // Each event gets its own copies of the shared parts, so a later stage may edit one safely.
    return (body.events as Obj[]).map(raw => toEvent(raw, shared(body, snap), body.timestamp_micros))
  }
}
