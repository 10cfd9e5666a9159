// Per-field normalisation of user data before it is hashed, one rule per destination where the
// destinations' own rules differ: a hash only matches when it is byte for byte what the platform's
// pixel or SDK hashed. Every function is total: a non-string or unusable value gives undefined.
// Text is NFC before anything else (NFKC for digit fields: full-width digits become ASCII).
//
//   Meta   https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
//          (silent on external_id: Meta's own normaliser, https://github.com/facebook/capi-param-builder)
//   TikTok https://business-api.tiktok.com/portal/docs?id=1771101027431425 and its server template
//          https://github.com/tiktok/gtm-template-eapi (template.tpl: the hashing and the +86 rule)
//   Google https://developers.google.com/analytics/devguides/collection/ga4/uid-data (GA4 MP user_data)
import { COUNTRY_NAMES, US_CA_REGIONS, lookupKey } from './pii-tables.js'
import { placePhone, type PlacedPhone } from './pii-phone.js'

export type PiiFlavour = 'meta' | 'tiktok' | 'google'
export interface PiiOptions {
  /** ISO 3166-1 alpha-2, e.g. 'US': the country national phone numbers are read in. */
  defaultCountry?: string
  /** How an ambiguous `a/b/yyyy` birth date is read: 'mdy' (US, default) or 'dmy'. */
  dateOrder?: 'mdy' | 'dmy'
}

const nonEmpty = (s: string): string | undefined => s === '' ? undefined : s
// Punctuation and symbols (emoji included): the "symbol characters" of Google's rules and the
// "punctuation, special characters" of Meta's. Control and format characters other than
// whitespace are never part of a value anyone typed, and never sent.
const SYMBOLS = /[\p{P}\p{S}]|(?!\s)\p{C}/gu
const DIGITS = /\p{N}/gu
const SPACES = /[\s\p{Z}]+/gu

/** Meta's text rule (names, city, state): lower-case, no spaces, punctuation or symbols. */
function squeezed (s: string): string | undefined {
  return nonEmpty(s.normalize('NFC').toLowerCase().replace(SYMBOLS, '').replace(SPACES, ''))
}

/** Google's text rule: lower-case, symbols (and digits when asked) removed, trimmed; inner spaces stay. */
function googleText (s: string, dropDigits: boolean): string | undefined {
  let t = s.normalize('NFC').toLowerCase().replace(SYMBOLS, '')
  if (dropDigits) t = t.replace(DIGITS, '')
  return nonEmpty(t.trim())
}

const EMAIL = /^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]+$/u
/**
 * Meta and TikTok (its template: lower-case, trim): trimmed and lower-cased. Google: also every
 * space removed, and the dots of a gmail.com / googlemail.com local part. (Google's Data Manager
 * API also cuts a Gmail "+tag"; the GA4 page, which governs Measurement Protocol, does not.)
 */
export function normalizeEmail (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string' || s.length > 512) return undefined
  let e = s.normalize('NFC').trim().toLowerCase()
  if (flavour === 'google') e = e.replace(SPACES, '')
  if (e.length > 254 || !EMAIL.test(e)) return undefined
  if (flavour !== 'google') return e
  const at = e.lastIndexOf('@')
  const domain = e.slice(at + 1)
  if (domain !== 'gmail.com' && domain !== 'googlemail.com') return e
  const local = e.slice(0, at).replace(/\./g, '')
  return local === '' ? undefined : `${local}@${domain}`
}

/**
 * A placed number in each platform's format. Meta: the E.164 digits without '+' ("remove
 * symbols … include the country code": 16505551212). TikTok: '+' E.164, except a number of country
 * code 86 (mainland China), sent without its country code (13800000000), as TikTok's template
 * says. Google: '+' E.164 ("remove all non digit characters, add + prefix").
 */
export function formatPhone (p: PlacedPhone, flavour: PiiFlavour): string {
  if (flavour === 'meta') return p.e164.slice(1)
  if (flavour === 'tiktok' && p.callingCode === '86') return p.national
  return p.e164
}

/** The phone as `flavour` hashes it, or undefined (no country to place a national number in, or not a number). */
export function normalizePhone (s: string, flavour: PiiFlavour, defaultCountry?: string): string | undefined {
  const p = placePhone(s, defaultCountry)
  return typeof p === 'string' ? undefined : formatPhone(p, flavour)
}

/**
 * First or last name. Meta: lower-case, no punctuation, no spaces (its pixel strips both, so
 * "Mary Ann" is "maryann"). TikTok publishes no rule of its own for names: Meta's. Google: digits
 * and symbols removed, lower-case, trimmed ("Mary Ann" stays "mary ann").
 */
export function normalizeName (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string') return undefined
  return flavour === 'google' ? googleText(s, true) : squeezed(s)
}

/** Street (Google only: Meta and TikTok take none): symbols removed, lower-case, trimmed. */
export function normalizeStreet (s: string): string | undefined {
  return typeof s === 'string' ? googleText(s, false) : undefined
}

/** Meta (and TikTok): `New York` → `newyork`, digits kept. Google: digits and symbols removed, spaces kept. */
export function normalizeCity (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string') return undefined
  return flavour === 'google' ? googleText(s, true) : squeezed(s)
}

/**
 * State or region. Meta (and TikTok): the 2-letter code of a US state or Canadian province
 * (`California` → `ca`) when the country is US, CA or unknown; elsewhere lower-case with no
 * spaces or punctuation ("normalize states outside the U.S. in lowercase"), never cut to two
 * letters. Google: the region as written, digits and symbols removed, lower-case, trimmed
 * (its own example sends `california`): no code is made up.
 */
export function normalizeRegion (s: string, flavour: PiiFlavour, country?: string): string | undefined {
  if (typeof s !== 'string') return undefined
  if (flavour === 'google') return googleText(s, true)
  const c = country === undefined ? undefined : normalizeCountry(country, 'meta')
  if (c === undefined || c === 'us' || c === 'ca') {
    const code = US_CA_REGIONS.get(lookupKey(s))
    if (code !== undefined) return code
  }
  return squeezed(s)
}

/**
 * Meta (and TikTok): lower-case, no spaces and no dash; a US ZIP (or, with no country, a ZIP or
 * ZIP+4 shape) keeps its first 5 digits. Google: only `.` and `~` removed and the ends trimmed
 * ("SW1A 1AA" stays as it is).
 */
export function normalizePostalCode (s: string, flavour: PiiFlavour, country?: string): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const t = s.normalize('NFKC')
  if (flavour === 'google') return nonEmpty(t.replace(/[.~]/g, '').trim())
  const z = t.toLowerCase().replace(/[\s\p{Z}-]+/gu, '')
  const c = country === undefined ? undefined : normalizeCountry(country, 'meta')
  if (c === 'us' || (c === undefined && /^\d{5}(\d{4})?$/.test(z))) return /^\d{5}/.test(z) ? z.slice(0, 5) : undefined
  return /^[\p{L}\p{N}]+$/u.test(z) ? z : undefined
}

/**
 * ISO 3166-1 alpha-2 (common names and alpha-3 codes of the main markets mapped): lower-case for
 * Meta and TikTok (`us`), upper-case for Google, whose own example sends `US`.
 */
export function normalizeCountry (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string' || s.length > 100) return undefined
  const k = lookupKey(s)
  const code = COUNTRY_NAMES.get(k) ?? (k.length === 2 ? k : undefined)
  return code !== undefined && flavour === 'google' ? code.toUpperCase() : code
}

/** Meta: `f` or `m`. (TikTok and Google take no gender; the webhook sends Meta's.) */
export function normalizeGender (s: string): 'f' | 'm' | undefined {
  if (typeof s !== 'string') return undefined
  const g = s.normalize('NFC').trim().toLowerCase()
  return g === 'f' || g === 'female' ? 'f' : g === 'm' || g === 'male' ? 'm' : undefined
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
/**
 * Meta: YYYYMMDD, year 1900–this year. Accepts an 8-digit run (YYYYMMDD first, then MMDDYYYY /
 * DDMMYYYY), or three groups where the year is the 4-digit group (first: Y-M-D; last: the other
 * two are day and month). English month names are understood. An ambiguous `a/b/yyyy` with both
 * ≤ 12 is read month-first (US) unless `dateOrder: 'dmy'`. Two-digit years are rejected.
 */
export function normalizeDateOfBirth (s: string, opts?: PiiOptions): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const dmy = opts?.dateOrder === 'dmy'
  const t = s.normalize('NFKC').trim().toLowerCase()
  if (/^\d{8}$/.test(t)) {
    const a = t.slice(0, 2); const b = t.slice(2, 4); const y = t.slice(4)
    return ymd(t.slice(0, 4), t.slice(4, 6), t.slice(6)) ?? (dmy ? ymd(y, b, a) ?? ymd(y, a, b) : ymd(y, a, b) ?? ymd(y, b, a))
  }
  let month: string | undefined
  const text = t.replace(/\b([a-z]{3})[a-z]*/g, (_w, m: string) => {
    const i = MONTHS.indexOf(m)
    if (i >= 0) month ??= String(i + 1)
    return ' '
  })
  const g = text.match(/\d+/g)?.slice(0, 3) ?? [] // ISO timestamps: the time part is ignored
  if (month !== undefined) {
    if (g.length !== 2) return undefined
    const yi = g.findIndex(x => x.length === 4)
    return yi < 0 ? undefined : ymd(g[yi], month, g[1 - yi])
  }
  if (g.length !== 3) return undefined
  if (g[0].length === 4) return ymd(g[0], g[1], g[2])
  if (g[2].length !== 4) return undefined
  const [a, b] = [Number(g[0]), Number(g[1])]
  const dayFirst = a > 12 || (b <= 12 && dmy)
  return dayFirst ? ymd(g[2], g[1], g[0]) : ymd(g[2], g[0], g[1])
}

function ymd (y: string, m: string, d: string): string | undefined {
  const [Y, M, D] = [Number(y), Number(m), Number(d)]
  if (!Number.isInteger(Y) || !Number.isInteger(M) || !Number.isInteger(D) || y.length !== 4) return undefined
  if (Y < 1900 || Y > new Date().getUTCFullYear() || M < 1 || M > 12 || D < 1) return undefined
  if (D > new Date(Date.UTC(Y, M, 0)).getUTCDate()) return undefined // day past the month's end
  return `${Y}${String(M).padStart(2, '0')}${String(D).padStart(2, '0')}`
}

/**
 * External id: case-sensitive, so each side must hash the same string. Meta: lower-case with no
 * whitespace, what its own normaliser does (capi-param-builder, StringUtils getNormalizedExternalID:
 * lowercase, strip whitespace_only). TikTok: trimmed only, what its server template hashes
 * (`hash(external_id, false)`: no lower-casing) and what its pixel's template hands ttq.identify
 * as it is. Google takes none (GA4 has user_id, sent raw); the webhook gets TikTok's rule.
 */
export function normalizeExternalId (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string') return undefined
  const t = s.normalize('NFC')
  return nonEmpty(flavour === 'meta' ? t.toLowerCase().replace(SPACES, '') : t.trim())
}
