// GA4 gtag hits (`/g/collect`): shared parameters in the query, one event per body line, each line
// merged over the query. Google publishes no reference for this format; a public reverse-engineered
// one: https://thyngster.com/app-web-google-analytics-measurement-protocol-version-2
// This is the hot path: the query is parsed once and every parameter is routed by one switch.
import { isSafeKey, toNumber } from '../common/guards.js'
import type { Item } from '../schemas/event.js'
import { errors, type ErrorDetail } from '../common/errors.js'
import { consentFromHit } from './consent.js'
import { normalizeUserData } from './user-data.js'
import { scrubRaw } from '../protocol/ga4-raw-hit.js'
import { decodeItem, itemIndex } from './items.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'

const MAX_LINES = 100
// A real hit has a few dozen parameters (200 items at most add 200 more). Each event of a batch
// carries the query's parameters again, so 3,000 empty ones in a 16 KB query × 100 lines made
// 300,000 (a second of CPU for one request).
const MAX_PARAMS = 500

type Params = Record<string, string | number | boolean>
type Hit = Map<string, string>

// `ep.<name>` that are model keys rather than params (value/tax/shipping come as `epn.`).
const EP_MODEL: ReadonlySet<string> = new Set(['event_id', 'transaction_id', 'coupon'])
const EPN_MODEL: ReadonlySet<string> = new Set(['value', 'tax', 'shipping'])

const CAMPAIGN: Readonly<Record<string, string>> = { cs: 'source', cm: 'medium', cn: 'name', ck: 'term', cc: 'content', ci: 'id' }
const HINTS: Readonly<Record<string, string>> = {
  uaa: 'architecture', uab: 'bitness', uamb: 'mobile', uam: 'model', uap: 'platform', uapv: 'platform_version', uaw: 'wow64'
}

/** Body → trimmed non-empty lines; more than MAX_LINES is a broken request. */
function bodyLines (body: string): string[] {
  const lines: string[] = []
  if (body === '') return lines
  for (const raw of body.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (lines.length === MAX_LINES) {
      throw errors.invalidEvent(`A gtag request may carry at most ${MAX_LINES} events (body lines).`, [
        { path: 'body', message: `The body has more than ${MAX_LINES} non-empty lines.` }
      ])
    }
    lines.push(line)
  }
  return lines
}

function decodeSafe (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** `uafvl`: `brand;version` pairs joined by `|`, brands percent-encoded once more. */
function fullVersionList (v: string): Array<{ brand: string, version: string }> {
  return v.split('|').filter(p => p !== '').map(pair => {
    const semi = pair.indexOf(';')
    return semi < 0
      ? { brand: decodeSafe(pair), version: '' }
      : { brand: decodeSafe(pair.slice(0, semi)), version: pair.slice(semi + 1) }
  })
}

/** Collects `ep.user_data.*` (email, phone_number, address.0.first_name …) into GTM's nested shape. */
function addUserData (raw: Record<string, unknown>, sub: string, value: string): void {
  if (!sub.startsWith('address.')) {
    // A bare `address` has no place in the model (it holds fields), and must not stand where the
    // fields of `address.*` go.
    if (!sub.includes('.') && sub !== 'address' && isSafeKey(sub)) raw[sub] = value
    return
  }
  let field = sub.slice(8)
  const dot = field.indexOf('.')
  if (dot >= 0) {
    if (field.slice(0, dot) !== '0') return // the model holds one address
    field = field.slice(dot + 1)
  }
  if (!isSafeKey(field)) return
  const address = (raw.address ??= {}) as Record<string, unknown>
  address[field] = value
}

/** One merged parameter map → one event, or an error message when it has no usable `en`. */
function toEvent (hit: Hit, query: string, line: string | undefined): ParsedEvent | string {
  const en = hit.get('en')
  if (en === undefined || en === '') return 'has no event name (en)'
  if (en.length > 100) return 'has an event name (en) longer than 100 characters'

  const ev: ParsedEvent = { event_name: en }
  const x = ev as Record<string, unknown>
  const params: Params = {}
  const userProps: Params = {}
  const fallback: Params = {} // ep.value etc.: used only when no epn.* gave the number
  const items: Array<[number, Item]> = []
  let userData: Record<string, unknown> | undefined
  let campaign: Record<string, string> | undefined
  let hints: Record<string, unknown> | undefined
  let system: Record<string, string> | undefined
  let sst: Record<string, string> | undefined
  let scrub = false // the raw hit holds something that must not travel on (see scrubRaw)

  for (const [key, value] of hit) {
    switch (key) {
      case 'en': break
      case '_uip': scrub = true; break // never trust an IP the browser claims
      case 'v': x['x-ga-protocol_version'] = value; break
      case 'tid': x['x-ga-measurement_id'] = value; break
      case 'gtm': x['x-ga-gtm_version'] = value; break
      case '_p': x['x-ga-page_id'] = value; break
      case '_s': x['x-ga-request_count'] = value; break
      case 'cid': if (value !== '') ev.client_id = value; break
      case 'uid': if (value !== '') ev.user_id = value; break
      case 'sid': if (value !== '') ev.ga_session_id = value; break
      case 'sct': { const n = toNumber(value); if (n !== undefined) ev.ga_session_number = n; break }
      case '_et': { const n = toNumber(value); if (n !== undefined) ev.engagement_time_msec = n; break }
      case 'dl': if (value !== '') ev.page_location = value; break
      case 'dr': if (value !== '') ev.page_referrer = value; break
      case 'dt': if (value !== '') ev.page_title = value; break
      case 'ul': if (value !== '') ev.language = value; break
      case 'sr': if (value !== '') ev.screen_resolution = value; break
      case 'cu': if (value !== '') ev.currency = value; break
      case 'gcs': case 'gcd': case 'gcu': case 'gcut': case 'npa': case 'dma': case 'dma_cps':
      case 'did': case 'gdid': case 'edid': case 'ecid': case 'em': case 'tfd': case 'lps':
      case 'ur': case 'are': case 'pscdl':
        x[`x-ga-${key}`] = value
        break
      case 'seg': case 'tt': case 'ir': case 'frm': case 'richsstsse':
        x[`x-ga-mp2-${key}`] = value
        break
      case '_ss': case '_fv': case '_c': case '_dbg': case '_ee': case '_eu': case '_tu': case '_z':
        (system ??= {})[key.slice(1)] = value
        break
      case 'cs': case 'cm': case 'cn': case 'ck': case 'cc': case 'ci':
        if (value !== '') (campaign ??= {})[CAMPAIGN[key]] = value
        break
      case 'uaa': case 'uab': case 'uam': case 'uap': case 'uapv':
        (hints ??= {})[HINTS[key]] = value
        break
      case 'uamb': case 'uaw':
        (hints ??= {})[HINTS[key]] = value === '1'
        break
      case 'uafvl':
        (hints ??= {}).full_version_list = fullVersionList(value)
        break
      default:
        if (key.startsWith('ep.')) {
          const name = key.slice(3)
          if (name.startsWith('user_data.')) { scrub = true; addUserData(userData ??= {}, name.slice(10), value) } else if (name === '' || !isSafeKey(name)) break
          else if (EP_MODEL.has(name)) { if (value !== '') x[name] = value }
          else if (EPN_MODEL.has(name) && toNumber(value) !== undefined) fallback[name] = toNumber(value) as number
          else if (name === 'debug_mode') params.debug_mode = value === 'true' || value === '1'
          else params[name] = value
        } else if (key.startsWith('epn.')) {
          const name = key.slice(4)
          if (name.startsWith('user_data.')) { scrub = true; addUserData(userData ??= {}, name.slice(10), value); break }
          if (name === '' || !isSafeKey(name)) break
          const n = toNumber(value)
          // gtag sends numeric ids (transaction_id: 12345) as epn: they stay strings in the model.
          if (EP_MODEL.has(name)) { if (value !== '') x[name] = value }
          else if (EPN_MODEL.has(name) && n !== undefined) x[name] = n
          else params[name] = n ?? value // not a number: keep what was sent rather than lose it
        } else if (key.startsWith('up.') || key.startsWith('upn.')) {
          const numeric = key[2] === 'n'
          const name = key.slice(numeric ? 4 : 3)
          if (name === '' || !isSafeKey(name)) break
          userProps[name] = numeric ? toNumber(value) ?? value : value
        } else if (key.startsWith('sst.')) {
          const name = key.slice(4)
          if (name !== '' && isSafeKey(name)) (sst ??= {})[name] = value
        } else if (itemIndex(key) > 0) {
          const item = decodeItem(value)
          if (item !== undefined) items.push([itemIndex(key), item])
        } else if (key !== '') {
          x[`x-ga-mp2-${key}`] = value // sGTM's bucket for GA params without a named key
        }
    }
  }

  for (const name in fallback) if (x[name] === undefined) x[name] = fallback[name]
  if (system?.dbg !== undefined && system.dbg !== '0') params.debug_mode = true
  if (Object.keys(params).length > 0) ev.params = params
  if (Object.keys(userProps).length > 0) ev.user_properties = userProps
  if (items.length > 0) ev.items = items.sort((a, b) => a[0] - b[0]).map(e => e[1])
  if (userData !== undefined) {
    const ud = normalizeUserData(userData)
    if (ud !== undefined) ev.user_data = ud
  }
  const consent = consentFromHit(hit.get('gcs'), hit.get('gcd'), hit.get('npa'))
  if (consent !== undefined) ev.consent = consent
  if (campaign !== undefined) ev.campaign = campaign
  if (hints !== undefined) x['x-ga-client_hints'] = hints
  if (system !== undefined) x['x-ga-system_properties'] = system
  if (sst !== undefined) x['x-sst-system_properties'] = sst
  // The parse above saw every key decoded, so it knows exactly when scrubbing is needed.
  // A line that held only user data would travel empty, and GA4 reads no event in it: its name stays.
  if (scrub) x['x-ga-raw'] = line === undefined ? { query: scrubRaw(query) } : { query: scrubRaw(query), line: scrubRaw(line) || `en=${encodeURIComponent(ev.event_name)}` }
  else x['x-ga-raw'] = line === undefined ? { query } : { query, line }
  return ev
}

function hasParam (q: string, name: string): boolean {
  return q.includes(`&${name}=`)
}

export const gtag: Client = {
  name: 'gtag',

  claims (snap: RequestSnapshot): boolean {
    if (snap.path.endsWith('/g/collect')) return true
    const q = '&' + snap.query + '&'
    return q.includes('&v=2&') && (hasParam(q, 'tid') || hasParam(q, 'en'))
  },

  parse (snap: RequestSnapshot): ParsedEvent[] {
    const lines = bodyLines(snap.body)
    // Repeated keys: the last one wins, as it does when a line overrides the query.
    const shared: Hit = new Map(new URLSearchParams(snap.query))
    const hits = lines.length === 0
      ? [shared]
      : lines.map(line => {
        const hit = new Map(shared)
        for (const [k, v] of new URLSearchParams(line)) hit.set(k, v)
        return hit
      })

    const problems: ErrorDetail[] = []
    const events = hits.map((hit, i) => {
      const line = lines[i]
      const where = line === undefined ? 'The hit' : `Body line ${i + 1}`
      if (hit.size > MAX_PARAMS) {
        problems.push({ path: line === undefined ? 'query' : `lines[${i}]`, message: `${where} has more than ${MAX_PARAMS} parameters${line === undefined ? '' : " with the query's"}.` })
        return undefined
      }
      const r = toEvent(hit, snap.query, line)
      if (typeof r === 'string') problems.push({ path: line === undefined ? 'en' : `lines[${i}].en`, message: `${where} ${r}.` })
      return r
    })
    if (problems.length > 0) throw errors.invalidEvent(problems[0].message, problems)
    return events as ParsedEvent[]
  }
}
