// Acceptance test of the destinations, whole-process: the real `tagline` command (LOG_LEVEL=debug,
// stdout and stderr captured), a generated config with all five destinations pointed at loopback
// platforms that answer like Meta, TikTok, GA4, PostHog and a webhook receiver, and inputs in the
// formats real senders use (gtag hits, dataLayer pushes, a trusted backend). Every field that
// reaches a platform is checked against the platforms' public references (Meta's customer
// information parameters, TikTok's Events API, the GA4 Measurement Protocol, PostHog's capture
// API, Standard Webhooks; the URLs are in test/e2e/fixtures/platforms.ts), hashes are
// recomputed here from hand-normalised values, and at the end the logs, the spool and the dead
// letters are searched for every raw e-mail address, phone number and secret that was sent.
import t, { type Test } from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnTagline } from './fixtures/tagline.js'
import type { SinkRequest } from '../fixtures/sink.js'
import { verifyStandardWebhook, WHSEC } from '../fixtures/standard-webhooks.js'
import { request, tempDir, type HttpResponse } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { writeConfig } from './fixtures/config.js'
import { CHROME_UA, FIREFOX_UA, SAFARI_UA } from './fixtures/events.js'
import { purchaseLine } from '../fixtures/ga4-hits.js'
import { META_API_VERSION } from '../../tags/meta.js'
import {
  destinationsConfig, ga4Reply, metaReply, posthogReply, posthogUnavailable, sha256, startPlatform, tiktokReply, uuidV5,
  type Platform
} from './fixtures/platforms.js'

t.setTimeout(60_000)

// ---- secrets (given to the process through the environment, as in production) ----
const API_KEY = 'tl-e2e-backend-key-5d2e91c7'
const META_TOKEN = 'EAAGe2eMetaAccessToken9f8e7d6c5b4aZZ'
const TIKTOK_TOKEN = 'e2eTikTokAccessToken3c4d5e6f7a8b'
const GA4_SECRET = 'e2eMpApiSecret_x7YzQw'
const POSTHOG_KEY = 'phc_e2eProjectApiKey8s7d6f5g4h'
const SECRETS: Record<string, string> = {
  'backend API key': API_KEY,
  'Meta access token': META_TOKEN,
  'TikTok access token': TIKTOK_TOKEN,
  'GA4 API secret': GA4_SECRET,
  'PostHog API key': POSTHOG_KEY,
  'webhook secret': WHSEC,
  'webhook secret (key bytes)': WHSEC.slice('whsec_'.length)
}

const META_PIXEL = '1234567890'
const META_TEST_CODE = 'TEST12345'
const TT_PIXEL = 'C0E2EPIXELCODE12'
const TT_TEST_CODE = 'TEST67890'
const MEASUREMENT_ID = 'G-ABC123XYZ9'
// tagline's UUID v5 namespace for PostHog (a fixed contract: changing it breaks dedup of replays).
const POSTHOG_NS = 'b7241e4e-ba03-429b-afdb-13c72e51f438'
const ORIGIN = 'https://shop.example'

// ---- raw PII, in every format the test sends it ----
const PHONE_INTL = '+1 650-555-1212' // gtag ep.user_data
const PHONE_DIGITS = '16505551212' // dataLayer
const PHONE_NATIONAL = '6505551212' // backend (defaultCountry US)
const PH_META = sha256('16505551212') // Meta: digits with the country code, no '+'
const PH_E164 = sha256('+16505551212') // TikTok and Google: E.164 with the '+'
const EMAIL_A = 'Jane.Doe@Example.COM'
const EMAIL_B = ' Kim.Lee@Gmail.com ' // Google removes the dots of a gmail.com local part; Meta/TikTok do not
const EMAIL_BATCH = (i: number): string => `Batch.Buyer${i}@Example.org`
const EMAIL_LATE = ['Late.Signup@Example.net', 'Late.Lead@Example.net', 'Late.Viewer@Example.net']
const EMAIL_D = 'Dana.Optout@Example.com'
const ALL_EMAILS = [EMAIL_A, EMAIL_B.trim(), EMAIL_D, ...[1, 2, 3, 4, 5].map(EMAIL_BATCH), ...EMAIL_LATE]
const PII_STRINGS = [
  ...ALL_EMAILS.flatMap(e => [e, e.toLowerCase(), encodeURIComponent(e), encodeURIComponent(e.toLowerCase())]),
  'kimlee@gmail.com',
  PHONE_INTL, encodeURIComponent(PHONE_INTL), '+1+650-555-1212', '650-555-1212', PHONE_DIGITS, PHONE_NATIONAL, '+16505551212', '%2B16505551212'
]

// ---- visitors ----
const A = {
  ip: '203.0.113.7',
  ua: CHROME_UA,
  fbp: 'fb.1.1717000000000.1116446470',
  ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
  ga: 'GA1.1.1234567890.1717000000',
  cid: '1234567890.1717000000',
  uid: 'cust-a-88231',
  fbclid: 'IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk',
  ttclid: 'E.C.P.CsoBKm9Ev2dRy8aN4p1e2eZ'
}
const A_URL = `${ORIGIN}/checkout/thank-you?fbclid=${A.fbclid}&ttclid=${A.ttclid}`
const B = {
  ip: '2001:db8:85a3::8a2e:370:7334',
  ua: SAFARI_UA,
  fbp: 'fb.1.1716000000000.2147480001',
  ttp: 'B7kQ2mXw9Lr4Tz8Yp1Hn6Cv3Js0',
  ga: 'GA1.1.987654321.1716000000',
  cid: '987654321.1716000000',
  uid: 'cust-b-4711',
  fbclid: 'IwZXh0bgNhZW0BMABhZGlkAasZ_e2eB-XyQvWk',
  ttclid: 'E.C.P.v3B_e2eTTclid-42'
}
const B_URL = `${ORIGIN}/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring&fbclid=${B.fbclid}&ttclid=${B.ttclid}`
const C = { ip: '198.51.100.23', ua: FIREFOX_UA, cid: '555555555.1718000000', fbclid: 'IwAR0deniedC1ick' }
const C_URL = `${ORIGIN}/p/friends-hoodie?fbclid=${C.fbclid}`
const C2_URL = `${ORIGIN}/p/friends-hoodie?variant=black`
const C3_URL = `${ORIGIN}/account/orders/T_E2E_C_3003`
const D = { ip: '192.0.2.44', ua: CHROME_UA, cid: '444444444.1718000000', uid: 'cust-d-gpc', fbclid: 'IwAR0gpcD1ick' }
const D_URL = `${ORIGIN}/checkout/thank-you?order=T_E2E_D_4004&fbclid=${D.fbclid}`
const D2_URL = `${ORIGIN}/account/orders/T_E2E_D_4005`
const E = { ip: '203.0.113.99', ua: FIREFOX_UA, cid: '777777777.1718000000' }
const E_URL = `${ORIGIN}/checkout/thank-you?order=T_E2E_E_5005`
const ATC_URL = `${ORIGIN}/p/stan-tee?variant=green`
const BATCH_URL = (i: number): string => `${ORIGIN}/p/batch-${i}`
const LATE_URL = (i: number): string => `${ORIGIN}/late/${i}`

const enc = encodeURIComponent
/** A gtag query string: values percent-encoded as gtag does, bare flags as they are. */
const hit = (parts: Array<[string, string] | string>): string => parts.map(p => typeof p === 'string' ? p : `${p[0]}=${enc(p[1])}`).join('&')
const shared = (o: { cid: string, uid?: string, gcs?: string, gcd?: string, ul?: string, dl: string, dr?: string, dt: string, p: string }): Array<[string, string] | string> => [
  ['v', '2'], ['tid', MEASUREMENT_ID], ['gtm', '45je4ca0v9123456789za200'], ['_p', o.p],
  ['gcs', o.gcs ?? 'G111'], ['gcd', o.gcd ?? '13t3t3t3t5l1'], ['npa', '0'], ['dma', '0'],
  ['cid', o.cid], ...(o.uid !== undefined ? [['uid', o.uid] as [string, string]] : []),
  ['ul', o.ul ?? 'en-us'], ['sr', '1920x1080'], ['_s', '1'], ['sid', '1718000000'], ['sct', '7'], ['seg', '1'],
  ['dl', o.dl], ...(o.dr !== undefined ? [['dr', o.dr] as [string, string]] : []), ['dt', o.dt], ['tfd', '902'], 'richsstsse'
]
const A_QUERY = hit(shared({ cid: A.cid, uid: A.uid, dl: A_URL, dr: `${ORIGIN}/checkout`, dt: 'Thank you', p: '1718000300000' }))
const A_UD = [`ep.user_data.email=${enc(EMAIL_A)}`, `ep.user_data.phone_number=${enc(PHONE_INTL)}`]
const A_LINE = purchaseLine('T_E2E_A_1001', 'pur-T_E2E_A_1001', [...A_UD, 'up.customer_tier=gold'])
const A_LINE_FORWARDED = purchaseLine('T_E2E_A_1001', 'pur-T_E2E_A_1001', ['up.customer_tier=gold'])
const B_QUERY = hit([...shared({ cid: B.cid, uid: B.uid, ul: 'en-gb', dl: B_URL, dt: 'Shop', p: '1718000100000' }), ['en', 'page_view'], ['_ee', '1']])
const C_QUERY = hit([...shared({ cid: C.cid, gcs: 'G100', gcd: '13p3p3p2p5l1', dl: C_URL, dt: 'Friends Hoodie', p: '1718000200000' }),
  ['en', 'view_item'], ['_et', '5230'], ['cu', 'USD'], ['epn.value', '42.02'], ['ep.event_id', 'vi-E2E-C-1'], ['up.plan', 'pro'],
  'pr1=idSKU_12346~nmFriends%20Hoodie~brGoogle~caApparel~pr42.02~qt1'])
// With a `_uip` of its own choosing, which must never be believed nor forwarded.
const D_QUERY_FORWARDED = hit(shared({ cid: D.cid, uid: D.uid, dl: D_URL, dt: 'Thank you', p: '1718000400000' }))
const D_QUERY = `${D_QUERY_FORWARDED}&_uip=6.6.6.6`
const D_LINE = purchaseLine('T_E2E_D_4004', 'T_E2E_D_4004')
const E_QUERY = hit(shared({ cid: E.cid, dl: E_URL, dt: 'Thank you', p: '1718000500000' }))
const E_LINE = purchaseLine('T_E2E_E_5005', 'T_E2E_E_5005')

// ---- what arrived where ----
interface Window { from: number, to: number }
const within = (t: Test, sec: unknown, w: Window, what: string): void => {
  t.ok(typeof sec === 'number' && Number.isInteger(sec) && sec >= Math.floor(w.from / 1000) && sec <= Math.ceil(w.to / 1000), `${what}: integer Unix seconds of the receipt (${String(sec)})`)
}
const ok2xx = (r: SinkRequest): boolean => r.status >= 200 && r.status < 300
/** Meta events of the requests Meta accepted. */
const metaEvents = (p: Platform): any[] => p.requests.filter(ok2xx).flatMap(r => r.json.data as any[])
const tiktokOk = (r: SinkRequest): boolean => r.status === 200 && JSON.parse(r.answer).code === 0
const tiktokEvents = (p: Platform): any[] => p.requests.filter(tiktokOk).flatMap(r => r.json.data as any[])
const posthogEvents = (p: Platform): any[] => p.requests.filter(ok2xx).flatMap(r => r.json.batch as any[])
const hookEvents = (p: Platform): any[] => p.requests.filter(ok2xx).flatMap(r => r.json.events as any[])
interface Ga4Hit { kind: 'g' | 'mp', req: SinkRequest, en: string, url: string, line?: string, mp?: any, head?: any }
function ga4Hits (p: Platform): Ga4Hit[] {
  return p.requests.filter(ok2xx).flatMap((req): Ga4Hit[] => {
    if (req.path === '/g/collect') {
      const lines = req.raw === '' ? [undefined] : req.raw.split('\n')
      return lines.map(line => {
        const merged = new Map([...req.query, ...new URLSearchParams(line ?? '')])
        return { kind: 'g', req, line, en: merged.get('en') ?? '', url: merged.get('dl') ?? '' }
      })
    }
    const { events, ...head } = req.json
    return (events as any[]).map(mp => ({ kind: 'mp', req, mp, head, en: mp.name, url: mp.params?.page_location ?? '' }))
  })
}
const count = (keys: string[]): Record<string, number> => keys.reduce<Record<string, number>>((m, k) => { m[k] = (m[k] ?? 0) + 1; return m }, {})
const byKey = <T>(list: T[], key: (x: T) => string): Map<string, T> => new Map(list.map(x => [key(x), x]))
const metaKey = (e: any): string => `${e.event_name} ${e.event_source_url}`
const ttKey = (e: any): string => `${e.event} ${e.page?.url}`
const phKey = (e: any): string => `${e.event} ${e.properties?.$current_url}`
const gaKey = (h: Ga4Hit): string => `${h.en} ${h.url}`

async function send (base: string, path: string, o: { method?: string, headers?: Record<string, string>, body?: string }): Promise<{ res: HttpResponse, w: Window }> {
  const from = Date.now()
  const res = await request(base + path, { method: o.method ?? 'POST', headers: o.headers, body: o.body })
  return { res, w: { from, to: Date.now() } }
}
const browserHeaders = (v: { ip: string, ua: string }, extra: Record<string, string> = {}): Record<string, string> =>
  ({ 'user-agent': v.ua, 'x-forwarded-for': v.ip, origin: ORIGIN, 'accept-language': 'en-US,en;q=0.9', ...extra })
const backendHeaders = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, 'user-agent': 'shop-backend/4.2 (+orders)' }

t.test('destinations: the real process against loopback Meta, TikTok, GA4, PostHog and a webhook', async t => {
  const dir = tempDir(t, 'tagline-e2e-dest-')
  const spoolFile = join(dir, 'spool.jsonl')
  const ga4 = await startPlatform(t, 'ga4', ga4Reply)
  const meta = await startPlatform(t, 'meta', metaReply(META_PIXEL, e => String(e?.event_id).startsWith('meta-poison')))
  const tiktok = await startPlatform(t, 'tiktok', tiktokReply(e => String(e?.event_id).startsWith('tiktok-poison')))
  // PostHog refuses the first request (transient 503): its events must come again with the same uuids.
  const posthog = await startPlatform(t, 'posthog', r => r.n === 0 ? posthogUnavailable : posthogReply(r))
  const hook = await startPlatform(t, 'webhook', r => r.method === 'POST' && r.path === '/hooks/tagline' ? { status: 200, body: '' } : { status: 404, body: '' })
  const platforms = [ga4, meta, tiktok, posthog, hook]

  const file = writeConfig(dir, 'tagline.yaml', destinationsConfig({
    spoolFile,
    shutdownTimeoutMs: 1500,
    corsOrigin: ORIGIN,
    trustProxy: ['127.0.0.1'],
    ga4: `${ga4.origin}/`,
    meta: `${meta.origin}/${META_API_VERSION}/${META_PIXEL}/events`,
    tiktok: `${tiktok.origin}/open_api/v1.3/event/track/`,
    posthog: `${posthog.origin}/batch/`,
    webhook: `${hook.origin}/hooks/tagline`,
    metaPixelId: META_PIXEL,
    metaTestEventCode: META_TEST_CODE,
    tiktokPixelCode: TT_PIXEL,
    tiktokTestEventCode: TT_TEST_CODE,
    measurementId: MEASUREMENT_ID,
    defaultCountry: 'US',
    maxWaitMs: 40
  }))
  const p = spawnTagline(t, ['start', '--config', file], {
    env: {
      PORT: '0',
      LOG_LEVEL: 'debug',
      TL_E2E_API_KEY: API_KEY,
      TL_E2E_META_TOKEN: META_TOKEN,
      TL_E2E_TIKTOK_TOKEN: TIKTOK_TOKEN,
      TL_E2E_GA4_SECRET: GA4_SECRET,
      TL_E2E_POSTHOG_KEY: POSTHOG_KEY,
      TL_E2E_WEBHOOK_SECRET: WHSEC
    }
  })
  const base = await p.url()

  // ---------------------------------------------------------------- the inputs
  // B: a page view with a user id, from a landing URL with fbclid and ttclid (IPv6 visitor).
  const bCookies = `_fbp=${B.fbp}; _ttp=${B.ttp}; _ga=${B.ga}`
  const bView = await send(base, `/g/collect?${B_QUERY}`, { headers: browserHeaders(B, { cookie: bCookies, 'content-type': 'text/plain;charset=UTF-8' }), body: '' })
  t.equal(bView.res.status, 204, 'B page_view: 204')

  // (1) A: a gtag purchase (POST, the event in a body line) with _fbp/_ttp/_ga cookies,
  // fbclid + ttclid in the landing dl, ep.event_id, user data as a server container receives it.
  const aCookies = `_fbp=${A.fbp}; _ttp=${A.ttp}; _ga=${A.ga}`
  const aBuy = await send(base, `/g/collect?${A_QUERY}`, { headers: browserHeaders(A, { cookie: aCookies, 'content-type': 'text/plain;charset=UTF-8' }), body: A_LINE })
  t.equal(aBuy.res.status, 204, '(1) gtag purchase: 204')
  t.equal(aBuy.res.headers['access-control-allow-origin'], ORIGIN, 'CORS: the shop origin is allowed')
  const fbcCookie = aBuy.res.cookies._fbc
  t.match(fbcCookie, new RegExp(`^fb\\.1\\.(\\d{13})\\.${A.fbclid}$`), '(1) _fbc is set first-party: fb.1.<ms>.<fbclid>')
  t.notOk('_fbp' in aBuy.res.cookies, '(1) the existing _fbp is kept')

  // (2) A: a dataLayer push (add_to_cart) with raw e-mail and phone, consent granted, the cookies
  // the browser now has (including the _fbc set above).
  const push = await send(base, '/collect', {
    headers: browserHeaders(A, { cookie: `${aCookies}; _fbc=${fbcCookie}`, 'content-type': 'text/plain;charset=UTF-8', referer: ATC_URL }),
    body: JSON.stringify({
      event: 'add_to_cart',
      event_id: 'atc-E2E-A-0001',
      ecommerce: { currency: 'USD', value: 30.03, items: [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_category: 'Apparel', price: 10.01, quantity: 3 }] },
      user_data: { email: `  ${EMAIL_A} `, phone_number: PHONE_DIGITS },
      consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' }
    })
  })
  t.equal(push.res.status, 202, '(2) dataLayer push: 202')
  t.same(push.res.json, { accepted: 1, deduplicated: 0, event_ids: ['atc-E2E-A-0001'] }, '(2) its event id comes back')

  // (4) C: ad_storage (and analytics_storage) denied, gcs=G100 with a matching gcd.
  const cView = await send(base, `/g/collect?${C_QUERY}`, { method: 'GET', headers: browserHeaders(C) })
  t.equal(cView.res.status, 204, '(4) G100 hit: 204')
  t.same(cView.res.setCookie, [], '(4) no cookie at all for a visitor who denied ad and analytics storage')
  // (4b) the same refusal carried by a dataLayer push (a consent-aware bridge forwards the state).
  const cPush = await send(base, '/collect', {
    headers: browserHeaders(C, { 'content-type': 'application/json', referer: C2_URL }),
    body: JSON.stringify({
      event: 'add_to_cart',
      event_id: 'atc-E2E-C-2',
      ecommerce: { currency: 'USD', value: 42.02, items: [{ item_id: 'SKU_12346', price: 42.02, quantity: 1 }] },
      consent: { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied', ad_personalization: 'denied' }
    })
  })
  t.equal(cPush.res.status, 202, '(4b) dataLayer push with ad_storage denied: 202')
  t.notOk('_fbp' in cPush.res.cookies || '_fbc' in cPush.res.cookies, '(4b) no _fbp/_fbc minted for a push that denies ad_storage')

  // (5) D: a purchase with Sec-GPC: 1.
  const dBuy = await send(base, `/g/collect?${D_QUERY}`, { headers: browserHeaders(D, { 'sec-gpc': '1', cookie: `_ga=GA1.1.${D.cid}`, 'content-type': 'text/plain;charset=UTF-8' }), body: D_LINE })
  t.equal(dBuy.res.status, 204, '(5) GPC purchase: 204')
  t.notOk('_fbp' in dBuy.res.cookies || '_fbc' in dBuy.res.cookies, '(5) GPC: no _fbp/_fbc minted')

  // (6) E: the same purchase three times (a beacon resent, then the backend copy with the same
  // transaction id and no event id): once per destination.
  const eHeaders = browserHeaders(E, { cookie: `_ga=GA1.1.${E.cid}`, 'content-type': 'text/plain;charset=UTF-8' })
  const eBuy = await send(base, `/g/collect?${E_QUERY}`, { headers: eHeaders, body: E_LINE })
  const eAgain = await send(base, `/g/collect?${E_QUERY}`, { headers: eHeaders, body: E_LINE })
  const eBackend = await send(base, '/collect', {
    headers: backendHeaders,
    body: JSON.stringify({ event_name: 'purchase', transaction_id: 'T_E2E_E_5005', user_id: 'cust-e-5', currency: 'USD', value: 72.05, items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3 }, { item_id: 'SKU_12346', price: 42.02, quantity: 1 }] })
  })
  t.same([eBuy.res.status, eAgain.res.status], [204, 204], '(6) both browser copies answered 204')
  t.same(eBackend.res.json, { accepted: 1, deduplicated: 1, event_ids: ['T_E2E_E_5005'] }, '(6) the backend copy is recognised as a repeat')

  // (3) B: a trusted backend purchase with only the user id, the order and raw e-mail/phone as
  // identity (no IP, UA, cookies or client id): stitched from B's page view.
  const bBuy = await send(base, '/collect', {
    headers: backendHeaders,
    body: JSON.stringify({
      event_name: 'purchase',
      transaction_id: 'T_E2E_B_2002',
      user_id: B.uid,
      currency: 'EUR',
      value: 59.9,
      items: [{ item_id: 'SKU-9', item_name: 'Trail Runner', item_category: 'Shoes', price: 59.9, quantity: 1 }],
      consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'denied' },
      user_data: { email_address: EMAIL_B, phone_number: PHONE_NATIONAL }
    })
  })
  t.same(bBuy.res.json, { accepted: 1, deduplicated: 0, event_ids: ['T_E2E_B_2002'] }, '(3) backend purchase: 202, its event id is the transaction id')

  // (5b) the backend's purchase for the GPC visitor: the opted-out browser's IP, cookies and click
  // ids must not reach Meta or TikTok by way of stitching either.
  const dBackend = await send(base, '/collect', {
    headers: backendHeaders,
    body: JSON.stringify({ event_name: 'purchase', transaction_id: 'T_E2E_D_4005', user_id: D.uid, page_location: D2_URL, currency: 'USD', value: 19.99, items: [{ item_id: 'SKU_9', price: 19.99, quantity: 1 }], user_data: { email_address: EMAIL_D } })
  })
  t.equal(dBackend.res.status, 202, '(5b) backend purchase of the GPC visitor: 202')
  // (4c) and one for the visitor who denied ad_storage: nothing was remembered, nothing is stitched.
  const cBackend = await send(base, '/collect', {
    headers: backendHeaders,
    body: JSON.stringify({ event_name: 'purchase', transaction_id: 'T_E2E_C_3003', client_id: C.cid, page_location: C3_URL, currency: 'USD', value: 42.02, items: [{ item_id: 'SKU_12346', price: 42.02, quantity: 1 }] })
  })
  t.equal(cBackend.res.status, 202, '(4c) backend purchase of the ad-denied visitor: 202')

  // ---------------------------------------------------------------- wait for every destination
  const expectMeta = ['PageView ' + B_URL, 'Purchase ' + A_URL, 'AddToCart ' + ATC_URL, 'Purchase ' + E_URL, 'Purchase ' + B_URL]
  const expectTiktok = ['Purchase ' + A_URL, 'AddToCart ' + ATC_URL, 'Purchase ' + E_URL, 'Purchase ' + B_URL]
  const expectGa4 = ['page_view ' + B_URL, 'purchase ' + A_URL, 'add_to_cart ' + ATC_URL, 'view_item ' + C_URL, 'add_to_cart ' + C2_URL, 'purchase ' + D_URL, 'purchase ' + E_URL, 'purchase ' + B_URL, 'purchase ' + D2_URL, 'purchase ' + C3_URL]
  const expectPosthog = ['$pageview ' + B_URL, 'purchase ' + A_URL, 'add_to_cart ' + ATC_URL, 'view_item ' + C_URL, 'add_to_cart ' + C2_URL, 'purchase ' + D_URL, 'purchase ' + E_URL, 'purchase ' + B_URL, 'purchase ' + D2_URL, 'purchase ' + C3_URL]
  const expectHook = ['pur-T_E2E_A_1001', 'atc-E2E-A-0001', 'vi-E2E-C-1', 'atc-E2E-C-2', 'T_E2E_D_4004', 'T_E2E_E_5005', 'T_E2E_B_2002', 'T_E2E_D_4005', 'T_E2E_C_3003']
  const arrived = (): Record<string, string[]> => ({
    meta: expectMeta.filter(k => !metaEvents(meta).some(e => metaKey(e) === k)),
    tiktok: expectTiktok.filter(k => !tiktokEvents(tiktok).some(e => ttKey(e) === k)),
    ga4: expectGa4.filter(k => !ga4Hits(ga4).some(h => gaKey(h) === k)),
    posthog: expectPosthog.filter(k => !posthogEvents(posthog).some(e => phKey(e) === k)),
    webhook: expectHook.filter(k => !hookEvents(hook).some(e => e.event_id === k))
  })
  await settle(base, platforms)
  t.same(arrived(), { meta: [], tiktok: [], ga4: [], posthog: [], webhook: [] }, 'every destination received every event it should')

  // ---------------------------------------------------------------- Meta
  await t.test('Meta CAPI: endpoint, auth, and every field', async t => {
    for (const r of meta.requests) {
      t.equal(r.method, 'POST', 'Meta: POST')
      t.equal(r.path, `/${META_API_VERSION}/${META_PIXEL}/events`, 'POST /{version}/{pixel}/events')
      t.equal(r.url, r.path, 'nothing in the query string (the token travels in the body)')
      t.match(r.headers['content-type'], /^application\/json/)
      t.equal(r.json.access_token, META_TOKEN, 'access_token in the body')
      t.equal(r.json.test_event_code, META_TEST_CODE, 'test_event_code')
      t.notOk(r.url.includes(META_TOKEN) || JSON.stringify(r.headers).includes(META_TOKEN), 'the token is not in the URL or a header')
    }
    const ev = byKey(metaEvents(meta), metaKey)

    const a = ev.get('Purchase ' + A_URL)
    const fbcA = /^fb\.1\.(\d{13})\.(.+)$/.exec(String(a?.user_data?.fbc))
    t.ok(fbcA !== null && fbcA[2] === A.fbclid, `(1) fbc = fb.1.<ms>.<fbclid>, the fbclid byte for byte: ${String(a?.user_data?.fbc)}`)
    t.ok(fbcA !== null && Number(fbcA[1]) >= aBuy.w.from && Number(fbcA[1]) <= aBuy.w.to, '(1) fbc creation time: milliseconds of the click landing')
    t.equal(a?.user_data?.fbc, fbcCookie, '(1) the fbc sent equals the _fbc cookie set')
    within(t, a?.event_time, aBuy.w, '(1) event_time')
    t.same(a, {
      event_name: 'Purchase',
      event_time: a?.event_time,
      event_id: 'pur-T_E2E_A_1001',
      action_source: 'website',
      event_source_url: A_URL,
      referrer_url: `${ORIGIN}/checkout`,
      user_data: {
        em: [sha256('jane.doe@example.com')],
        ph: [PH_META],
        external_id: [sha256(A.uid)],
        client_ip_address: A.ip,
        client_user_agent: A.ua,
        fbc: a?.user_data?.fbc,
        fbp: A.fbp
      },
      custom_data: {
        value: 72.05,
        currency: 'USD',
        content_ids: ['SKU_12345', 'SKU_12346'],
        contents: [{ id: 'SKU_12345', quantity: 3, item_price: 10.01 }, { id: 'SKU_12346', quantity: 1, item_price: 42.02 }],
        content_type: 'product',
        order_id: 'T_E2E_A_1001'
      }
    }, '(1) gtag purchase → Purchase: event_id verbatim, Meta hashes (phone digits with country code, no +), raw IP/UA/fbp/fbc, custom_data')

    const atc = ev.get('AddToCart ' + ATC_URL)
    within(t, atc?.event_time, push.w, '(2) event_time')
    t.same(atc, {
      event_name: 'AddToCart',
      event_time: atc?.event_time,
      event_id: 'atc-E2E-A-0001',
      action_source: 'website',
      event_source_url: ATC_URL,
      user_data: { em: [sha256('jane.doe@example.com')], ph: [PH_META], client_ip_address: A.ip, client_user_agent: A.ua, fbc: fbcCookie, fbp: A.fbp },
      custom_data: {
        value: 30.03,
        currency: 'USD',
        content_ids: ['SKU_12345'],
        contents: [{ id: 'SKU_12345', quantity: 3, item_price: 10.01 }],
        content_type: 'product',
        content_name: 'Stan and Friends Tee',
        content_category: 'Apparel'
      }
    }, '(2) dataLayer add_to_cart → AddToCart: the same e-mail and phone in other formats give the same hashes; fbc from the _fbc cookie, byte for byte')

    const pv = ev.get('PageView ' + B_URL)
    const fbcB = /^fb\.1\.(\d{13})\.(.+)$/.exec(String(pv?.user_data?.fbc))
    t.ok(fbcB !== null && fbcB[2] === B.fbclid && Number(fbcB[1]) >= bView.w.from && Number(fbcB[1]) <= bView.w.to, `B page_view: fbc built from the landing fbclid: ${String(pv?.user_data?.fbc)}`)
    t.match(pv?.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'B page_view: a minted UUID v7 event_id (none was given)')
    t.same(pv, {
      event_name: 'PageView',
      event_time: pv?.event_time,
      event_id: pv?.event_id,
      action_source: 'website',
      event_source_url: B_URL,
      user_data: { external_id: [sha256(B.uid)], client_ip_address: B.ip, client_user_agent: B.ua, fbc: pv?.user_data?.fbc, fbp: B.fbp }
    }, 'B page_view → PageView with the IPv6 address raw')

    const bp = ev.get('Purchase ' + B_URL)
    within(t, bp?.event_time, bBuy.w, '(3) event_time')
    t.same(bp, {
      event_name: 'Purchase',
      event_time: bp?.event_time,
      event_id: 'T_E2E_B_2002',
      action_source: 'website',
      event_source_url: B_URL,
      opt_out: true,
      user_data: {
        em: [sha256('kim.lee@gmail.com')],
        ph: [PH_META],
        external_id: [sha256(B.uid)],
        client_ip_address: B.ip,
        client_user_agent: B.ua,
        fbc: pv?.user_data?.fbc,
        fbp: B.fbp
      },
      custom_data: {
        value: 59.9,
        currency: 'EUR',
        content_ids: ['SKU-9'],
        contents: [{ id: 'SKU-9', quantity: 1, item_price: 59.9 }],
        content_type: 'product',
        content_name: 'Trail Runner',
        content_category: 'Shoes',
        order_id: 'T_E2E_B_2002'
      }
    }, '(3) stitched backend purchase: the browser\'s IP, UA, fbp and fbc (same bytes as at the page view), page URL; ad_personalization denied → opt_out')

    t.notOk([...ev.keys()].some(k => k.endsWith(C_URL)), '(4) nothing from the visitor who denied ad_storage')
    t.notOk(ev.has('AddToCart ' + C2_URL), '(4b) nothing from the dataLayer push that denied ad_storage')
    const c3 = ev.get('Purchase ' + C3_URL)
    t.same(c3 === undefined ? [] : [c3.user_data?.client_ip_address, c3.user_data?.client_user_agent, c3.user_data?.fbc].filter(v => v !== undefined), [], '(4c) the ad-denied visitor\'s IP, UA and fbc do not reach Meta stitched')
    t.notOk([...ev.keys()].some(k => k.endsWith(D_URL)), '(5) nothing from the GPC visitor')
    const d2 = ev.get('Purchase ' + D2_URL)
    t.same(d2 === undefined ? [] : [d2.user_data?.client_ip_address, d2.user_data?.fbc, d2.user_data?.fbp].filter(v => v !== undefined), [],
      `(5b) the GPC visitor's browser IP, fbc and fbp do not reach Meta through the stitched backend purchase: ${JSON.stringify(d2?.user_data ?? null)}`)
  })

  // ---------------------------------------------------------------- TikTok
  await t.test('TikTok Events API: endpoint, Access-Token, and every field', async t => {
    for (const r of tiktok.requests) {
      t.equal(r.method, 'POST', 'TikTok: POST')
      t.equal(r.url, '/open_api/v1.3/event/track/', 'POST /open_api/v1.3/event/track/, no query')
      t.equal(r.headers['access-token'], TIKTOK_TOKEN, 'Access-Token: the raw token (no Bearer)')
      t.notOk('authorization' in r.headers, 'no Authorization header')
      t.match(r.headers['content-type'], /^application\/json/)
      t.match(r.json, { event_source: 'web', event_source_id: TT_PIXEL, test_event_code: TT_TEST_CODE })
      t.notOk(r.raw.includes(TIKTOK_TOKEN), 'the token is not in the body')
    }
    const ev = byKey(tiktokEvents(tiktok), ttKey)
    const a = ev.get('Purchase ' + A_URL)
    within(t, a?.event_time, aBuy.w, '(1) event_time')
    t.same(a, {
      event: 'Purchase',
      event_time: a?.event_time,
      event_id: 'pur-T_E2E_A_1001',
      user: {
        email: sha256('jane.doe@example.com'),
        phone: PH_E164,
        external_id: sha256(A.uid),
        ttp: A.ttp,
        ttclid: A.ttclid,
        ip: A.ip,
        user_agent: A.ua,
        locale: 'en-US'
      },
      page: { url: A_URL, referrer: `${ORIGIN}/checkout` },
      properties: {
        value: 72.05,
        currency: 'USD',
        contents: [
          { content_id: 'SKU_12345', quantity: 3, price: 10.01, content_name: 'Stan and Friends Tee', content_category: 'Apparel', brand: 'Google' },
          { content_id: 'SKU_12346', quantity: 1, price: 42.02, content_name: 'Friends Hoodie', content_category: 'Apparel', brand: 'Google' }
        ],
        content_type: 'product',
        order_id: 'T_E2E_A_1001'
      }
    }, '(1) gtag purchase → Purchase: phone hashed as E.164 with +, raw ttp/ttclid/IP/UA')
    t.not(a?.user?.phone, PH_META, 'TikTok\'s phone hash differs from Meta\'s for the same number')

    const atc = ev.get('AddToCart ' + ATC_URL)
    t.same(atc, {
      event: 'AddToCart',
      event_time: atc?.event_time,
      event_id: 'atc-E2E-A-0001',
      user: { email: sha256('jane.doe@example.com'), phone: PH_E164, ttp: A.ttp, ip: A.ip, user_agent: A.ua, locale: 'en-US' },
      page: { url: ATC_URL },
      properties: {
        value: 30.03,
        currency: 'USD',
        contents: [{ content_id: 'SKU_12345', quantity: 3, price: 10.01, content_name: 'Stan and Friends Tee', content_category: 'Apparel' }],
        content_type: 'product'
      }
    }, '(2) dataLayer add_to_cart → AddToCart')

    const bp = ev.get('Purchase ' + B_URL)
    within(t, bp?.event_time, bBuy.w, '(3) event_time')
    t.same(bp, {
      event: 'Purchase',
      event_time: bp?.event_time,
      event_id: 'T_E2E_B_2002',
      user: {
        email: sha256('kim.lee@gmail.com'),
        phone: PH_E164,
        external_id: sha256(B.uid),
        ttp: B.ttp,
        ttclid: B.ttclid,
        ip: B.ip,
        user_agent: B.ua,
        locale: 'en-GB'
      },
      page: { url: B_URL },
      properties: {
        value: 59.9,
        currency: 'EUR',
        contents: [{ content_id: 'SKU-9', quantity: 1, price: 59.9, content_name: 'Trail Runner', content_category: 'Shoes' }],
        content_type: 'product',
        order_id: 'T_E2E_B_2002'
      }
    }, '(3) stitched backend purchase: ttp, ttclid, IP, UA and locale of the browser')
    t.notOk([...ev.keys()].some(k => k.startsWith('Pageview') || k.startsWith('PageView') || k.startsWith('page_view')), 'page_view is not sent to TikTok by default')
    t.notOk([...ev.keys()].some(k => k.endsWith(C_URL) || k.endsWith(C2_URL) || k.endsWith(D_URL)), '(4)(4b)(5) nothing from the visitors who denied ad_storage or sent Sec-GPC')
    const c3 = ev.get('Purchase ' + C3_URL)
    t.same(c3 === undefined ? [] : [c3.user?.ip, c3.user?.user_agent].filter(v => v !== undefined), [], '(4c) the ad-denied visitor\'s IP and UA do not reach TikTok stitched')
    const d2 = ev.get('Purchase ' + D2_URL)
    t.same(d2 === undefined ? [] : [d2.user?.ip, d2.user?.user_agent].filter(v => v !== undefined), [],
      `(5b) the GPC visitor's browser IP and UA do not reach TikTok through the stitched backend purchase: ${JSON.stringify(d2?.user ?? null)}`)
  })

  // ---------------------------------------------------------------- GA4
  await t.test('GA4: gtag hits forwarded losslessly, everything else over Measurement Protocol', async t => {
    const hits = ga4Hits(ga4)
    const g = hits.filter(h => h.kind === 'g')
    for (const h of g) {
      t.equal(h.req.headers['content-type'], 'text/plain;charset=UTF-8', 'forwarded hit: text/plain')
      t.notOk(h.req.url.includes(GA4_SECRET), 'no API secret on a forwarded hit')
    }
    const a = g.find(h => gaKey(h) === 'purchase ' + A_URL)
    t.equal(a?.req.url, `/g/collect?${A_QUERY}&_uip=${enc(A.ip)}`, '(1) the original query, plus _uip = the visitor IP')
    t.equal(a?.req.raw, A_LINE_FORWARDED, '(1) the original body line (minus the plain-text ep.user_data.* parameters)')
    t.equal(a?.req.headers['user-agent'], A.ua, '(1) the visitor\'s user agent')
    const pv = g.find(h => gaKey(h) === 'page_view ' + B_URL)
    t.equal(pv?.req.url, `/g/collect?${B_QUERY}&_uip=${enc(B.ip)}`, 'B page_view: the query untouched, _uip = the IPv6 address')
    t.equal(pv?.req.raw, '', 'B page_view: empty body, as received')
    t.equal(pv?.req.headers['user-agent'], B.ua)
    const c = g.find(h => gaKey(h) === 'view_item ' + C_URL)
    t.equal(c?.req.url, `/g/collect?${C_QUERY}&_uip=${enc(C.ip)}`, '(4) the G100 hit reaches GA4 with its consent state (gcs=G100, gcd) untouched')
    t.equal(c?.req.headers['user-agent'], C.ua)
    const d = g.find(h => gaKey(h) === 'purchase ' + D_URL)
    t.equal(d?.req.url, `/g/collect?${D_QUERY_FORWARDED}&_uip=${enc(D.ip)}`, '(5) GA4 is not an advertising destination: the GPC purchase is forwarded; the browser\'s own _uip is replaced by its real IP')
    t.equal(d?.req.raw, D_LINE)

    const mp = hits.filter(h => h.kind === 'mp')
    for (const h of mp) {
      t.equal(h.req.path, '/mp/collect')
      t.equal(h.req.query.get('measurement_id'), MEASUREMENT_ID, 'MP: measurement_id')
      t.equal(h.req.query.get('api_secret'), GA4_SECRET, 'MP: api_secret')
      t.match(h.req.headers['content-type'], /^application\/json/)
    }
    const bp = mp.find(h => gaKey(h) === 'purchase ' + B_URL)
    const micros = bp?.head?.timestamp_micros
    t.ok(typeof micros === 'number' && micros >= bBuy.w.from * 1000 && micros <= bBuy.w.to * 1000, `(3) timestamp_micros of the receipt (${String(micros)})`)
    t.same(bp?.head, {
      client_id: B.cid,
      user_id: B.uid,
      timestamp_micros: micros,
      ip_override: B.ip,
      user_agent: B.ua,
      consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' },
      user_data: { sha256_email_address: [sha256('kimlee@gmail.com')], sha256_phone_number: [PH_E164] }
    }, '(3) backend purchase over MP: stitched client_id, ip_override, user_agent; consent; user_data hashed Google\'s way (gmail dots removed, E.164) with the user_id')
    t.same(bp?.mp, {
      name: 'purchase',
      timestamp_micros: micros,
      params: {
        // stitched from the browser page view: the purchase lands in the visitor's GA4 session
        session_id: '1718000000',
        engagement_time_msec: 1,
        page_location: B_URL,
        currency: 'EUR',
        value: 59.9,
        transaction_id: 'T_E2E_B_2002',
        items: [{ item_id: 'SKU-9', item_name: 'Trail Runner', item_category: 'Shoes', price: 59.9, quantity: 1 }]
      }
    }, '(3) the MP event')

    const atc = mp.find(h => gaKey(h) === 'add_to_cart ' + ATC_URL)
    t.match(atc?.head, { client_id: A.cid, ip_override: A.ip, user_agent: A.ua }, '(2) dataLayer push over MP: client id from _ga, visitor IP and UA')
    t.same(atc?.head?.consent, { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' }, '(2) dataLayer push over MP: the consent state it carried')
    t.same(atc?.head?.user_data, { sha256_email_address: [sha256('jane.doe@example.com')], sha256_phone_number: [PH_E164] }, '(2) user_data hashed Google\'s way without a user_id too (a guest)')
    t.match(atc?.mp, { name: 'add_to_cart', params: { page_location: ATC_URL, currency: 'USD', value: 30.03, items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3 }] } }, '(2) the MP add_to_cart event reaches GA4')
    t.notOk(JSON.stringify(atc?.mp ?? {}).includes('"consent"'), '(2) consent is not sent as an event parameter')
    const c2 = mp.find(h => gaKey(h) === 'add_to_cart ' + C2_URL)
    t.same(c2?.head?.consent, { ad_user_data: 'DENIED', ad_personalization: 'DENIED' }, '(4b) the denial reaches GA4 as MP consent')
  })

  // ---------------------------------------------------------------- PostHog
  await t.test('PostHog: distinct_id, $pageview, $ip, deterministic uuid, never user data', async t => {
    for (const r of posthog.requests) {
      t.equal(r.url, '/batch/')
      t.equal(r.json.api_key, POSTHOG_KEY, 'api_key in the body')
      t.notOk('historical_migration' in r.json, 'recent events: no historical_migration')
      t.same(keysOf(r.json).filter(k => k === 'user_data' || k.startsWith('sha256_')), [], 'no user data, not even hashed')
      t.notOk([PH_META, PH_E164, sha256('jane.doe@example.com'), sha256('kim.lee@gmail.com')].some(h => r.raw.includes(h)), 'no hashed identity either')
    }
    const ev = byKey(posthogEvents(posthog), phKey)
    const first = posthog.requests[0]
    t.equal(first?.status, 503, 'the first PostHog request was refused (transient)')
    const resent = posthog.requests.slice(1).filter(ok2xx).flatMap(r => r.json.batch as any[])
    for (const item of (first?.json?.batch ?? []) as any[]) {
      const again = resent.find(x => phKey(x) === phKey(item))
      t.same(again && { uuid: again.uuid, timestamp: again.timestamp, distinct_id: again.distinct_id }, { uuid: item.uuid, timestamp: item.timestamp, distinct_id: item.distinct_id },
        `resent ${phKey(item)}: same uuid, timestamp and distinct_id (PostHog merges them)`)
    }

    const pv = ev.get('$pageview ' + B_URL)
    const pvMeta = metaEvents(meta).find(e => metaKey(e) === 'PageView ' + B_URL)
    t.equal(pv?.uuid, uuidV5(POSTHOG_NS, `page_view\u0000${String(pvMeta?.event_id)}`), 'uuid = v5(tagline namespace, event name + event id): same id as Meta got')
    t.match(pv, {
      event: '$pageview',
      distinct_id: B.uid,
      properties: { $current_url: B_URL, $host: 'shop.example', $pathname: '/', $ip: B.ip, $raw_user_agent: B.ua, utm_source: 'facebook', utm_medium: 'paid_social', utm_campaign: 'spring', fbclid: B.fbclid, ttclid: B.ttclid, ga_session_id: '1718000000' }
    }, 'B page_view → $pageview with $current_url and $ip; distinct_id = user id')
    t.ok(Math.abs(Date.parse(pv?.timestamp) - bView.w.from) < 2000, 'timestamp: the receipt time (ISO 8601)')

    const a = ev.get('purchase ' + A_URL)
    t.equal(a?.uuid, uuidV5(POSTHOG_NS, 'purchase\u0000pur-T_E2E_A_1001'), '(1) deterministic uuid from the event id')
    t.match(a, { event: 'purchase', distinct_id: A.uid, properties: { $ip: A.ip, $current_url: A_URL, transaction_id: 'T_E2E_A_1001', value: 72.05, currency: 'USD', $set: { customer_tier: 'gold' } } }, '(1) purchase, $set with analytics consent')
    const c = ev.get('view_item ' + C_URL)
    t.match(c, { event: 'view_item', distinct_id: C.cid, uuid: uuidV5(POSTHOG_NS, 'view_item\u0000vi-E2E-C-1'), properties: { $ip: C.ip, $current_url: C_URL } }, '(4) the G100 event reaches PostHog; distinct_id = client id')
    t.notOk(c !== undefined && '$set' in c.properties, '(4) no $set person properties when analytics_storage is denied')
    const bp = ev.get('purchase ' + B_URL)
    t.match(bp, { distinct_id: B.uid, uuid: uuidV5(POSTHOG_NS, 'purchase\u0000T_E2E_B_2002'), properties: { $ip: B.ip, $current_url: B_URL, $raw_user_agent: B.ua } }, '(3) stitched purchase with the browser\'s IP')
    t.match(ev.get('purchase ' + D_URL), { properties: { $ip: D.ip } }, '(5) GPC: PostHog (analytics) still gets the purchase')
  })

  // ---------------------------------------------------------------- webhook
  await t.test('webhook: Standard Webhooks signatures, hashed user data, stitching visible', async t => {
    for (const r of hook.requests) t.same(verifyStandardWebhook(WHSEC, r.headers, r.raw), { ok: true }, `signature of ${String(r.headers['webhook-id'])}`)
    const ev = byKey(hookEvents(hook), e => String(e.event_id))
    t.same(ev.get('pur-T_E2E_A_1001')?.user_data, { sha256_email_address: sha256('jane.doe@example.com'), sha256_phone_number: PH_E164 }, '(1) user data hashed')
    t.same(ev.get('atc-E2E-A-0001')?.user_data, { sha256_email_address: sha256('jane.doe@example.com'), sha256_phone_number: PH_E164 }, '(2) user data hashed')
    const bp = ev.get('T_E2E_B_2002')
    t.same(bp?.user_data, { sha256_email_address: sha256('kimlee@gmail.com'), sha256_phone_number: PH_E164 }, '(3) user data hashed (Google rules)')
    t.match(bp, { client_id: B.cid, ip_override: B.ip, user_agent: B.ua, page_location: B_URL, browser_ids: { fbp: B.fbp, ttp: B.ttp, ga: B.ga }, click_ids: { fbclid: B.fbclid, ttclid: B.ttclid }, source: { client: 'json', trusted: true } }, '(3) the stitched context')
    const stitched: string[] = bp?.source?.stitched ?? []
    for (const f of ['client_id', 'ip_override', 'user_agent', 'page_location', 'browser_ids.fbp', 'browser_ids.fbc', 'browser_ids.ttp', 'click_ids.fbclid', 'click_ids.ttclid']) {
      t.ok(stitched.includes(f), `(3) source.stitched lists ${f}`)
    }
    t.match(ev.get('atc-E2E-C-2'), { consent: { ad_storage: 'denied', ad_user_data: 'denied' } }, '(4b) the push\'s consent state is the event\'s')
    const c3 = ev.get('T_E2E_C_3003')
    t.same(c3 && [c3.ip_override, c3.user_agent, c3.browser_ids, c3.click_ids].filter(v => v !== undefined), [], '(4c) no identifier stitched from the visitor who denied ad_storage')
    t.match(c3, { consent: { ad_storage: 'denied', ad_user_data: 'denied' }, source: { stitched: ['consent'] } }, '(4c) their refusal is the backend purchase\'s consent')
    t.match(ev.get('vi-E2E-C-1'), { consent: { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' } }, '(4) the consent state travels with the event')
    t.match(ev.get('T_E2E_D_4004'), { source: { gpc: true } }, '(5) the GPC signal travels with the event')
  })

  // ---------------------------------------------------------------- (6) exactly once, and nothing else
  await t.test('each event reaches each destination exactly once, and only where it may', async t => {
    // The backend purchases of the GPC and the ad-denied visitors may go to Meta/TikTok on their
    // own data (what they must not carry is checked above).
    t.same(count(metaEvents(meta).map(metaKey).filter(k => k !== 'Purchase ' + D2_URL && k !== 'Purchase ' + C3_URL)), count(expectMeta), 'Meta: once each; nothing for the denied, the GPC visitor')
    t.notOk(metaEvents(meta).some(e => metaKey(e) === 'Purchase ' + C3_URL), '(4c) Meta never gets the backend purchase of the visitor who refused')
    t.notOk(tiktokEvents(tiktok).some(e => ttKey(e) === 'Purchase ' + C3_URL), '(4c) nor TikTok')
    t.same(count(tiktokEvents(tiktok).map(ttKey).filter(k => k !== 'Purchase ' + D2_URL && k !== 'Purchase ' + C3_URL)), count(expectTiktok), 'TikTok: once each; no page_view; nothing for the denied, the GPC visitor')
    t.same(count(ga4Hits(ga4).map(gaKey)), count(expectGa4), 'GA4: once each')
    t.same(count(posthogEvents(posthog).map(phKey)), count(expectPosthog), 'PostHog: once each (the 503-refused request not counted)')
    t.same(count(hookEvents(hook).map(e => String(e.event_id)).filter(id => !/^[0-9a-f-]{36}$/.test(id))), count(expectHook), 'webhook: once each')
  })

  // ---------------------------------------------------------------- (7) one poisoned event in a batch
  await t.test('a batch with one event Meta refuses and one TikTok refuses: split, dead-lettered, the rest delivered once', async t => {
    const metaFrom = meta.requests.length
    const ttFrom = tiktok.requests.length
    const ids = ['batch-good-1', 'meta-poison-1', 'batch-good-2', 'tiktok-poison-1', 'batch-good-3']
    const batch = ids.map((id, i) => ({
      event_name: 'add_to_cart',
      event_id: id,
      ip_override: '203.0.113.50',
      user_agent: CHROME_UA,
      page_location: BATCH_URL(i + 1),
      currency: 'USD',
      value: 10 + i,
      items: [{ item_id: `SKU-B${i + 1}`, price: 10 + i, quantity: 1 }],
      user_data: { email_address: EMAIL_BATCH(i + 1), phone_number: PHONE_INTL }
    }))
    const sent = await send(base, '/collect', { headers: backendHeaders, body: JSON.stringify(batch) })
    t.same(sent.res.json, { accepted: 5, deduplicated: 0, event_ids: ids })
    await until(() => p.lines.some(l => l.event_id === 'meta-poison-1' && l.tag === 'meta') && p.lines.some(l => l.event_id === 'tiktok-poison-1' && l.tag === 'tiktok'), 10_000, 'both poisoned events dead-lettered')
    await until(() => ids.filter(id => id !== 'meta-poison-1').every(id => metaEvents(meta).some(e => e.event_id === id)) &&
      ids.filter(id => id !== 'tiktok-poison-1').every(id => tiktokEvents(tiktok).some(e => e.event_id === id)), 10_000, 'the others delivered')
    await settle(base, platforms)

    const mReqs = meta.requests.slice(metaFrom)
    t.same(mReqs[0]?.json?.data?.map((e: any) => e.event_id), ids, 'Meta: the first request carried all 5 events')
    t.equal(mReqs[0]?.status, 400, 'and was refused whole (code 100)')
    t.ok(mReqs.every(r => r.status === 200 || r.json.data.some((e: any) => e.event_id === 'meta-poison-1')), 'every refused request held the poisoned event')
    t.same(mReqs.filter(r => r.status === 400 && r.json.data.length === 1).map(r => r.json.data[0].event_id), ['meta-poison-1'], 'it was finally sent alone, once')
    t.same(count(mReqs.filter(ok2xx).flatMap(r => r.json.data.map((e: any) => e.event_id as string))), count(ids.filter(id => id !== 'meta-poison-1')), 'Meta: each other event accepted exactly once')
    t.ok(mReqs.length <= 1 + 2 * Math.ceil(Math.log2(5)), `bounded halving (${mReqs.length} requests)`)

    const tReqs = tiktok.requests.slice(ttFrom)
    t.same(tReqs[0]?.json?.data?.map((e: any) => e.event_id), ids, 'TikTok: the first request carried all 5 events')
    t.equal(JSON.parse(tReqs[0]?.answer ?? '{}').code, 40002, 'and was refused whole (HTTP 200, code 40002)')
    t.same(tReqs.filter(r => !tiktokOk(r) && r.json.data.length === 1).map(r => r.json.data[0].event_id), ['tiktok-poison-1'], 'it was finally sent alone, once')
    t.same(count(tReqs.filter(tiktokOk).flatMap(r => r.json.data.map((e: any) => e.event_id as string))), count(ids.filter(id => id !== 'tiktok-poison-1')), 'TikTok: each other event accepted exactly once')

    const mDead = p.lines.filter(l => l.event_id === 'meta-poison-1' && l.tag === 'meta')
    t.equal(mDead.length, 1, 'one dead-letter line for the Meta poison')
    t.match(mDead[0], { level: 40, outcome: 'dropped', event_name: 'add_to_cart', status: 400, reason: /Meta error 100\/2804008 \(OAuthException\): Invalid parameter.*fbtrace_id/ }, 'with Meta\'s code, subcode, message and fbtrace_id')
    const tDead = p.lines.filter(l => l.event_id === 'tiktok-poison-1' && l.tag === 'tiktok')
    t.equal(tDead.length, 1, 'one dead-letter line for the TikTok poison')
    t.match(tDead[0], { level: 40, outcome: 'dropped', reason: /TikTok code 40002: Invalid param.*request_id/ }, 'with TikTok\'s code, message and request_id')
    t.notOk(p.lines.some(l => (l.tag === 'meta' && ids.includes(l.event_id) && l.event_id !== 'meta-poison-1') || (l.tag === 'tiktok' && ids.includes(l.event_id) && l.event_id !== 'tiktok-poison-1')), 'no innocent event dead-lettered')
    // Every other destination took all five.
    t.ok(ids.every(id => hookEvents(hook).filter(e => e.event_id === id).length === 1), 'webhook: all five once')
    t.ok(ids.every((_id, i) => posthogEvents(posthog).filter(e => e.properties?.$current_url === BATCH_URL(i + 1)).length === 1), 'PostHog: all five once')
    t.ok(ids.every((_id, i) => ga4Hits(ga4).filter(h => h.url === BATCH_URL(i + 1)).length === 1), 'GA4: all five once')
  })

  // ---------------------------------------------------------------- webhook down, SIGTERM, spool
  hook.respond = () => ({ status: 503, body: JSON.stringify({ error: 'maintenance' }) })
  const hookFrom = hook.requests.length
  const late1 = await send(base, '/collect', {
    headers: backendHeaders,
    body: JSON.stringify({ event_name: 'sign_up', event_id: 'late-1', user_id: 'cust-late-1', ip_override: '203.0.113.61', user_agent: CHROME_UA, page_location: LATE_URL(1), user_data: { email_address: EMAIL_LATE[0], phone_number: PHONE_INTL } })
  })
  const late2 = await send(base, '/collect', {
    headers: browserHeaders(A, { cookie: aCookies, 'content-type': 'application/json', referer: LATE_URL(2) }),
    body: JSON.stringify({ event: 'generate_lead', event_id: 'late-2', user_data: { email: EMAIL_LATE[1], phone: PHONE_NATIONAL } })
  })
  const late3Query = hit([...shared({ cid: A.cid, dl: LATE_URL(3), dt: 'Late', p: '1718000900000' }), ['en', 'view_item'], ['ep.event_id', 'late-3'],
    ['ep.user_data.email', EMAIL_LATE[2]], ['ep.user_data.phone_number', PHONE_DIGITS]])
  const late3 = await send(base, `/g/collect?${late3Query}`, { method: 'GET', headers: browserHeaders(A, { cookie: aCookies }) })
  t.same([late1.res.status, late2.res.status, late3.res.status], [202, 202, 204], 'three more events with raw PII accepted')
  const lateIds = ['late-1', 'late-2', 'late-3']
  await hook.waitFor(() => lateIds.every(id => hook.requests.slice(hookFrom).some(r => r.json?.events?.some((e: any) => e.event_id === id))), 'the webhook refused the late events (503)')
  const lateArrived = (): boolean => ['CompleteRegistration ' + LATE_URL(1), 'Lead ' + LATE_URL(2), 'ViewContent ' + LATE_URL(3)].every(k => metaEvents(meta).some(e => metaKey(e) === k)) &&
    ['CompleteRegistration ' + LATE_URL(1), 'Lead ' + LATE_URL(2), 'ViewContent ' + LATE_URL(3)].every(k => tiktokEvents(tiktok).some(e => ttKey(e) === k)) &&
    [1, 2, 3].every(i => posthogEvents(posthog).some(e => e.properties?.$current_url === LATE_URL(i))) &&
    [1, 2, 3].every(i => ga4Hits(ga4).some(h => h.url === LATE_URL(i)))
  // The webhook keeps refusing: its events wait for a retry, the others must be done.
  await settle(base, [ga4, meta, tiktok, posthog])
  t.ok(lateArrived(), 'the healthy destinations got the late events: only the webhook\'s are left undelivered')

  // A stop that hangs ends in the test's timeout; what the stop did is read from its log and its spool.
  p.signal('SIGTERM')
  const exit = await p.closed
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'SIGTERM: exit 0')
  t.match(p.lines.find(l => l.msg === 'tagline stopped'), { spooled: 3 }, 'the stop line says 3 events were spooled')

  t.ok(existsSync(spoolFile), 'the spool file is written')
  const spoolText = existsSync(spoolFile) ? readFileSync(spoolFile, 'utf8') : ''
  const spooled = spoolText.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))
  if (existsSync(spoolFile)) t.equal((statSync(spoolFile).mode & 0o777).toString(8), '600', 'mode 0600')
  t.same(spooled.map(s => s.tag), ['hook', 'hook', 'hook'], 'only the webhook\'s events are left')
  t.same(spooled.map(s => s.event.event_id).sort(), lateIds, 'the three late events')
  t.same(byKey(spooled, s => s.event.event_id).get('late-1')?.event?.user_data, { sha256_email_address: sha256('late.signup@example.net'), sha256_phone_number: PH_E164 }, 'spooled user data is hashed')
  t.same(byKey(spooled, s => s.event.event_id).get('late-3')?.event?.user_data, { sha256_email_address: sha256('late.viewer@example.net'), sha256_phone_number: PH_E164 }, 'spooled gtag user data is hashed')
  t.ok(spooled.every(s => s.attempts >= 1), 'with their attempt counts')
  t.same(spooled.map(s => s.lastReason), Array(3).fill('HTTP 503: {"error":"maintenance"}'), 'each a retry of a refused attempt, still waiting at the deadline')
  const lateReqs = hook.requests.slice(hookFrom)
  t.ok(lateReqs.every(r => r.status === 503), 'every late webhook attempt was refused')
  t.same(lateReqs.map(r => verifyStandardWebhook(WHSEC, r.headers, r.raw)).filter(v => !v.ok), [], 'each attempt freshly and validly signed')
  const lateIdsByHeader = new Set(lateReqs.map(r => String(r.headers['webhook-id'])))
  t.same([...new Set(spooled.map(s => `msg_${String(s.batchId)}`))].filter(id => !lateIdsByHeader.has(id)), [], 'spooled events keep the webhook-id their attempts carried (idempotency across the restart)')

  // ---------------------------------------------------------------- the leak check
  await t.test('no raw e-mail, phone number or secret in the logs, the spool, the dead letters, or at a platform that must not see it', async t => {
    const out = p.stdout()
    const err = p.stderr()
    t.ok(p.lines.some(l => l.level === 20), 'LOG_LEVEL=debug: debug lines were produced')
    t.ok(out.length > 0 && p.lines.length >= 10, `the log was captured (${p.lines.length} lines)`)
    const deadLetters = p.lines.filter(l => /dead-letter|dropped/.test(String(l.msg)))
    t.ok(deadLetters.length >= 2, `dead letters appear in the log (${deadLetters.length} lines); tagline exposes them nowhere else outside the process`)
    const places: Array<[string, string]> = [['stdout (every log line)', out], ['stderr', err], ['spool file', spoolText], ['dead-letter log lines', JSON.stringify(deadLetters)]]
    for (const [where, text] of places) {
      const pii = PII_STRINGS.filter(s => text.includes(s))
      t.same(pii, [], `${where}: no raw e-mail or phone number`)
      const secrets = Object.entries(SECRETS).filter(([, s]) => text.includes(s)).map(([name]) => name)
      t.same(secrets, [], `${where}: no access token, API secret, API key or webhook secret`)
    }
    const own: Record<string, string[]> = { ga4: [GA4_SECRET], meta: [META_TOKEN], tiktok: [TIKTOK_TOKEN], posthog: [POSTHOG_KEY], webhook: [] }
    for (const pl of platforms) {
      const text = pl.requests.map(r => `${r.url}\n${JSON.stringify(r.headers)}\n${r.raw}`).join('\n')
      t.same(PII_STRINGS.filter(s => text.includes(s)), [], `${pl.name}: received no raw e-mail or phone number`)
      t.same(Object.entries(SECRETS).filter(([, s]) => text.includes(s) && !own[pl.name].includes(s)).map(([name]) => name), [], `${pl.name}: received no secret but its own`)
    }
  })
})

/** Every object key at any depth. */
function keysOf (v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(keysOf)
  if (v === null || typeof v !== 'object') return []
  return Object.entries(v).flatMap(([k, x]) => [k, ...keysOf(x)])
}

/**
 * Wait until the gateway has nothing more for these platforms: their tags' queues (waiting, in
 * flight, scheduled for retry) are empty by its own /metrics. Nothing more is coming then, and a
 * missing event fails its own checks instead of a timeout.
 */
async function settle (base: string, platforms: Platform[]): Promise<void> {
  const tags = platforms.map(pl => pl.name === 'webhook' ? 'hook' : pl.name)
  await until(async () => {
    const text = (await request(`${base}/metrics`)).body
    const depth = new Map([...text.matchAll(/^tagline_queue_depth\{tag="([^"]+)"\} (\d+)$/gm)].map(m => [m[1], Number(m[2])]))
    return tags.every(tag => depth.get(tag) === 0)
  }, 15_000, `the ${tags.join(', ')} queues to empty`)
}

