// Enrichment: what the request adds to the parsed events (README.md, "The event model", "from" column).
// Pure: the clock and id minting come in through `ids`, cookies to set go out in the result.
import { isIP } from 'node:net'
import type { RequestSnapshot, ParsedEvent } from '../clients/types.js'
import type { TaglineEvent, ClickIds, Campaign, Consent } from '../schemas/event.js'
import type { IdSource } from './ids.js'
import {
  clientIdFromFpid, clientIdFromGa, fpidFor, mintFpid, mintClientId, mintFbp, buildFbc, fbclidOf,
  FPID_MAX_AGE_S, META_COOKIE_MAX_AGE_S
} from './identity.js'

export interface CookieToSet {
  name: string
  value: string
  maxAgeS: number
  httpOnly: boolean
}

export interface IdentitySettings { fpid: boolean, metaCookies: boolean }

export interface EnrichResult {
  events: TaglineEvent[]
  cookies: CookieToSet[]
  /** Events whose own time was after their arrival, set to the arrival. */
  clamped: number
  /**
   * A browser request with a Consent Mode answer and no event (a bridge that sends the visitor's
   * answer on its own): the visitor as a record for stitching to remember, never queued.
   */
  visitor?: TaglineEvent
}

const CLICK_ID_KEYS = ['gclid', 'fbclid', 'ttclid', 'wbraid', 'gbraid'] as const
const UTM_KEYS: Array<[string, keyof Campaign]> = [
  ['utm_source', 'source'], ['utm_medium', 'medium'], ['utm_campaign', 'name'],
  ['utm_term', 'term'], ['utm_content', 'content'], ['utm_id', 'id']
]
// A purchase or refund sent twice (pixel + backend) shares its transaction id, so it is the
// natural event id when the sender gave none: both copies then dedup against each other.
const TRANSACTION_EVENTS = new Set(['purchase', 'refund'])

function parseUrl (s: string | undefined): URL | undefined {
  if (s === undefined || s === '') return undefined
  try { return new URL(s) } catch { return undefined }
}

function firstLanguage (header: string | undefined): string | undefined {
  if (!header) return undefined
  const tag = header.split(',')[0]?.split(';')[0]?.trim().toLowerCase()
  return tag === '' || tag === '*' ? undefined : tag
}

function fromUrl<K extends string> (url: URL | undefined, pairs: ReadonlyArray<readonly [string, K]>, base: Partial<Record<K, string>> | undefined): Partial<Record<K, string>> | undefined {
  let out = base
  if (url === undefined || url.search === '') return out
  for (const [param, key] of pairs) {
    if (out?.[key] !== undefined) continue
    const v = url.searchParams.get(param)
    if (v !== null && v !== '') out = { ...out, [key]: v } as Partial<Record<K, string>>
  }
  return out
}

const CLICK_PAIRS = CLICK_ID_KEYS.map(k => [k, k] as const)

/** The value of `name` in the URL's query as it was written (not percent- or +-decoded). */
function rawParam (url: URL | undefined, name: string): string | undefined {
  if (url === undefined || url.search === '') return undefined
  for (const pair of url.search.slice(1).split('&')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    let key = pair.slice(0, eq)
    try { key = decodeURIComponent(key.replace(/\+/g, ' ')) } catch { /* compare it as it is */ }
    if (key === name) return pair.slice(eq + 1) === '' ? undefined : pair.slice(eq + 1)
  }
  return undefined
}

export function enrich (parsed: ParsedEvent[], snap: RequestSnapshot, client: string, identity: IdentitySettings, ids: IdSource, after?: Consent): EnrichResult {
  const now = snap.receivedMs
  const browser = !snap.trusted
  const cookies: CookieToSet[] = []
  // An empty cookie (`_fbp=`) is no cookie: it must not block minting nor reach an event.
  const c: Record<string, string | undefined> = Object.create(null)
  for (const [name, value] of Object.entries(snap.cookies)) if (value !== '') c[name] = value
  const gpc = snap.headers['sec-gpc'] === '1'
  // Cookies are set once per request, and only when no event of it refused the storage, or, where
  // the request ends with the visitor's answer (`after`, a Consent Mode update after its last
  // event), when that answer allows it.
  const denies = (type: 'ad_storage' | 'analytics_storage'): boolean => after?.[type] !== undefined ? after[type] === 'denied' : parsed.some(e => e.consent?.[type] === 'denied')

  let requestClientId = clientIdFromFpid(c.FPID)
  const gaClientId = clientIdFromGa(c._ga)
  // A missing or unreadable FPID is (re)set; a visitor GA already knows keeps that id (sGTM's
  // migration from the JavaScript-managed client id), everyone else gets a fresh one.
  if (browser && identity.fpid && requestClientId === undefined && !denies('analytics_storage')) {
    const minted = gaClientId !== undefined ? fpidFor(gaClientId) : mintFpid(ids, now)
    cookies.push({ name: 'FPID', value: minted.cookie, maxAgeS: FPID_MAX_AGE_S, httpOnly: true })
    requestClientId = minted.clientId
  }
  requestClientId ??= gaClientId

  const metaAllowed = browser && identity.metaCookies && !denies('ad_storage') && !gpc
  let fbp = c._fbp
  if (fbp === undefined && metaAllowed) {
    fbp = mintFbp(ids, now)
    cookies.push({ name: '_fbp', value: fbp, maxAgeS: META_COOKIE_MAX_AGE_S, httpOnly: false })
  }

  // Not an address (an X-Forwarded-For of `garbage` behind `trustProxy: true`): none.
  const ip = isIP(snap.ip) !== 0 ? snap.ip : undefined
  const ua = snap.headers['user-agent']
  const lang = firstLanguage(snap.headers['accept-language'])
  const referer = snap.headers.referer
  let fbcCookieSet = false

  let clamped = 0
  // The events of one request mostly share a page URL (the Referer, a batch's `dl`): parsed once.
  const urls = new Map<string, URL | undefined>()
  const urlOf = (s: string | undefined): URL | undefined => {
    if (s === undefined) return undefined
    if (!urls.has(s)) urls.set(s, parseUrl(s))
    return urls.get(s)
  }
  const events = parsed.map((p): TaglineEvent => {
    const e: TaglineEvent = { ...p } as TaglineEvent
    e.source = { client, request_id: snap.requestId, received_ms: now, trusted: snap.trusted }
    if (gpc) e.source.gpc = true
    if (snap.debug === true) e.source.debug = true
    // A time after the arrival is a sender's clock running ahead (or a made-up time, or µs sent
    // as ms): the platforms refuse or misplace events from the future, so it becomes the arrival's.
    if (e.timestamp_ms === undefined) e.timestamp_ms = now
    else if (e.timestamp_ms > now) { e.timestamp_ms = now; clamped++ }
    if (browser) {
      // A browser never chooses its own IP or user agent; a trusted backend may pass the visitor's.
      if (ip !== undefined) e.ip_override = ip
      if (ua !== undefined) e.user_agent = ua
      if (e.language === undefined && lang !== undefined) e.language = lang
      if (e.page_location === undefined && referer !== undefined) e.page_location = referer
    }
    const url = urlOf(e.page_location)
    if (url !== undefined) {
      e.page_hostname ??= url.hostname
      e.page_path ??= url.pathname
    }
    const campaign = fromUrl(url, UTM_KEYS, e.campaign)
    if (campaign !== undefined) e.campaign = campaign
    const givenFbclid = e.click_ids?.fbclid
    const clickIds = fromUrl<keyof ClickIds>(url, CLICK_PAIRS, e.click_ids)
    if (clickIds !== undefined) e.click_ids = clickIds

    const bids = { ...e.browser_ids }
    bids.fbp ??= fbp
    bids.fbc ??= c._fbc
    bids.ttp ??= c._ttp
    bids.ga ??= c._ga
    // Meta wants the click id exactly as it appeared in the URL: no decoding, no case change.
    // (searchParams, parsed once per URL, says first whether to read the query as written.)
    const fbclid = givenFbclid ?? (url?.searchParams.has('fbclid') === true ? rawParam(url, 'fbclid') : undefined)
    // The click id in the landing URL is the newest one: it replaces an older _fbc.
    if (fbclid !== undefined && (bids.fbc === undefined || fbclidOf(bids.fbc) !== fbclid)) {
      bids.fbc = buildFbc(fbclid, now)
      if (metaAllowed && !fbcCookieSet) {
        cookies.push({ name: '_fbc', value: bids.fbc, maxAgeS: META_COOKIE_MAX_AGE_S, httpOnly: false })
        fbcCookieSet = true
      }
    }
    for (const k of Object.keys(bids) as Array<keyof typeof bids>) if (bids[k] === undefined) delete bids[k]
    if (Object.keys(bids).length > 0) e.browser_ids = bids

    // A backend event without a client id may still be stitched to the visitor's real one; the
    // pipeline mints one only if stitching finds none (a random id would count a phantom user).
    if (e.client_id === undefined && (browser || requestClientId !== undefined)) {
      requestClientId ??= mintClientId(ids, now)
      e.client_id = requestClientId
    }
    if (e.event_id === undefined || e.event_id === '') {
      if (TRANSACTION_EVENTS.has(e.event_name) && e.transaction_id) {
        e.event_id = e.transaction_id
      } else {
        e.event_id = ids.eventId(now)
        e.source.minted_event_id = true
      }
    }
    return e
  })
  if (browser && parsed.length === 0 && after !== undefined && requestClientId !== undefined) {
    const visitor: TaglineEvent = { event_name: 'consent', client_id: requestClientId, consent: after, source: { client, request_id: snap.requestId, received_ms: now, trusted: false } }
    if (gpc) visitor.source!.gpc = true
    if (ip !== undefined) visitor.ip_override = ip
    if (ua !== undefined) visitor.user_agent = ua
    return { events, cookies, clamped, visitor }
  }
  return { events, cookies, clamped }
}
