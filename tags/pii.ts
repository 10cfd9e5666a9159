// User-data normalisation and hashing for Meta CAPI, TikTok Events API and GA4 MP. Each vendor
// normalises a little differently (phones above all), so every normaliser takes the flavour. All
// functions are total: a non-string or unusable value gives undefined, never an exception. Rules:
//   Meta   https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
//   TikTok https://business-api.tiktok.com/portal/docs?id=1771101027431425
//   Google https://developers.google.com/analytics/devguides/collection/ga4/uid-data
import * as crypto from 'node:crypto'
import type { TaglineEvent, UserData } from '../schemas/event.js'

export type PiiFlavour = 'meta' | 'tiktok' | 'google'
export interface PiiOptions {
  /** ISO 3166-1 alpha-2, e.g. 'US': calling code prepended to national phone numbers. */
  defaultCountry?: string
  /** How an ambiguous `a/b/yyyy` birth date is read: 'mdy' (US, default) or 'dmy'. */
  dateOrder?: 'mdy' | 'dmy'
}

type HashFn = (alg: string, data: string, enc: 'hex') => string
const fastHash = (crypto as { hash?: HashFn }).hash // Node >= 20.12: one call, ~3x faster
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
const nonEmpty = (s: string): string | undefined => s === '' ? undefined : s
// Lower-case + NFC, then drop whitespace, punctuation, symbols (emoji) and controls; letters of
// every script and combining marks stay (Meta: "special characters allowed as UTF-8").
function clean (s: string, keepSpaces = false, dropDigits = false): string {
  let out = s.toLowerCase().normalize('NFC').replace(/[\p{P}\p{S}\p{C}]+/gu, '')
  if (dropDigits) out = out.replace(/\p{N}+/gu, '')
  return keepSpaces ? out.replace(/\s+/gu, ' ').trim() : out.replace(/[\s\p{Z}]+/gu, '')
}
// Diacritic-free ASCII letters only: lookup key for the country and region name tables.
const key = (s: string): string => s.normalize('NFD').toLowerCase().replace(/[^a-z]/g, '')

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

// Calling code, national significant number length range, and trunk prefix handling:
// 't' a leading 0 is a trunk prefix (dropped), 'n' no trunk prefix, 'k' the 0 is part of the number (IT).
const PHONE: Record<string, [string, number, number, 't' | 'n' | 'k']> = {
  US: ['1', 10, 10, 'n'], CA: ['1', 10, 10, 'n'], MX: ['52', 10, 10, 'n'], BR: ['55', 10, 11, 't'],
  GB: ['44', 9, 10, 't'], IE: ['353', 7, 9, 't'], DE: ['49', 6, 12, 't'], FR: ['33', 9, 9, 't'],
  ES: ['34', 9, 9, 'n'], IT: ['39', 6, 11, 'k'], NL: ['31', 9, 9, 't'], BE: ['32', 8, 9, 't'],
  AT: ['43', 6, 13, 't'], CH: ['41', 9, 9, 't'], SE: ['46', 7, 10, 't'], NO: ['47', 8, 8, 'n'],
  DK: ['45', 8, 8, 'n'], FI: ['358', 6, 11, 't'], PL: ['48', 9, 9, 'n'], PT: ['351', 9, 9, 'n'],
  CZ: ['420', 9, 9, 'n'], GR: ['30', 10, 10, 'n'], LU: ['352', 6, 11, 'n'], AU: ['61', 9, 9, 't'],
  NZ: ['64', 8, 10, 't'], JP: ['81', 9, 10, 't'], IN: ['91', 10, 10, 't'], ZA: ['27', 9, 9, 't'],
  SG: ['65', 8, 8, 'n'], HK: ['852', 8, 8, 'n'], AE: ['971', 8, 9, 't'], IL: ['972', 8, 9, 't'],
  TR: ['90', 10, 10, 't'], KR: ['82', 8, 10, 't'], RO: ['40', 9, 9, 't']
}

/** Meta: digits with country code, no '+' (16505551212). TikTok/Google: E.164 (+16505551212). */
export function normalizePhone (s: string, flavour: PiiFlavour, defaultCountry?: string): string | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined
  const t = s.normalize('NFKC').replace(/\s*(?:ext\.?|x|#)\s*\d{1,6}\s*$/i, '').trim() // drop an extension
  let d = t.replace(/\D/g, '')
  let intl = t.startsWith('+') || d.startsWith('00')
  if (!intl && d !== '') {
    const plan = typeof defaultCountry === 'string' ? PHONE[defaultCountry.trim().toUpperCase()] : undefined
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

const REGIONS = new Map(('alabama:al,alaska:ak,arizona:az,arkansas:ar,california:ca,colorado:co,connecticut:ct,' +
  'delaware:de,districtofcolumbia:dc,washingtondc:dc,florida:fl,georgia:ga,hawaii:hi,idaho:id,illinois:il,' +
  'indiana:in,iowa:ia,kansas:ks,kentucky:ky,louisiana:la,maine:me,maryland:md,massachusetts:ma,michigan:mi,' +
  'minnesota:mn,mississippi:ms,missouri:mo,montana:mt,nebraska:ne,nevada:nv,newhampshire:nh,newjersey:nj,' +
  'newmexico:nm,newyork:ny,northcarolina:nc,northdakota:nd,ohio:oh,oklahoma:ok,oregon:or,pennsylvania:pa,' +
  'rhodeisland:ri,southcarolina:sc,southdakota:sd,tennessee:tn,texas:tx,utah:ut,vermont:vt,virginia:va,' +
  'washington:wa,westvirginia:wv,wisconsin:wi,wyoming:wy,puertorico:pr,guam:gu,americansamoa:as,' +
  'virginislands:vi,usvirginislands:vi,northernmarianaislands:mp,alberta:ab,britishcolumbia:bc,manitoba:mb,' +
  'newbrunswick:nb,newfoundlandandlabrador:nl,newfoundland:nl,novascotia:ns,ontario:on,princeedwardisland:pe,' +
  'quebec:qc,saskatchewan:sk,northwestterritories:nt,nunavut:nu,yukon:yt').split(',').map(p => p.split(':') as [string, string]))

/**
 * US/CA state and province names → 2-letter codes (Meta wants `ca` for California), applied when
 * the country is US, CA or unknown — never elsewhere (Meta's own library truncates every region
 * to two characters, which mangles non-US values). Other regions: cleaned like a city.
 */
export function normalizeRegion (s: string, flavour: PiiFlavour = 'meta', country?: string): string | undefined {
  if (typeof s !== 'string') return undefined
  const c = country === undefined ? undefined : normalizeCountry(country)
  if (c === undefined || c === 'us' || c === 'ca') {
    const code = REGIONS.get(key(s))
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

const COUNTRIES = new Map(('unitedstates:us,unitedstatesofamerica:us,usa:us,america:us,uk:gb,unitedkingdom:gb,' +
  'greatbritain:gb,britain:gb,england:gb,scotland:gb,wales:gb,northernireland:gb,gbr:gb,canada:ca,can:ca,' +
  'ireland:ie,irl:ie,germany:de,deutschland:de,deu:de,france:fr,fra:fr,spain:es,espana:es,esp:es,italy:it,' +
  'italia:it,ita:it,netherlands:nl,thenetherlands:nl,holland:nl,nederland:nl,nld:nl,belgium:be,belgique:be,' +
  'belgie:be,bel:be,austria:at,osterreich:at,aut:at,switzerland:ch,schweiz:ch,suisse:ch,svizzera:ch,che:ch,' +
  'sweden:se,sverige:se,swe:se,norway:no,norge:no,nor:no,denmark:dk,danmark:dk,dnk:dk,finland:fi,suomi:fi,' +
  'fin:fi,poland:pl,polska:pl,pol:pl,portugal:pt,prt:pt,czechia:cz,czechrepublic:cz,cze:cz,australia:au,' +
  'aus:au,newzealand:nz,nzl:nz,japan:jp,jpn:jp,brazil:br,brasil:br,bra:br,mexico:mx,mex:mx,india:in,ind:in,' +
  'southafrica:za,singapore:sg,hongkong:hk,unitedarabemirates:ae,israel:il,turkey:tr,turkiye:tr,' +
  'southkorea:kr,korea:kr,romania:ro,greece:gr,luxembourg:lu,china:cn').split(',').map(p => p.split(':') as [string, string]))

/** ISO 3166-1 alpha-2, lower-case; common names and alpha-3 codes of the main markets are mapped. */
export function normalizeCountry (s: string): string | undefined {
  if (typeof s !== 'string' || s.length > 100) return undefined
  const k = key(s)
  return COUNTRIES.get(k) ?? (k.length === 2 ? k : undefined)
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

// One field: a valid hash (sha256_* key first, then the raw key) passes through lower-cased;
// anything else is normalised and hashed — even text found in a sha256_* key, so clear PII
// can never leak through a mislabelled key.
function field (hashed: unknown, raw: unknown, norm: (s: string) => string | undefined): string | undefined {
  for (const v of [str(hashed), str(raw)]) {
    if (v === undefined) continue
    if (isSha256Hex(v)) return v.trim().toLowerCase()
    const n = norm(v)
    if (n !== undefined) return sha256Hex(n)
  }
  return undefined
}
// Cleartext address parts (TikTok/Google city/region/country, Google postal code).
// Clear text wins (it is what these vendors match on); a hash is kept only as the fallback.
function clear (hashed: unknown, raw: unknown, norm: (s: string) => string | undefined): ['clear' | 'hash', string] | undefined {
  let hash: string | undefined
  for (const v of [str(raw), str(hashed)]) {
    if (v === undefined) continue
    if (isSha256Hex(v)) { hash ??= v.trim().toLowerCase(); continue }
    const n = norm(v)
    if (n !== undefined) return ['clear', n]
  }
  return hash === undefined ? undefined : ['hash', hash]
}

/**
 * Normalise then SHA-256 every raw identity field the way `flavour` wants; values that are already
 * digests pass through. The address country (when given) beats `opts.defaultCountry` as the
 * phone's default country: it is the customer's own, the option is the site's.
 */
export function hashUserData (ud: UserData | undefined, flavour: PiiFlavour, opts?: PiiOptions): UserData | undefined {
  try {
    if (ud === null || typeof ud !== 'object') return undefined
    const a: Record<string, unknown> = ud.address !== null && typeof ud.address === 'object' ? ud.address : {}
    const rawCountry = str(a.country) ?? str(a.sha256_country)
    const country = rawCountry === undefined ? undefined : normalizeCountry(rawCountry)
    const phoneCountry = country ?? (typeof opts?.defaultCountry === 'string' ? opts.defaultCountry : undefined)
    const out: UserData = {}
    const addr: NonNullable<UserData['address']> = {}
    const set = (o: Record<string, unknown>, k: string, v: string | undefined): void => { if (v !== undefined) o[k] = v }
    set(out, 'sha256_email_address', field(ud.sha256_email_address, ud.email_address, s => normalizeEmail(s, flavour)))
    set(out, 'sha256_phone_number', field(ud.sha256_phone_number, ud.phone_number, s => normalizePhone(s, flavour, phoneCountry)))
    set(out, 'sha256_external_id', field(ud.sha256_external_id, ud.external_id, normalizeExternalId))
    set(out, 'sha256_gender', field(ud.sha256_gender, ud.gender, normalizeGender))
    set(out, 'sha256_date_of_birth', field(ud.sha256_date_of_birth, ud.date_of_birth, s => normalizeDateOfBirth(s, opts)))
    set(addr, 'sha256_first_name', field(a.sha256_first_name, a.first_name, s => normalizeName(s, flavour)))
    set(addr, 'sha256_last_name', field(a.sha256_last_name, a.last_name, s => normalizeName(s, flavour)))
    set(addr, 'sha256_street', field(a.sha256_street, a.street, normalizeStreet))
    const parts: Array<[string, (s: string) => string | undefined, boolean]> = [
      ['city', s => normalizeCity(s, flavour), flavour !== 'meta'],
      ['region', s => normalizeRegion(s, flavour, country), flavour !== 'meta'],
      ['postal_code', s => normalizePostalCode(s, country), flavour === 'google'],
      ['country', normalizeCountry, flavour !== 'meta']
    ]
    for (const [k, norm, cleartext] of parts) {
      if (!cleartext) { set(addr, `sha256_${k}`, field(a[`sha256_${k}`], a[k], norm)); continue }
      const c = clear(a[`sha256_${k}`], a[k], norm)
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
export function withHashedUserData (event: TaglineEvent, flavour: PiiFlavour, opts: PiiOptions & { userIdAsExternalId?: boolean } = {}): TaglineEvent {
  const uid = opts.userIdAsExternalId === true && typeof event.user_id === 'string' && event.user_id.trim() !== '' ? event.user_id : undefined
  if (event.user_data === undefined && uid === undefined) return event
  let ud = event.user_data
  if (uid !== undefined && ud?.external_id === undefined && ud?.sha256_external_id === undefined) ud = { ...ud, external_id: uid }
  const hashed = hashUserData(ud, flavour, { defaultCountry: opts.defaultCountry, dateOrder: opts.dateOrder })
  const { user_data: _raw, ...rest } = event
  return hashed === undefined ? rest : { ...rest, user_data: hashed }
}
