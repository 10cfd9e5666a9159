// Per-field normalisation of user data before it is hashed, in each destination's flavour (Meta,
// TikTok and Google differ, phones above all). All functions are total: a non-string or unusable
// value gives undefined, never an exception. The vendors' rules:
//   Meta   https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
//   TikTok https://business-api.tiktok.com/portal/docs?id=1771101027431425
//   Google https://developers.google.com/analytics/devguides/collection/ga4/uid-data
import { COUNTRY_NAMES, PHONE_PLANS, US_CA_REGIONS, lookupKey } from './pii-tables.js'

export type PiiFlavour = 'meta' | 'tiktok' | 'google'
export interface PiiOptions {
  /** ISO 3166-1 alpha-2, e.g. 'US': calling code prepended to national phone numbers. */
  defaultCountry?: string
  /** How an ambiguous `a/b/yyyy` birth date is read: 'mdy' (US, default) or 'dmy'. */
  dateOrder?: 'mdy' | 'dmy'
}

const nonEmpty = (s: string): string | undefined => s === '' ? undefined : s
// Lower-case + NFC, then drop whitespace, punctuation, symbols (emoji) and controls; letters of
// every script and combining marks stay (Meta: "special characters allowed as UTF-8").
function clean (s: string, keepSpaces = false, dropDigits = false): string {
  let out = s.toLowerCase().normalize('NFC').replace(/[\p{P}\p{S}\p{C}]+/gu, '')
  if (dropDigits) out = out.replace(/\p{N}+/gu, '')
  return keepSpaces ? out.replace(/\s+/gu, ' ').trim() : out.replace(/[\s\p{Z}]+/gu, '')
}

const EMAIL = /^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]+$/u
export function normalizeEmail (s: string, flavour: PiiFlavour): string | undefined {
  if (typeof s !== 'string' || s.length > 512) return undefined
  const e = s.trim().toLowerCase().normalize('NFC')
  if (e.length > 254 || !EMAIL.test(e)) return undefined
  if (flavour !== 'google') return e // Meta/TikTok: trim + lower-case only, no Gmail rule
  const at = e.lastIndexOf('@')
  const domain = e.slice(at + 1)
  // Google only: dots in the local part of gmail.com / googlemail.com addresses are removed.
  if (domain !== 'gmail.com' && domain !== 'googlemail.com') return e
  const local = e.slice(0, at).replace(/\./g, '')
  return local === '' ? undefined : `${local}@${domain}`
}

/** Meta: digits with country code, no '+' (16505551212). TikTok/Google: E.164 (+16505551212). */
export function normalizePhone (s: string, flavour: PiiFlavour, defaultCountry?: string): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const t = s.normalize('NFKC').replace(/\s*(?:ext\.?|x|#)\s*\d{1,6}\s*$/i, '').trim() // drop an extension
  let d = t.replace(/\D/g, '')
  let intl = t.startsWith('+') || d.startsWith('00')
  if (!intl && d !== '') {
    const plan = typeof defaultCountry === 'string' ? PHONE_PLANS[defaultCountry.trim().toUpperCase()] : undefined
    if (plan === undefined) {
      intl = !d.startsWith('0') // a trunk 0 with no known country cannot be fixed: drop it
    } else {
      const [cc, min, max, trunk] = plan
      const fits = (n: number): boolean => n >= min && n <= max
      if (trunk === 'k' && /^0[1-9]/.test(d)) d = cc + d
      else if (trunk === 't' && /^0[1-9]/.test(d)) d = cc + d.slice(1)
      else if (/^0[1-9]/.test(d)) return undefined // a trunk 0 where the plan has none: another country's number
      else {
        // Without a trunk prefix a national number may itself begin with the calling code
        // (Norwegian 47…), so length decides; with one, a leading calling code means international.
        const looksIntl = d.startsWith(cc) && fits(d.length - cc.length) && (trunk === 't' || d.length > max)
        if (!looksIntl && fits(d.length)) d = cc + d
        else if (!looksIntl && d.length < min) return undefined
      }
      intl = true
    }
  }
  if (!intl) return undefined
  d = d.replace(/^0+/, '') // Meta: "remove any leading zeros" (also the 00 international prefix)
  if (d.length < 7 || d.length > 15) return undefined // E.164 allows at most 15 digits
  return flavour === 'meta' ? d : '+' + d
}

/** First/last name. Meta/TikTok: no spaces or punctuation; Google: also no digits, inner spaces kept. */
export function normalizeName (s: string, flavour: PiiFlavour = 'meta'): string | undefined {
  if (typeof s !== 'string') return undefined
  return nonEmpty(flavour === 'google' ? clean(s, true, true) : clean(s))
}

export function normalizeStreet (s: string): string | undefined {
  return typeof s === 'string' ? nonEmpty(clean(s, true)) : undefined
}

/** Meta: lower-case, no spaces/punctuation (`New York` → `newyork`); Google cleartext keeps spaces. */
export function normalizeCity (s: string, flavour: PiiFlavour = 'meta'): string | undefined {
  return typeof s === 'string' ? nonEmpty(clean(s, flavour === 'google')) : undefined
}

/**
 * US/CA state and province names → 2-letter codes (Meta wants `ca` for California), applied when
 * the country is US, CA or unknown — never elsewhere (Meta's own library truncates every region
 * to two characters, which mangles non-US values). Other regions: cleaned like a city.
 */
export function normalizeRegion (s: string, flavour: PiiFlavour = 'meta', country?: string): string | undefined {
  if (typeof s !== 'string') return undefined
  const c = country === undefined ? undefined : normalizeCountry(country)
  if (c === undefined || c === 'us' || c === 'ca') {
    const code = US_CA_REGIONS.get(lookupKey(s))
    if (code !== undefined) return code
  }
  return nonEmpty(clean(s, flavour === 'google'))
}

/** US (or ZIP/ZIP+4 shaped with no country): first 5 digits. Others: lower-case, no spaces/dashes/dots. */
export function normalizePostalCode (s: string, country?: string): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const z = s.toLowerCase().normalize('NFKC').replace(/[\s\p{Z}\-.~]+/gu, '')
  const c = country === undefined ? undefined : normalizeCountry(country)
  if (c === 'us' || (c === undefined && /^\d{5}(\d{4})?$/.test(z))) return /^\d{5}/.test(z) ? z.slice(0, 5) : undefined
  return /^[\p{L}\p{N}]+$/u.test(z) ? z : undefined
}

/** ISO 3166-1 alpha-2, lower-case; common names and alpha-3 codes of the main markets are mapped. */
export function normalizeCountry (s: string): string | undefined {
  if (typeof s !== 'string' || s.length > 100) return undefined
  const k = lookupKey(s)
  return COUNTRY_NAMES.get(k) ?? (k.length === 2 ? k : undefined)
}

export function normalizeGender (s: string): 'f' | 'm' | undefined {
  if (typeof s !== 'string') return undefined
  const g = s.trim().toLowerCase()
  return g === 'f' || g === 'female' ? 'f' : g === 'm' || g === 'male' ? 'm' : undefined
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
/**
 * → YYYYMMDD, year 1900–this year. Accepts an 8-digit run (YYYYMMDD first, then MMDDYYYY /
 * DDMMYYYY), or three groups where the year is the 4-digit group (first: Y-M-D; last: the other
 * two are day and month). English month names are understood. An ambiguous `a/b/yyyy` with both
 * ≤ 12 is read month-first (US) unless `dateOrder: 'dmy'`. Two-digit years are rejected.
 */
export function normalizeDateOfBirth (s: string, opts?: PiiOptions): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const dmy = opts?.dateOrder === 'dmy'
  const t = s.trim().toLowerCase()
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

export function normalizeExternalId (s: string): string | undefined {
  return typeof s === 'string' ? nonEmpty(s.normalize('NFC').toLowerCase().replace(/\s+/gu, '')) : undefined
}
