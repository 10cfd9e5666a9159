// GA4 Measurement Protocol's own rules, checked on the way in (clients/mp.ts: a sender learns of a
// problem here rather than from GA4's silent drop) and on the way out (tags/ga4.ts: what we build
// must pass them too). Problems carry MP's validation codes:
// https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events
//
// Value lengths and the counts of parameters, user properties and custom item parameters are
// GA4's collection limits, not the format's: GA4 takes a request past them and keeps the event (its
// default RELAXED validation drops or cuts what is over), so the edge does not refuse one
// (`limits: false`), and the GA4 tag cuts the event to them instead of losing it.
import { isIP } from 'node:net'
import { hasControlChars, isObject, toNumber } from '../common/guards.js'
import type { ErrorDetail } from '../common/errors.js'
import { MAX_ITEMS, STANDARD_ITEM_KEYS } from './ga4-items.js'

type Obj = Record<string, unknown>

// ---- limits and reserved names: "Limitations" in
// https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events and
// "Reserved names" in https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference ----

const MAX_EVENTS = 25
export const MAX_PARAMS = 25
export const MAX_USER_PROPERTIES = 25
export const MAX_CUSTOM_ITEM_PARAMS = 10
export const MAX_PROBLEMS = 100
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/
const SHA256 = /^[0-9a-f]{64}$/
const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'ad_activeview', 'ad_click', 'ad_exposure', 'ad_query', 'ad_reward', 'adunit_exposure', 'app_clear_data',
  'app_exception', 'app_install', 'app_remove', 'app_store_refund', 'app_update', 'app_upgrade',
  'dynamic_link_app_open', 'dynamic_link_app_update', 'dynamic_link_first_open', 'error', 'firebase_campaign',
  'firebase_in_app_message_action', 'firebase_in_app_message_dismiss', 'firebase_in_app_message_impression',
  'first_open', 'first_visit', 'notification_dismiss', 'notification_foreground', 'notification_open',
  'notification_receive', 'notification_send', 'os_update', 'session_start', 'user_engagement'
])
const APP_ONLY_EVENTS: ReadonlySet<string> = new Set(['ad_impression', 'in_app_purchase', 'screen_view'])
const RESERVED_PARAM_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.']
const RESERVED_USER_PROPERTIES: ReadonlySet<string> = new Set(['first_open_time', 'first_visit_time', 'last_deep_link_referrer', 'user_id', 'first_open_after_install'])
const RESERVED_USER_PROPERTY_PREFIXES = ['_', 'firebase_', 'ga_', 'google_']
// GTM's built-in session values may exceed the 100-character rule.
const LENGTH_EXEMPT: ReadonlySet<string> = new Set(['session_id', 'session_number'])
// Characters of a parameter's value (event and item parameters), and the three page fields GA4's
// collection limits let run longer (https://support.google.com/analytics/answer/9267744).
export const VALUE_MAX = 100
const LONG_PARAMS: Readonly<Record<string, number>> = { page_location: 1000, page_referrer: 420, page_title: 300 }
export const USER_PROPERTY_VALUE_MAX = 36

/** Longest names: of events, parameters and item parameters, and of user properties. */
const NAME_MAX = 40
const USER_PROPERTY_NAME_MAX = 24

/** Whether GA4 reads `name` as a name: at most `max` characters, a letter, then letters, digits, underscores. */
const validName = (name: string, max: number): boolean => name.length <= max && NAME.test(name)

const reservedParamName = (key: string): boolean => key === 'firebase_conversion' || RESERVED_PARAM_PREFIXES.some(p => key.startsWith(p))
const reservedUserPropertyName = (name: string): boolean => RESERVED_USER_PROPERTIES.has(name) || RESERVED_USER_PROPERTY_PREFIXES.some(p => name.startsWith(p))

/** Whether GA4 refuses an event parameter by its name (reserved, or not a name). */
export const refusedParamName = (key: string): boolean => reservedParamName(key) || !validName(key, NAME_MAX)

/** Whether GA4 refuses an item parameter by its name (not a name; no names are reserved there). */
export const refusedItemParamName = (key: string): boolean => !validName(key, NAME_MAX)

/** Whether GA4 refuses a user property by its name (reserved, or not a name). */
export const refusedUserPropertyName = (name: string): boolean => reservedUserPropertyName(name) || !validName(name, USER_PROPERTY_NAME_MAX)

/** A value a parameter (event or item) may hold. */
export const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'

/** Whether `v` is a string longer than `max` characters (`max` undefined: no limit). */
export const longerThan = (v: unknown, max: number | undefined): boolean => typeof v === 'string' && max !== undefined && v.length > max

/** The most characters GA4 keeps of event parameter `key`'s value; undefined: no limit. */
export function valueMax (key: string): number | undefined {
  if (LENGTH_EXEMPT.has(key)) return undefined
  return Object.hasOwn(LONG_PARAMS, key) ? LONG_PARAMS[key] : VALUE_MAX
}

export interface MpProblem extends ErrorDetail {
  path: string
  message: string
  validationCode: 'VALUE_INVALID' | 'VALUE_REQUIRED' | 'NAME_INVALID' | 'NAME_RESERVED' | 'VALUE_OUT_OF_BOUNDS' | 'EXCEEDED_MAX_ENTITIES' | 'NAME_DUPLICATED'
}

type Add = (path: string, code: MpProblem['validationCode'], message: string) => void

/** GA4's collection limits, checked or not (see the top of this file). */
interface Limits {
  /** A value over its length limit (`max` undefined: none). */
  long: (v: unknown, max: number | undefined) => boolean
  /** More entries than the limit. */
  many: (n: number, max: number) => boolean
}

const describe = (v: unknown): string => v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v

function checkName (add: Add, path: string, what: string, name: string, max: number): boolean {
  if (validName(name, max)) return true
  if (name.length > max) add(path, 'NAME_INVALID', `${what} "${name.slice(0, 60)}" is longer than ${max} characters.`)
  else add(path, 'NAME_INVALID', `${what} "${name}" is not valid: names start with a letter and hold only letters, digits and underscores.`)
  return false
}

function checkItems (add: Add, limits: Limits, path: string, items: unknown): void {
  if (!Array.isArray(items)) return add(path, 'VALUE_INVALID', `${path} must be an array of item objects, not ${describe(items)}.`)
  if (items.length > MAX_ITEMS) add(path, 'EXCEEDED_MAX_ENTITIES', `${path} has ${items.length} items; at most ${MAX_ITEMS} are allowed.`)
  items.slice(0, MAX_ITEMS).forEach((item, j) => {
    const at = `${path}[${j}]`
    if (!isObject(item)) return add(at, 'VALUE_INVALID', `${at} must be an object, not ${describe(item)}.`)
    let custom = 0
    for (const [key, v] of Object.entries(item)) {
      if (!STANDARD_ITEM_KEYS.has(key)) custom++
      if (!checkName(add, `${at}.${key}`, 'Item parameter name', key, NAME_MAX)) continue
      if (!isScalar(v)) add(`${at}.${key}`, 'VALUE_INVALID', `${at}.${key} must be a string, number or boolean, not ${describe(v)}.`)
      else if (limits.long(v, VALUE_MAX)) add(`${at}.${key}`, 'VALUE_OUT_OF_BOUNDS', `${at}.${key} is longer than ${VALUE_MAX} characters.`)
    }
    if (limits.many(custom, MAX_CUSTOM_ITEM_PARAMS)) add(at, 'EXCEEDED_MAX_ENTITIES', `${at} has ${custom} custom parameters; at most ${MAX_CUSTOM_ITEM_PARAMS} are allowed.`)
  })
}

function checkParams (add: Add, limits: Limits, path: string, params: unknown): void {
  if (params === undefined) return
  if (!isObject(params)) return add(path, 'VALUE_INVALID', `${path} must be an object, not ${describe(params)}.`)
  const keys = Object.keys(params)
  if (limits.many(keys.length, MAX_PARAMS)) add(path, 'EXCEEDED_MAX_ENTITIES', `${path} has ${keys.length} parameters; at most ${MAX_PARAMS} are allowed.`)
  for (const key of keys) {
    const at = `${path}.${key}`
    if (reservedParamName(key)) {
      add(at, 'NAME_RESERVED', `Parameter name "${key}" is reserved by Google Analytics.`)
      continue
    }
    if (!checkName(add, at, 'Parameter name', key, NAME_MAX)) continue
    const v = params[key]
    if (key === 'items') checkItems(add, limits, at, v)
    else if (!isScalar(v)) add(at, 'VALUE_INVALID', `${at} must be a string, number or boolean, not ${describe(v)}.`)
    else if (limits.long(v, valueMax(key))) add(at, 'VALUE_OUT_OF_BOUNDS', `${at} is longer than ${valueMax(key)} characters.`)
  }
}

function checkMicros (add: Add, path: string, v: unknown): void {
  const n = toNumber(v)
  if (v !== undefined && (n === undefined || n <= 0)) add(path, 'VALUE_INVALID', `${path} must be a positive number of microseconds since the epoch.`)
}

function checkEvent (add: Add, limits: Limits, i: number, ev: unknown, app: boolean): void {
  const at = `events[${i}]`
  if (!isObject(ev)) return add(at, 'VALUE_INVALID', `Event ${i} must be an object, not ${describe(ev)}.`)
  const name = ev.name
  if (name === undefined) add(`${at}.name`, 'VALUE_REQUIRED', `Event ${i} has no name.`)
  else if (typeof name !== 'string') add(`${at}.name`, 'VALUE_INVALID', `The name of event ${i} must be a string, not ${describe(name)}.`)
  else if (RESERVED_EVENTS.has(name) || (!app && APP_ONLY_EVENTS.has(name))) add(`${at}.name`, 'NAME_RESERVED', `Event name "${name}" is reserved by Google Analytics.`)
  else checkName(add, `${at}.name`, 'Event name', name, NAME_MAX)
  checkMicros(add, `${at}.timestamp_micros`, ev.timestamp_micros)
  checkParams(add, limits, `${at}.params`, ev.params)
}

function checkUserProperties (add: Add, limits: Limits, props: unknown): void {
  if (props === undefined) return
  if (!isObject(props)) return add('user_properties', 'VALUE_INVALID', `user_properties must be an object, not ${describe(props)}.`)
  const names = Object.keys(props)
  if (limits.many(names.length, MAX_USER_PROPERTIES)) add('user_properties', 'EXCEEDED_MAX_ENTITIES', `There are ${names.length} user properties; at most ${MAX_USER_PROPERTIES} are allowed.`)
  for (const name of names) {
    const at = `user_properties.${name}`
    if (reservedUserPropertyName(name)) {
      add(at, 'NAME_RESERVED', `User property name "${name}" is reserved by Google Analytics.`)
      continue
    }
    if (!checkName(add, at, 'User property name', name, USER_PROPERTY_NAME_MAX)) continue
    const entry = props[name]
    if (!isObject(entry)) { add(at, 'VALUE_INVALID', `${at} must be an object like { "value": … }, not ${describe(entry)}.`); continue }
    const v = entry.value
    if (v === undefined) add(`${at}.value`, 'VALUE_REQUIRED', `${at} has no value.`)
    else if (typeof v !== 'string' && typeof v !== 'number') add(`${at}.value`, 'VALUE_INVALID', `${at}.value must be a string or number, not ${describe(v)}.`)
    else if (limits.long(v, USER_PROPERTY_VALUE_MAX)) add(`${at}.value`, 'VALUE_OUT_OF_BOUNDS', `${at}.value is longer than ${USER_PROPERTY_VALUE_MAX} characters.`)
    checkMicros(add, `${at}.timestamp_micros`, entry.timestamp_micros)
  }
}

function checkHashes (add: Add, path: string, v: unknown, max: number): void {
  if (v === undefined) return
  const list = Array.isArray(v) ? v : [v]
  if (list.length > max) add(path, 'EXCEEDED_MAX_ENTITIES', `${path} holds ${list.length} values; at most ${max} are allowed.`)
  list.forEach((h, j) => {
    const at = Array.isArray(v) ? `${path}[${j}]` : path
    if (typeof h !== 'string' || !SHA256.test(h)) add(at, 'VALUE_INVALID', `${at} must be a lower-case hex SHA-256 digest of the normalised value.`)
  })
}

function checkUserData (add: Add, ud: unknown): void {
  if (ud === undefined) return
  if (!isObject(ud)) return add('user_data', 'VALUE_INVALID', `user_data must be an object, not ${describe(ud)}.`)
  checkHashes(add, 'user_data.sha256_email_address', ud.sha256_email_address, 3)
  checkHashes(add, 'user_data.sha256_phone_number', ud.sha256_phone_number, 3)
  if (ud.address === undefined) return
  const list = Array.isArray(ud.address) ? ud.address : [ud.address]
  if (list.length > 2) add('user_data.address', 'EXCEEDED_MAX_ENTITIES', `user_data.address holds ${list.length} addresses; at most 2 are allowed.`)
  list.forEach((a, j) => {
    const at = Array.isArray(ud.address) ? `user_data.address[${j}]` : 'user_data.address'
    if (!isObject(a)) return add(at, 'VALUE_INVALID', `${at} must be an object, not ${describe(a)}.`)
    for (const key of ['sha256_first_name', 'sha256_last_name', 'sha256_street']) checkHashes(add, `${at}.${key}`, a[key], 1)
    for (const key of ['city', 'region', 'postal_code', 'country']) {
      if (a[key] !== undefined && typeof a[key] !== 'string') add(`${at}.${key}`, 'VALUE_INVALID', `${at}.${key} must be a string, not ${describe(a[key])}.`)
    }
  })
}

function checkConsent (add: Add, consent: unknown): void {
  if (consent === undefined) return
  if (!isObject(consent)) return add('consent', 'VALUE_INVALID', `consent must be an object, not ${describe(consent)}.`)
  for (const key of ['ad_user_data', 'ad_personalization']) {
    const v = consent[key]
    if (v !== undefined && (typeof v !== 'string' || !['GRANTED', 'DENIED'].includes(v.toUpperCase()))) {
      add(`consent.${key}`, 'VALUE_INVALID', `consent.${key} must be "GRANTED" or "DENIED".`)
    }
  }
}

function checkId (add: Add, body: Obj, key: string): boolean {
  const v = body[key]
  if (v === undefined) return false
  if (typeof v === 'string' && v !== '') return true
  add(key, 'VALUE_INVALID', `${key} must be a non-empty string.`)
  return true // present, even if broken: don't also report it missing
}

/**
 * Every problem of an MP body, in MP's own terms (the validation codes above). Empty when the body
 * is valid. `limits: false` leaves out what is past GA4's collection limits: value lengths, and
 * the counts of parameters, user properties and custom item parameters (see the top of this file).
 */
export function validateMp (body: unknown, opts: { limits?: boolean } = {}): MpProblem[] {
  const problems: MpProblem[] = []
  const add: Add = (path, validationCode, message) => { problems.push({ path, message, validationCode }) }
  const limits: Limits = opts.limits === false
    ? { long: () => false, many: () => false }
    : { long: longerThan, many: (n, max) => n > max }
  if (!isObject(body)) {
    add('', 'VALUE_INVALID', 'The Measurement Protocol body must be a JSON object.')
    return problems
  }
  const web = checkId(add, body, 'client_id')
  const app = checkId(add, body, 'app_instance_id')
  if (!web && !app) add('client_id', 'VALUE_REQUIRED', 'client_id (web streams) or app_instance_id (app streams) is required.')
  if (body.user_id !== undefined && typeof body.user_id !== 'string') add('user_id', 'VALUE_INVALID', 'user_id must be a string.')
  if (body.ip_override !== undefined && (typeof body.ip_override !== 'string' || isIP(body.ip_override) === 0)) add('ip_override', 'VALUE_INVALID', 'ip_override must be an IPv4 or IPv6 address.')
  if (body.user_agent !== undefined && (typeof body.user_agent !== 'string' || hasControlChars(body.user_agent))) add('user_agent', 'VALUE_INVALID', 'user_agent must be a string without control characters.')
  if (body.non_personalized_ads !== undefined && typeof body.non_personalized_ads !== 'boolean') {
    add('non_personalized_ads', 'VALUE_INVALID', 'non_personalized_ads must be true or false.')
  }
  checkMicros(add, 'timestamp_micros', body.timestamp_micros)
  checkUserProperties(add, limits, body.user_properties)
  checkUserData(add, body.user_data)
  checkConsent(add, body.consent)
  const events = body.events
  if (events === undefined) add('events', 'VALUE_REQUIRED', 'events is required: an array of up to 25 events.')
  else if (!Array.isArray(events)) add('events', 'VALUE_INVALID', `events must be an array, not ${describe(events)}.`)
  else {
    if (events.length > MAX_EVENTS) add('events', 'EXCEEDED_MAX_ENTITIES', `The request has ${events.length} events; at most ${MAX_EVENTS} are allowed.`)
    events.slice(0, MAX_EVENTS).forEach((ev, i) => checkEvent(add, limits, i, ev, app && !web))
  }
  return problems.length > MAX_PROBLEMS ? problems.slice(0, MAX_PROBLEMS) : problems
}
