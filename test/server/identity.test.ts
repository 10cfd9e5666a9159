// First-party identity and enrichment through the edge: FPID, Meta cookies, click ids, campaign,
// Referer fallback, _ga — checked on the Set-Cookie headers and on what the destination receives.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { harness, drained, fixedIds, type Harness } from './fixtures/harness.js'
import type { TaglineEvent } from '../../schemas/event.js'

const HOST = 'metrics.shop.example'
const NOW = 1_700_000_000_000
const FPID_CLIENT_ID = `${Buffer.alloc(32, 7).toString('base64')}.${NOW / 1000}`

interface SetCookie { value: string, attrs: string[] }

function setCookies (res: LightMyRequestResponse): Record<string, SetCookie> {
  const out: Record<string, SetCookie> = {}
  for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const [pair, ...attrs] = line.split(';').map(s => s.trim())
    const eq = pair.indexOf('=')
    out[pair.slice(0, eq)] = { value: pair.slice(eq + 1), attrs }
  }
  return out
}

async function hit (h: Harness, query: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await h.app.inject({ method: 'GET', url: `/g/collect?v=2&tid=G-1&${query}`, headers: { host: HOST, ...headers } })
  if (res.statusCode !== 204) throw new Error(`hit answered ${res.statusCode}: ${res.body}`)
  return res
}

async function lastEvent (h: Harness): Promise<TaglineEvent> {
  await drained(h)
  const events = h.sink.delivered()
  return events[events.length - 1]
}

const dl = (url: string): string => `dl=${encodeURIComponent(url)}`

t.test('FPID: set HttpOnly on the registrable domain, client_id derived from it next time', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const first = await hit(h, 'en=page_view')
  const c = setCookies(first)
  t.ok(c.FPID, 'FPID is set')
  t.equal(c.FPID.value, `FPID2.2.${FPID_CLIENT_ID}`)
  t.ok(c.FPID.attrs.includes('HttpOnly'), 'HttpOnly')
  t.ok(c.FPID.attrs.includes('Domain=shop.example'), 'on the registrable domain')
  t.ok(c.FPID.attrs.includes('Path=/'))
  t.ok(c.FPID.attrs.includes('Max-Age=63072000'), 'two years')
  t.ok(c.FPID.attrs.includes('SameSite=Lax'))
  t.equal((await lastEvent(h)).client_id, FPID_CLIENT_ID, 'the first event already carries it')

  const second = await hit(h, 'en=page_view', { cookie: `FPID=${c.FPID.value}` })
  t.equal(setCookies(second).FPID, undefined, 'not set again')
  t.equal((await lastEvent(h)).client_id, FPID_CLIENT_ID, 'client_id from the cookie')

  // A dataLayer push (no cid at all) from the same browser.
  const push = await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, cookie: `FPID=${c.FPID.value}` }, payload: { event: 'add_to_cart' } })
  t.equal(push.statusCode, 202)
  t.equal((await lastEvent(h)).client_id, FPID_CLIENT_ID)
  // An explicit cid still wins.
  await hit(h, 'en=page_view&cid=555.666', { cookie: `FPID=${c.FPID.value}` })
  t.equal((await lastEvent(h)).client_id, '555.666')
})

t.test('FPID: an unreadable FPID cookie is replaced, not read as a new visitor every time', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  for (const bad of ['garbage', '', 'FPID2.2.', '%E0%A4%A']) {
    const res = await hit(h, 'en=page_view', { cookie: `FPID=${bad}` })
    t.equal(setCookies(res).FPID?.value, `FPID2.2.${FPID_CLIENT_ID}`, `FPID=${JSON.stringify(bad)} is replaced`)
    t.equal((await lastEvent(h)).client_id, FPID_CLIENT_ID, 'and the event carries the new id')
  }
})

t.test('FPID and _fbp: not set when consent or GPC says no', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const denied = await hit(h, 'en=page_view&gcs=G100')
  t.same(setCookies(denied), {}, 'gcs=G100: no cookies at all')
  const ev = await lastEvent(h)
  t.equal(ev.browser_ids?.fbp, undefined, 'no _fbp minted for the event either')
  t.equal(ev.client_id, `1234567890.${NOW / 1000}`, 'a per-request client id instead')

  const analyticsOnly = setCookies(await hit(h, 'en=page_view&gcs=G101'))
  t.ok(analyticsOnly.FPID, 'G101: FPID')
  t.equal(analyticsOnly._fbp, undefined, 'G101: no _fbp')
  const adsOnly = setCookies(await hit(h, 'en=page_view&gcs=G110'))
  t.equal(adsOnly.FPID, undefined, 'G110: no FPID')
  t.ok(adsOnly._fbp, 'G110: _fbp')

  const gpc = await hit(h, `en=page_view&${dl('https://shop.example/?fbclid=IwAR_gpc')}`, { 'sec-gpc': '1' })
  const g = setCookies(gpc)
  t.equal(g._fbp, undefined, 'Sec-GPC: 1: no _fbp')
  t.equal(g._fbc, undefined, 'Sec-GPC: 1: no _fbc')
  t.ok(g.FPID, 'Sec-GPC: 1: the analytics id is still set')
  const gpcEvent = await lastEvent(h)
  t.equal(gpcEvent.source?.gpc, true, 'the event is marked')
  t.equal(gpcEvent.browser_ids?.fbp, undefined)

  // Refused by any event of a batch: no cookie for the request.
  const batch = await h.app.inject({
    method: 'POST',
    url: '/g/collect?v=2&tid=G-1',
    headers: { host: HOST, 'content-type': 'text/plain' },
    payload: 'en=a&gcs=G111\nen=b&gcs=G100'
  })
  t.same(setCookies(batch), {}, 'one denying event in the batch is enough')

  const fpidOff = await harness({ ids: fixedIds(NOW), yaml: 'server:\n  rateLimit: false\nidentity:\n  fpid: false\n  metaCookies: false\n' })
  t.teardown(fpidOff.close)
  t.same(setCookies(await hit(fpidOff, 'en=page_view')), {}, 'identity.fpid/metaCookies false: no cookies')
})

t.test('_fbp minted when missing; fbclid builds fbc byte-for-byte; a newer fbclid replaces an older _fbc', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const minted = setCookies(await hit(h, 'en=page_view'))
  t.equal(minted._fbp?.value, `fb.1.${NOW}.1234567890`, '_fbp is fb.1.<ms>.<random>')
  t.notOk(minted._fbp?.attrs.includes('HttpOnly'), '_fbp is readable by the pixel')
  t.ok(minted._fbp?.attrs.includes('Max-Age=7776000'), '90 days')
  t.ok(minted._fbp?.attrs.includes('Domain=shop.example'))

  const fbclid = 'IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDGrc'
  const res = await hit(h, `en=page_view&${dl(`https://shop.example/landing?utm_source=fb&fbclid=${fbclid}`)}`)
  const c = setCookies(res)
  t.equal(c._fbc?.value, `fb.1.${NOW}.${fbclid}`, 'the _fbc cookie')
  let ev = await lastEvent(h)
  t.equal(ev.browser_ids?.fbc, `fb.1.${NOW}.${fbclid}`, 'fbc is fb.1.<ms>.<fbclid>')
  t.equal(ev.click_ids?.fbclid, fbclid)

  // Bytes that decoding would change stay as they were in the URL.
  const odd = 'AbC%2Bd+E~f_G-h'
  await hit(h, `en=page_view&${dl(`https://shop.example/?fbclid=${odd}&x=1`)}`)
  ev = await lastEvent(h)
  t.equal(ev.browser_ids?.fbc, `fb.1.${NOW}.${odd}`, 'no percent-decoding, no + to space, no case change')

  // An older _fbc from another click is replaced by the newer click.
  const old = 'fb.1.1600000000000.IwAR_older_click'
  const newer = await hit(h, `en=page_view&${dl('https://shop.example/?fbclid=IwAR_newer_click')}`, { cookie: `_fbc=${old}; _fbp=fb.1.1600000000000.42` })
  t.equal(setCookies(newer)._fbc?.value, `fb.1.${NOW}.IwAR_newer_click`, 'the cookie is replaced')
  t.equal(setCookies(newer)._fbp, undefined, 'an existing _fbp is kept')
  ev = await lastEvent(h)
  t.equal(ev.browser_ids?.fbc, `fb.1.${NOW}.IwAR_newer_click`, 'the event carries the newer click')
  t.equal(ev.browser_ids?.fbp, 'fb.1.1600000000000.42')

  // The same click again: the cookie (and its original time) is kept.
  const same = await hit(h, `en=page_view&${dl('https://shop.example/?fbclid=IwAR_older_click')}`, { cookie: `_fbc=${old}` })
  t.equal(setCookies(same)._fbc, undefined, 'not re-set for the same click')
  t.equal((await lastEvent(h)).browser_ids?.fbc, old, 'its creation time is kept')
})

t.test('5-segment _fbp/_fbc (with Meta\'s appendix) pass through unchanged', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const fbp = 'fb.2.1690000000000.1122334455.AQ'
  const fbc = 'fb.1.1690000000000.IwAR_five.Bg'
  const res = await hit(h, `en=page_view&${dl('https://shop.example/?fbclid=IwAR_five')}`, { cookie: `_fbp=${fbp}; _fbc=${fbc}; _ttp=ttp-123; _ga=GA1.1.987654321.1690000000` })
  const c = setCookies(res)
  t.equal(c._fbp, undefined)
  t.equal(c._fbc, undefined)
  const ev = await lastEvent(h)
  t.same(ev.browser_ids, { fbp, fbc, ttp: 'ttp-123', ga: 'GA1.1.987654321.1690000000' }, 'every browser id as the cookies hold it')
})

t.test('empty Meta cookies count as missing', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const res = await hit(h, 'en=page_view', { cookie: '_fbp=; _fbc=; _ttp=; _ga=' })
  t.equal(setCookies(res)._fbp?.value, `fb.1.${NOW}.1234567890`, 'an empty _fbp is replaced')
  const ev = await lastEvent(h)
  t.same(ev.browser_ids, { fbp: `fb.1.${NOW}.1234567890` }, 'no empty ids on the event')
})

t.test('utm_* → campaign, gclid/ttclid → click_ids, page host and path, language', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const url = 'https://shop.example/sale/shoes?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=red&utm_content=hero&utm_id=c-9&gclid=Cj0KCQ_g&ttclid=E.C.P.tt&wbraid=wb1&gbraid=gb1'
  await hit(h, `en=page_view&${dl(url)}`, { 'accept-language': 'de-CH,de;q=0.9,en;q=0.8' })
  const ev = await lastEvent(h)
  t.same(ev.campaign, { source: 'newsletter', medium: 'email', name: 'spring sale', term: 'red', content: 'hero', id: 'c-9' })
  t.same(ev.click_ids, { gclid: 'Cj0KCQ_g', ttclid: 'E.C.P.tt', wbraid: 'wb1', gbraid: 'gb1' })
  t.equal(ev.page_hostname, 'shop.example')
  t.equal(ev.page_path, '/sale/shoes')
  t.equal(ev.language, 'de-ch', 'the first Accept-Language tag')
  // gtag's own campaign fields win over the URL
  await hit(h, `en=page_view&cs=google&cm=cpc&${dl('https://shop.example/?utm_source=ignored&utm_medium=ignored&utm_campaign=kept')}`)
  t.same((await lastEvent(h)).campaign, { source: 'google', medium: 'cpc', name: 'kept' })
  // ul from the hit wins over the header
  await hit(h, 'en=page_view&ul=fr-fr', { 'accept-language': 'de' })
  t.equal((await lastEvent(h)).language, 'fr-fr')
})

t.test('page_location falls back to the Referer for an untrusted push, never for a trusted one', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const referer = 'https://shop.example/product/42?utm_source=referrer&ttclid=TT-ref'
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, referer }, payload: { event: 'view_item', ecommerce: { items: [{ item_id: '42' }] } } })
  t.equal(res.statusCode, 202)
  const ev = await lastEvent(h)
  t.equal(ev.page_location, referer)
  t.equal(ev.page_path, '/product/42')
  t.same(ev.campaign, { source: 'referrer' })
  t.same(ev.click_ids, { ttclid: 'TT-ref' })

  const own = await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, referer }, payload: { event: 'view_item', page_location: 'https://shop.example/own' } })
  t.equal(own.statusCode, 202)
  t.equal((await lastEvent(h)).page_location, 'https://shop.example/own', 'the push\'s own page_location wins')

  const trusted = await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, referer, authorization: 'Bearer tl_test_key_5f1e0c9a7b3d' }, payload: { event_name: 'x' } })
  t.equal(trusted.statusCode, 202)
  t.equal((await lastEvent(h)).page_location, undefined, 'a backend\'s Referer is not the visitor\'s page')
})

t.test('_ga cookie → client_id when there is no cid', async t => {
  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, cookie: '_ga=GA1.1.1122334455.1690000000' }, payload: { event: 'sign_up' } })
  t.equal(res.statusCode, 202)
  let ev = await lastEvent(h)
  t.equal(ev.client_id, '1122334455.1690000000', 'the gtag client id from _ga')
  t.equal(ev.browser_ids?.ga, 'GA1.1.1122334455.1690000000')
  // The server-managed id continues the _ga one (sGTM's migration), so GA sees one visitor.
  const fpid = setCookies(res).FPID
  t.equal(fpid?.value, 'FPID2.2.1122334455.1690000000', 'the FPID minted for a known _ga visitor keeps its id')
  await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, cookie: `FPID=${fpid?.value}` }, payload: { event: 'login' } })
  ev = await lastEvent(h)
  t.equal(ev.client_id, '1122334455.1690000000', 'still the same visitor once only FPID is left')

  // analytics_storage denied: no FPID, but the existing _ga still names the visitor
  const denied = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=page_view&gcs=G100', headers: { host: HOST, cookie: '_ga=GA1.2.777.1690000001' } })
  t.same(setCookies(denied), {})
  t.equal((await lastEvent(h)).client_id, '777.1690000001')
  // a _ga that is not a GA cookie is not a client id
  await h.app.inject({ method: 'POST', url: '/collect', headers: { host: HOST, cookie: '_ga=nonsense' }, payload: { event: 'x' } })
  t.equal((await lastEvent(h)).client_id, FPID_CLIENT_ID)
})

t.test('cookie domain: explicit setting, IP hosts and localhost get host-only cookies', async t => {
  const explicit = await harness({ ids: fixedIds(NOW), yaml: 'server:\n  rateLimit: false\nidentity:\n  cookieDomain: ".shop.example"\n' })
  t.teardown(explicit.close)
  const e = setCookies(await hit(explicit, 'en=page_view'))
  t.ok(e.FPID.attrs.includes('Domain=shop.example') || e.FPID.attrs.includes('Domain=.shop.example'), 'the configured domain')

  const h = await harness({ ids: fixedIds(NOW) })
  t.teardown(h.close)
  for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']) {
    const res = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=page_view', headers: { host } })
    const c = setCookies(res)
    t.ok(c.FPID, `${host}: FPID set`)
    t.notOk(c.FPID.attrs.some(a => a.startsWith('Domain=')), `${host}: host-only`)
  }
})
