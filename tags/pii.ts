// User-data hashing for Meta CAPI, TikTok Events API and GA4 MP: each field normalised the
// destination's way (pii-normalize.ts), then SHA-256. What a tag's prepare() calls, so the queue,
// spool and dead letters only ever hold digests (and the clear-text address parts a vendor wants).
import * as crypto from 'node:crypto'
import type { TaglineEvent, UserData } from '../schemas/event.js'
import {
  formatPhone, normalizeCity, normalizeCountry, normalizeDateOfBirth, normalizeEmail, normalizeExternalId, normalizeGender,
  normalizeName, normalizePostalCode, normalizeRegion, normalizeStreet, type PiiFlavour, type PiiOptions
} from './pii-normalize.js'
import { placePhone } from './pii-phone.js'
import type { DropReason, UserDataField } from './types.js'

type HashFn = (alg: string, data: string, enc: 'hex') => string
const fastHash = (crypto as { hash?: HashFn }).hash // Node >= 20.12: one call, ~3x faster
// Contact details by name, wherever a sender put them (params.email, up.phone): raw, they may
// go nowhere but user_data, which every tag hashes. In a GA4 hit the name carries its kind
// (`ep.phone`, `upn.email`): the bare name counts.
const CONTACT_NAMES = new Set(['email', 'email_address', 'phone', 'phone_number'])

/** A parameter's own name, lower-cased, without a GA4 hit's kind prefix: `EP.Phone` → `phone`. */
export function bareParamName (key: string): string {
  return key.toLowerCase().replace(/^(?:ep|epn|up|upn)\./, '')
}

/** A parameter or user property that holds contact details by its name (`phone`, `ep.email`). */
export function isContactName (key: string): boolean {
  return CONTACT_NAMES.has(bareParamName(key))
}

export function sha256Hex (s: string): string {
  return fastHash !== undefined ? fastHash('sha256', s, 'hex') : crypto.createHash('sha256').update(s).digest('hex')
}

const HEX64 = /^[a-f0-9]{64}$/i
export function isSha256Hex (s: string): boolean {
  return typeof s === 'string' && s.length < 200 && HEX64.test(s.trim())
}

const str = (v: unknown): string | undefined => {
  if (Array.isArray(v)) v = v.find(x => typeof x === 'string') // GA4 MP allows arrays; we keep one
  return typeof v === 'string' ? v : undefined
}
/** A normaliser's answer: the value to hash or send, or why there is none. */
type Norm = (s: string) => DropReason | { value: string }
const ok = (v: string | undefined): { value: string } | DropReason => v === undefined ? 'invalid' : { value: v }

// One field: a valid hash (sha256_* key first, then the raw key) passes through lower-cased;
// anything else is normalised and hashed — even text found in a sha256_* key, so clear PII
// can never leak through a mislabelled key. A value given but unusable is reported (blank is not).
function field (hashed: unknown, raw: unknown, norm: Norm, drop: (r: DropReason) => void): string | undefined {
  let why: DropReason | undefined
  for (const v of [str(hashed), str(raw)]) {
    if (v === undefined || v.trim() === '') continue
    if (isSha256Hex(v)) return v.trim().toLowerCase()
    const n = norm(v)
    if (typeof n === 'object') return sha256Hex(n.value)
    why ??= n
  }
  if (why !== undefined) drop(why)
  return undefined
}
// Cleartext address parts (TikTok/Google city/region/country, Google postal code).
// Clear text wins (it is what these vendors match on); a hash is kept only as the fallback.
function clear (hashed: unknown, raw: unknown, norm: Norm, drop: (r: DropReason) => void): ['clear' | 'hash', string] | undefined {
  let hash: string | undefined
  let why: DropReason | undefined
  for (const v of [str(raw), str(hashed)]) {
    if (v === undefined || v.trim() === '') continue
    if (isSha256Hex(v)) { hash ??= v.trim().toLowerCase(); continue }
    const n = norm(v)
    if (typeof n === 'object') return ['clear', n.value]
    why ??= n
  }
  if (hash !== undefined) return ['hash', hash]
  if (why !== undefined) drop(why)
  return undefined
}

export interface HashOptions extends PiiOptions {
  /** Told of each field that was given but cannot be sent, and why. */
  onDrop?: (field: UserDataField, reason: DropReason) => void
}

/**
 * Normalise then SHA-256 every raw identity field the way `flavour` wants; values that are already
 * digests pass through. The address country (when given) beats `opts.defaultCountry` as the
 * phone's country: it is the customer's own, the option is the site's. A national phone number
 * with neither is not sent (reported as `no_country`): guessing would hash another number.
 */
export function hashUserData (ud: UserData | undefined, flavour: PiiFlavour, opts?: HashOptions): UserData | undefined {
  try {
    if (ud === null || typeof ud !== 'object') return undefined
    const a: Record<string, unknown> = ud.address !== null && typeof ud.address === 'object' ? ud.address : {}
    const rawCountry = str(a.country) ?? str(a.sha256_country)
    const country = rawCountry === undefined ? undefined : normalizeCountry(rawCountry, 'meta')
    const phoneCountry = country ?? (typeof opts?.defaultCountry === 'string' ? opts.defaultCountry : undefined)
    const onDrop = opts?.onDrop
    const dropped = (f: UserDataField) => (r: DropReason): void => {
      try { onDrop?.(f, r) } catch {} // a failing listener costs the report, never the event
    }
    const phone: Norm = s => {
      const p = placePhone(s, phoneCountry)
      return typeof p === 'string' ? p : { value: formatPhone(p, flavour) }
    }
    const out: UserData = {}
    const addr: NonNullable<UserData['address']> = {}
    const set = (o: Record<string, unknown>, k: string, v: string | undefined): void => { if (v !== undefined) o[k] = v }
    set(out, 'sha256_email_address', field(ud.sha256_email_address, ud.email_address, s => ok(normalizeEmail(s, flavour)), dropped('email_address')))
    set(out, 'sha256_phone_number', field(ud.sha256_phone_number, ud.phone_number, phone, dropped('phone_number')))
    set(out, 'sha256_external_id', field(ud.sha256_external_id, ud.external_id, s => ok(normalizeExternalId(s, flavour)), dropped('external_id')))
    set(out, 'sha256_gender', field(ud.sha256_gender, ud.gender, s => ok(normalizeGender(s)), dropped('gender')))
    set(out, 'sha256_date_of_birth', field(ud.sha256_date_of_birth, ud.date_of_birth, s => ok(normalizeDateOfBirth(s, opts)), dropped('date_of_birth')))
    set(addr, 'sha256_first_name', field(a.sha256_first_name, a.first_name, s => ok(normalizeName(s, flavour)), dropped('first_name')))
    set(addr, 'sha256_last_name', field(a.sha256_last_name, a.last_name, s => ok(normalizeName(s, flavour)), dropped('last_name')))
    set(addr, 'sha256_street', field(a.sha256_street, a.street, s => ok(normalizeStreet(s)), dropped('street')))
    const parts: Array<['city' | 'region' | 'postal_code' | 'country', (s: string) => string | undefined, boolean]> = [
      ['city', s => normalizeCity(s, flavour), flavour !== 'meta'],
      ['region', s => normalizeRegion(s, flavour, country), flavour !== 'meta'],
      ['postal_code', s => normalizePostalCode(s, flavour, country), flavour === 'google'],
      ['country', s => normalizeCountry(s, flavour), flavour !== 'meta']
    ]
    for (const [k, norm, cleartext] of parts) {
      const n: Norm = s => ok(norm(s))
      if (!cleartext) { set(addr, `sha256_${k}`, field(a[`sha256_${k}`], a[k], n, dropped(k))); continue }
      const c = clear(a[`sha256_${k}`], a[k], n, dropped(k))
      if (c !== undefined) set(addr, c[0] === 'clear' ? k : `sha256_${k}`, c[1])
    }
    if (Object.keys(addr).length > 0) out.address = addr
    return Object.keys(out).length > 0 ? out : undefined
  } catch {
    return undefined // a hostile object (throwing getter, proxy): drop the user data, never the event
  }
}

/**
 * The event's own copy with its user data hashed for `flavour` — what a tag's prepare() queues.
 * With `userIdAsExternalId`, the user id becomes the external_id (it must equal what the pixel
 * sends). Raw values never survive; an event with nothing to hash is returned as it is. Total.
 */
export function withHashedUserData (event: TaglineEvent, flavour: PiiFlavour, opts: HashOptions & { userIdAsExternalId?: boolean } = {}): TaglineEvent {
  const uid = opts.userIdAsExternalId === true && typeof event.user_id === 'string' && event.user_id.trim() !== '' ? event.user_id : undefined
  if (event.user_data === undefined && uid === undefined) return event
  let ud = event.user_data
  if (uid !== undefined && ud?.external_id === undefined && ud?.sha256_external_id === undefined) ud = { ...ud, external_id: uid }
  const hashed = hashUserData(ud, flavour, { defaultCountry: opts.defaultCountry, dateOrder: opts.dateOrder, onDrop: opts.onDrop })
  const { user_data: _raw, ...rest } = event
  return hashed === undefined ? rest : { ...rest, user_data: hashed }
}
