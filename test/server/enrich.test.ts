// server/enrich.ts is pure: a snapshot, parsed events, identity settings and an IdSource in;
// events and cookies to set out.
import t from 'tap'
import { enrich, type IdentitySettings } from '../../server/enrich.js'
import { buildFbc, clientIdFromFpid, clientIdFromGa, cookieDomain, fbclidOf } from '../../server/identity.js'
import type { ParsedEvent, RequestSnapshot } from '../../clients/types.js'
import { fixedIds } from './fixtures/harness.js'

const NOW = 1_700_000_000_000
const ON: IdentitySettings = { fpid: true, metaCookies: true }
const FPID_ID = `${Buffer.alloc(32, 7).toString('base64')}.${NOW / 1000}`

function snap (over: Partial<RequestSnapshot> = {}): RequestSnapshot {
  return {
    method: 'POST',
    path: '/collect',
    query: '',
    body: '',
    headers: {},
    ip: '192.0.2.1',
    cookies: {},
    trusted: false,
    requestId: 'req-1',
    receivedMs: NOW,
    host: 'metrics.shop.example',
    protocol: 'https',
    ...over
  }
}

function run (events: ParsedEvent[], s: Partial<RequestSnapshot> = {}, identity = ON, client = 'json'): ReturnType<typeof enrich> {
  return enrich(events, snap(s), client, identity, fixedIds(NOW))
}

const names = (r: ReturnType<typeof enrich>): string[] => r.cookies.map(c => c.name).sort()

t.test('source, timestamp, ids for a plain browser event', async t => {
  const { events, cookies } = run([{ event_name: 'page_view' }], { headers: { 'user-agent': 'UA/1', 'accept-language': 'en-GB,en;q=0.8' } })
  const [e] = events
  t.same(e.source, { client: 'json', request_id: 'req-1', received_ms: NOW, trusted: false, minted_event_id: true })
  t.equal(e.timestamp_ms, NOW)
  t.equal(e.ip_override, '192.0.2.1')
  t.equal(e.user_agent, 'UA/1')
  t.equal(e.language, 'en-gb')
  t.equal(e.client_id, FPID_ID, 'the minted FPID names the visitor')
  t.equal(e.event_id, '018bcfe5-6800-7000-8000-000000000001', 'minted from the IdSource')
  t.same(e.browser_ids, { fbp: `fb.1.${NOW}.1234567890` })
  t.same(cookies, [
    { name: 'FPID', value: `FPID2.2.${FPID_ID}`, maxAgeS: 63_072_000, httpOnly: true },
    { name: '_fbp', value: `fb.1.${NOW}.1234567890`, maxAgeS: 7_776_000, httpOnly: false }
  ])
})

t.test('the parsed events are not mutated', async t => {
  const parsed: ParsedEvent[] = [{ event_name: 'x', click_ids: { gclid: 'g' }, page_location: 'https://a.example/?fbclid=F' }]
  const copy = structuredClone(parsed)
  run(parsed)
  t.same(parsed, copy)
})

t.test('a timestamp from the input is kept', async t => {
  t.equal(run([{ event_name: 'x', timestamp_ms: 123 }]).events[0].timestamp_ms, 123)
  t.equal(run([{ event_name: 'x', timestamp_ms: NOW }]).events[0].timestamp_ms, NOW, 'the arrival time itself')
  t.equal(run([{ event_name: 'x', timestamp_ms: NOW + 1 }]).events[0].timestamp_ms, NOW, 'a time after the arrival becomes the arrival')
  t.equal(run([{ event_name: 'x', timestamp_ms: 8.64e15 }]).events[0].timestamp_ms, NOW, 'far in the future too')
  t.equal(run([{ event_name: 'x', timestamp_ms: NOW + 1 }, { event_name: 'y', timestamp_ms: 5 }, { event_name: 'z' }]).clamped, 1, 'and counted')
})

t.test('event_id rules', async t => {
  const { events } = run([
    { event_name: 'a', event_id: 'given' },
    { event_name: 'b', event_id: '' },
    { event_name: 'purchase', transaction_id: 'T-1' },
    { event_name: 'refund', transaction_id: 'T-2' },
    { event_name: 'purchase', transaction_id: '' },
    { event_name: 'add_to_cart', transaction_id: 'T-3' },
    { event_name: 'purchase', transaction_id: 'T-4', event_id: 'own' }
  ])
  t.same(events.map(e => e.event_id), [
    'given',
    '018bcfe5-6800-7000-8000-000000000001',
    'T-1',
    'T-2',
    '018bcfe5-6800-7000-8000-000000000002',
    '018bcfe5-6800-7000-8000-000000000003',
    'own'
  ])
  t.same(events.map(e => e.source?.minted_event_id === true), [false, true, false, false, true, true, false])
})

t.test('trusted requests: no request IP/UA/language/Referer, no cookies', async t => {
  const headers = { 'user-agent': 'curl/8', 'accept-language': 'de', referer: 'https://backend.example/' }
  const { events, cookies } = run([{ event_name: 'x' }, { event_name: 'y', ip_override: '203.0.113.5', user_agent: 'Visitor/1' }], { trusted: true, headers })
  t.same(cookies, [])
  t.equal(events[0].ip_override, undefined)
  t.equal(events[0].user_agent, undefined)
  t.equal(events[0].language, undefined)
  t.equal(events[0].page_location, undefined)
  t.equal(events[0].browser_ids, undefined)
  t.equal(events[0].source?.trusted, true)
  t.equal(events[1].ip_override, '203.0.113.5')
  t.equal(events[1].user_agent, 'Visitor/1')
  t.equal(events[0].client_id, undefined, 'a backend event without a client id gets none here: stitching may find the real one, and the pipeline mints one only after that')
  t.equal(events[1].client_id, undefined)
})

t.test('untrusted requests cannot choose their IP or UA', async t => {
  const { events } = run([{ event_name: 'x', ip_override: '203.0.113.5', user_agent: 'Fake/1' }], { headers: { 'user-agent': 'Real/1' } })
  t.equal(events[0].ip_override, '192.0.2.1')
  t.equal(events[0].user_agent, 'Real/1')
})

t.test('page_location: Referer fallback; host, path, campaign, click ids', async t => {
  const referer = 'https://shop.example/p/1?utm_source=s&utm_medium=m&utm_campaign=c%20d&gclid=G&ttclid=T&fbclid=F1&utm_source=second'
  const { events } = run([{ event_name: 'x' }, { event_name: 'y', page_location: 'https://other.example/q', campaign: { source: 'own' }, click_ids: { gclid: 'own' } }], { headers: { referer } })
  t.equal(events[0].page_location, referer)
  t.equal(events[0].page_hostname, 'shop.example')
  t.equal(events[0].page_path, '/p/1')
  t.same(events[0].campaign, { source: 's', medium: 'm', name: 'c d' }, 'the first utm_source')
  t.same(events[0].click_ids, { gclid: 'G', fbclid: 'F1', ttclid: 'T' })
  t.equal(events[0].browser_ids?.fbc, `fb.1.${NOW}.F1`)
  t.equal(events[1].page_location, 'https://other.example/q', 'the event\'s own location wins')
  t.same(events[1].campaign, { source: 'own' })
  t.same(events[1].click_ids, { gclid: 'own' })

  const bad = run([{ event_name: 'x', page_location: 'not a url' }, { event_name: 'y', page_location: 'http://[::1' }]).events
  t.equal(bad[0].page_hostname, undefined, 'an unparseable location adds nothing')
  t.equal(bad[1].page_path, undefined)
})

t.test('fbc: byte-for-byte, built once per request, replacing an older click', async t => {
  const odd = 'IwAR%2F_x+Y-z'
  const r = run([{ event_name: 'a', page_location: `https://shop.example/?fbclid=${odd}` }, { event_name: 'b', page_location: `https://shop.example/?fbclid=${odd}` }], { cookies: { _fbc: 'fb.1.1600000000000.older' } })
  t.equal(r.events[0].browser_ids?.fbc, `fb.1.${NOW}.${odd}`)
  t.equal(r.events[0].click_ids?.fbclid, 'IwAR/_x Y-z', 'click_ids holds the decoded value like the other click ids')
  t.same(r.cookies.filter(c => c.name === '_fbc'), [{ name: '_fbc', value: `fb.1.${NOW}.${odd}`, maxAgeS: 7_776_000, httpOnly: false }], 'one _fbc cookie')

  const same = run([{ event_name: 'a', page_location: 'https://shop.example/?fbclid=older' }], { cookies: { _fbc: 'fb.1.1600000000000.older' } })
  t.equal(same.events[0].browser_ids?.fbc, 'fb.1.1600000000000.older', 'the same click keeps its cookie')
  t.same(same.cookies.filter(c => c.name === '_fbc'), [])

  const given = run([{ event_name: 'a', click_ids: { fbclid: 'FROM_JSON' } }])
  t.equal(given.events[0].browser_ids?.fbc, `fb.1.${NOW}.FROM_JSON`, 'a click id given in the event builds fbc too')

  const explicit = run([{ event_name: 'a', browser_ids: { fbc: 'fb.1.1.EXPLICIT' }, page_location: 'https://shop.example/?fbclid=EXPLICIT' }])
  t.equal(explicit.events[0].browser_ids?.fbc, 'fb.1.1.EXPLICIT', 'an fbc for the same click is kept')

  const denied = run([{ event_name: 'a', page_location: 'https://shop.example/?fbclid=F', consent: { ad_storage: 'denied' } }])
  t.equal(denied.events[0].browser_ids?.fbc, `fb.1.${NOW}.F`, 'the event still carries fbc…')
  t.same(names(denied), ['FPID'], '…but no Meta cookie is stored')
})

t.test('cookies and consent', async t => {
  t.same(names(run([{ event_name: 'x', consent: { analytics_storage: 'denied' } }])), ['_fbp'])
  t.same(names(run([{ event_name: 'x', consent: { ad_storage: 'denied' } }])), ['FPID'])
  t.same(names(run([{ event_name: 'x' }, { event_name: 'y', consent: { ad_storage: 'denied', analytics_storage: 'denied' } }])), [], 'any event of the request refusing is enough')
  t.same(names(run([{ event_name: 'x', consent: { ad_user_data: 'denied' } }])), ['FPID', '_fbp'], 'only the storage types decide cookies')
  t.same(names(run([{ event_name: 'x' }], { headers: { 'sec-gpc': '1' } })), ['FPID'], 'GPC: no Meta cookies')
  t.equal(run([{ event_name: 'x' }], { headers: { 'sec-gpc': '1' } }).events[0].source?.gpc, true)
  t.same(names(run([{ event_name: 'x' }], {}, { fpid: false, metaCookies: false })), [])
  t.same(names(run([{ event_name: 'x' }], { cookies: { FPID: `FPID2.2.${FPID_ID}`, _fbp: 'fb.1.1.2' } })), [], 'nothing to set when both exist')
})

t.test('client_id: cid > FPID > _ga > minted', async t => {
  const ga = 'GA1.1.111.222'
  t.equal(run([{ event_name: 'x', client_id: 'cid.1' }], { cookies: { FPID: 'FPID2.2.fp.1', _ga: ga } }).events[0].client_id, 'cid.1')
  t.equal(run([{ event_name: 'x' }], { cookies: { FPID: 'FPID2.2.fp.1', _ga: ga } }).events[0].client_id, 'fp.1')
  t.equal(run([{ event_name: 'x' }], { cookies: { FPID: encodeURIComponent('FPID2.2.a/b+c=.1') } }).events[0].client_id, 'a/b+c=.1', 'an encoded FPID')
  const fromGa = run([{ event_name: 'x' }], { cookies: { _ga: ga } })
  t.equal(fromGa.events[0].client_id, '111.222')
  t.same(fromGa.cookies.find(c => c.name === 'FPID')?.value, 'FPID2.2.111.222', 'the FPID continues the _ga id')
  t.equal(run([{ event_name: 'x', consent: { analytics_storage: 'denied' } }], { cookies: { _ga: ga } }).events[0].client_id, '111.222')
  t.equal(run([{ event_name: 'x' }], { trusted: true, cookies: { _ga: ga } }).events[0].client_id, '111.222')
  t.equal(run([{ event_name: 'x', consent: { analytics_storage: 'denied' } }]).events[0].client_id, '1234567890.1700000000')
  const bad = run([{ event_name: 'x' }], { cookies: { FPID: 'broken' } })
  t.equal(bad.events[0].client_id, FPID_ID, 'an unreadable FPID is replaced')
  t.ok(bad.cookies.some(c => c.name === 'FPID'))
})

t.test('browser ids from cookies; empty cookies are missing ones', async t => {
  const r = run([{ event_name: 'x' }], { cookies: { _fbp: 'fb.1.1.2.AQ', _fbc: 'fb.1.1.C.Bg', _ttp: 'ttp1', _ga: 'GA1.1.1.2' } })
  t.same(r.events[0].browser_ids, { fbp: 'fb.1.1.2.AQ', fbc: 'fb.1.1.C.Bg', ttp: 'ttp1', ga: 'GA1.1.1.2' })
  const own = run([{ event_name: 'x', browser_ids: { fbp: 'own' } }], { cookies: { _fbp: 'cookie' } })
  t.equal(own.events[0].browser_ids?.fbp, 'own', 'the event\'s own ids win')
  const empty = run([{ event_name: 'x' }], { cookies: { _fbp: '', _fbc: '', _ttp: '', _ga: '', FPID: '' } })
  t.same(empty.events[0].browser_ids, { fbp: `fb.1.${NOW}.1234567890` })
  t.same(names(empty), ['FPID', '_fbp'])
  const proto = run([{ event_name: 'x' }], { cookies: JSON.parse('{"__proto__":"x","constructor":"y"}') })
  t.equal(proto.events[0].client_id, FPID_ID, 'odd cookie names change nothing')
})

t.test('identity helpers', async t => {
  t.equal(cookieDomain('metrics.shop.example', 'auto'), 'shop.example')
  t.equal(cookieDomain('metrics.shop.co.uk:8443', 'auto'), 'shop.co.uk')
  t.equal(cookieDomain('127.0.0.1:8080', 'auto'), undefined)
  t.equal(cookieDomain('localhost', 'auto'), undefined)
  t.equal(cookieDomain(undefined, 'auto'), undefined)
  t.equal(cookieDomain('x.example', '.shop.example'), '.shop.example')
  t.equal(cookieDomain('x.example', ''), undefined)
  t.equal(clientIdFromFpid('FPID2.2.abc.123'), 'abc.123')
  t.equal(clientIdFromFpid('%E0%A4%A'), undefined)
  t.equal(clientIdFromGa('GA1.2.3.4'), '3.4')
  t.equal(clientIdFromGa('GA1.2.x.4'), undefined)
  t.equal(buildFbc('AbC', 5), 'fb.1.5.AbC')
  t.equal(fbclidOf('fb.1.5.AbC.Bg'), 'AbC')
  t.equal(fbclidOf('fb.1'), undefined)
  t.equal(fbclidOf('xx.1.5.AbC'), undefined)
})

t.test('a visitor "IP" that is no address (X-Forwarded-For garbage behind trustProxy: true) is not passed on', async t => {
  for (const ip of ['garbage', '1.2.3.4:80', '', 'x'.repeat(500)]) t.equal(run([{ event_name: 'page_view' }], { ip }).events[0].ip_override, undefined, JSON.stringify(ip.slice(0, 20)))
  for (const ip of ['203.0.113.7', '2001:db8::1', '::ffff:203.0.113.7']) t.equal(run([{ event_name: 'page_view' }], { ip }).events[0].ip_override, ip)
})
