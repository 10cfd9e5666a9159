import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { ga4, Ga4Settings } from '../../tags/ga4.js'
import { GA4_EXAMPLES, NOW } from '../../tags/ga4.examples.js'
import { sha256Hex } from '../../tags/pii.js'
import { tagTypes } from '../../tags/index.js'
import { runExamples } from './fixtures/examples.js'
import type { TaglineEvent } from '../../schemas/event.js'
import type { OutgoingRequest } from '../../tags/types.js'

const ctx = { now: NOW, batchId: 'b1', attempt: 1 }
const S = { measurementId: 'G-ABC123XYZ9', apiSecret: 'mp-secret-1' }
const CID = '1234567890.1717000000'
const build = (events: TaglineEvent[], settings: Record<string, unknown> = S) => ga4.build(events, settings as any, ctx)
const body = (r: OutgoingRequest): any => JSON.parse(r.body!)
const ev = (extra: Partial<TaglineEvent> = {}): TaglineEvent => ({ event_name: 'login', client_id: CID, timestamp_ms: NOW, ...extra })

t.test('examples', async t => {
  runExamples(t, ga4, GA4_EXAMPLES, ctx)
})

t.test('registered, with its defaults and secret', async t => {
  t.equal(tagTypes.ga4, ga4)
  t.same(ga4.defaults, { batch: { maxEvents: 25, maxWaitMs: 1000 }, consent: [] })
  t.same(ga4.secrets, ['apiSecret'])
  t.notOk(Value.Check(Ga4Settings, { measurementId: 'UA-1234-1', apiSecret: 'x' }), 'UA ids refused')
  t.notOk(Value.Check(Ga4Settings, { measurementId: 'G-ABC', apiSecret: 'x', region: 'us' }), 'unknown region refused')
  t.notOk(Value.Check(Ga4Settings, { measurementId: 'G-ABC', apiSecret: 'x', extra: 1 }), 'no extra settings')
  t.notOk(Value.Check(Ga4Settings, { measurementId: 'G-ABC' }), 'apiSecret required')
})

t.test('endpoint rule: origin + path prefix, the transport path appended', async t => {
  const gtag = ev({ event_name: 'page_view', 'x-ga-raw': { query: 'v=2&en=page_view' } })
  for (const endpoint of ['http://127.0.0.1:9/ga', 'http://127.0.0.1:9/ga/', 'http://127.0.0.1:9/ga/g/collect', 'http://127.0.0.1:9/ga/mp/collect', 'http://127.0.0.1:9/ga/debug/mp/collect?x=1']) {
    const [g, m] = build([gtag, ev()], { ...S, endpoint }).requests
    t.equal(g.url, 'http://127.0.0.1:9/ga/g/collect?v=2&en=page_view&_uip=%3A%3A', endpoint)
    t.equal(m.url, 'http://127.0.0.1:9/ga/mp/collect?measurement_id=G-ABC123XYZ9&api_secret=mp-secret-1', endpoint)
  }
  t.equal(build([ev()], { ...S, endpoint: 'https://proxy.example' }).requests[0].url.split('?')[0], 'https://proxy.example/mp/collect')
  t.equal(build([ev()], { ...S, endpoint: 'https://proxy.example', region: 'eu' }).requests[0].url.split('?')[0], 'https://proxy.example/mp/collect', 'endpoint beats region')
  t.equal(build([ev()], { ...S, debug: true }).requests[0].url.split('?')[0], 'https://www.google-analytics.com/debug/mp/collect')
  t.equal(build([gtag], { ...S, debug: true }).requests[0].url.split('?')[0], 'https://www.google-analytics.com/g/collect', 'debug leaves gtag forwarding alone')
})

t.test('gtag forwarding: _uip replaced or redacted, UA only when known, hits kept apart', async t => {
  const raw = (query: string, line?: string) => ({ 'x-ga-raw': line === undefined ? { query } : { query, line } })
  const [a] = build([ev({ ...raw('v=2&_uip=6.6.6.6&en=x&ep.user_data.email=a%40b.c'), ip_override: '198.51.100.0' })]).requests
  t.equal(a.url, 'https://www.google-analytics.com/g/collect?v=2&en=x&_uip=198.51.100.0', 'browser _uip and plain user data never travel')
  t.same(a.headers, { 'content-type': 'text/plain;charset=UTF-8' }, 'no user-agent header without a visitor UA')
  const [wide] = build([ev({ ...raw('v=2&en=x'), user_agent: 'Bot/1 (Größe \u{1F600})' })]).requests
  t.equal(wide.headers?.['user-agent'], 'Bot/1 (Größe ?)', 'a header carries Latin-1 only: the rest is a ?')
  const [b] = build([ev(raw('v=2&en=x'))]).requests
  t.match(b.url, /&_uip=%3A%3A$/, 'no IP for this tag (ip: none) → "::", so Google does not geolocate the gateway')

  const two = build([ev(raw('v=2&en=a')), ev(raw('v=2&en=a'))]).requests
  t.equal(two.length, 2, 'query-only hits are one request each')
  const ua = build([ev({ ...raw('v=2', 'en=a'), user_agent: 'A' }), ev({ ...raw('v=2', 'en=b'), user_agent: 'B' }), ev({ ...raw('v=2', 'en=c'), user_agent: 'A' })]).requests
  t.same(ua.map(r => [r.body, r.events]), [['en=a\nen=c', [0, 2]], ['en=b', [1]]], 'lines group by query + IP + UA, indices follow')

  const mixed = build([ev(), ev(raw('v=2&en=x')), ev()])
  t.same(mixed.requests.map(r => r.events), [[1], [0, 2]])
  const off = build([ev(raw('v=2&en=page_view'))], { ...S, forwardGtag: false }).requests
  t.match(off[0].url, /\/mp\/collect\?/, 'forwardGtag: false sends gtag events over MP')
  t.same(build([ev({ 'x-ga-raw': { query: 7 } } as any)]).requests[0].url.includes('/mp/collect'), true, 'a malformed x-ga-raw falls back to MP')
})

t.test('MP grouping: by client, user, IP, UA, consent, user properties and user data', async t => {
  const events = [
    ev(), ev({ user_id: 'u1' }), ev(), ev({ ip_override: '1.2.3.4' }), ev({ consent: { ad_user_data: 'denied' } }),
    ev({ client_id: '1.2' }), ev({ user_properties: { tier: 'a' } }), ev({ timestamp_ms: NOW - 5 })
  ]
  const out = build(events)
  t.same(out.requests.map(r => r.events), [[0, 2, 7], [1], [3], [4], [5], [6]])
  const first = body(out.requests[0])
  t.equal(first.timestamp_micros, NOW * 1000, 'request time is its first event\'s')
  t.same(first.events.map((e: any) => e.timestamp_micros), [NOW * 1000, NOW * 1000, (NOW - 5) * 1000], 'each event keeps its own time')
  t.same(body(out.requests[3]).consent, { ad_user_data: 'DENIED' }, 'only the known consent types')
  t.equal(body(out.requests[0]).consent, undefined, 'no consent object when nothing is known')
})

t.test('MP body size: under 130 kB per request; an event too big alone is rejected', async t => {
  const big = (n: number) => ev({ params: { blob: 'x' }, items: Array.from({ length: n }, (_, i) => ({ item_id: `SKU_${i}`, item_name: 'n'.repeat(100), item_brand: 'b'.repeat(100), item_category: 'c'.repeat(100) })) })
  const out = build([big(200), big(200), ev()])
  t.same(out.requests.map(r => r.events), [[0], [1, 2]], 'two ~70 kB events do not fit one request; a small one joins the second')
  for (const r of out.requests) t.ok(Buffer.byteLength(r.body!) < 130_000)
  t.same(build([big(150), big(150), ev()]).requests.map(r => r.events), [[0, 1, 2]], '2 × ~52 kB fit')
  const tooBig = build([ev({ items: Array.from({ length: 200 }, (_, i) => ({ item_id: `S${i}`, a: 'a'.repeat(100), b: 'b'.repeat(100), c: 'c'.repeat(100), d: 'd'.repeat(100), e: 'e'.repeat(100), f: 'f'.repeat(100) })) })])
  t.same(tooBig.requests, [])
  t.match(tooBig.rejected, [{ index: 0, reason: /under 130 kB; this event alone makes \d+ bytes/ }])
})

t.test('MP event params: session engagement, long page fields, limits', async t => {
  const params = (e: Partial<TaglineEvent>) => body(build([ev(e)]).requests[0]).events[0].params
  t.same(params({ ga_session_id: '17' }), { session_id: '17', engagement_time_msec: 1 }, 'engagement defaults to 1 with a session')
  t.same(params({ ga_session_id: '17', engagement_time_msec: 0 }), { session_id: '17', engagement_time_msec: 1 }, '0 is not positive')
  t.same(params({ ga_session_id: '17', engagement_time_msec: 2100 }), { session_id: '17', engagement_time_msec: 2100 })
  t.same(params({ params: { engagement_time_msec: 40, x: 1 } }), { engagement_time_msec: 40, x: 1 })
  t.same(params({}), {}, 'no session, no engagement time')
  t.same(params({ value: 3, params: { value: 9, transaction_id: '' } }), { value: 3 }, 'model fields win; empty transaction_id never sent')
  t.same(params({ user_properties: { vip: true } }), {})
  t.same(body(build([ev({ user_properties: { vip: true } })]).requests[0]).user_properties, { vip: { value: 'true' } }, 'booleans become strings')

  const url = 'https://shop.example/' + 'p'.repeat(900)
  t.equal(params({ page_location: url }).page_location, url, 'page_location may reach 1000 characters')
  const reason = (e: Partial<TaglineEvent>) => build([ev(e)]).rejected?.[0]?.reason
  t.equal(reason({ page_location: url + 'p'.repeat(200) }), undefined, 'a long value is cut, not refused (below)')
  // What GA4 refuses by name or value type is left out (below); the event's own name is not.
  for (const e of [
    { params: { ['p'.repeat(41)]: 1 } }, { params: { nested: { a: 1 } } }, { user_properties: { ['u'.repeat(25)]: 'x' } },
    { user_properties: { first_visit_time: 1 } }, { items: [{ item_id: 'x', ['k'.repeat(41)]: 'v' }] }
  ] as Array<Partial<TaglineEvent>>) t.equal(reason(e), undefined, `sent without it: ${JSON.stringify(e).slice(0, 60)}`)
  t.match(reason({ event_name: 'e'.repeat(41) }), /Event name .* longer than 40/)
  t.match(reason({ event_name: 'order-completed' }), /Event name "order-completed" is not valid/)
  t.match(reason({ event_name: 'screen_view' }), /reserved/)
  t.match(reason({ client_id: undefined }), /needs a client_id/)
  t.equal(reason({ timestamp_ms: NOW - 72 * 3600_000 }), undefined, 'exactly 72 h is still accepted')
  t.match(reason({ timestamp_ms: NOW - 72 * 3600_000 - 1 }), /at most 72 h old/)
})

t.test('MP user_data: only digests, with or without a user_id, none when ad_user_data is denied', async t => {
  const raw = { email_address: 'jane@example.com', phone_number: '+4791234567', address: { first_name: 'Jane', city: 'oslo' } }
  const withId = body(build([ev({ user_id: 'u1', user_data: raw })]).requests[0])
  t.same(withId.user_data, { address: [{ city: 'oslo' }] }, 'an unprepared event never sends raw identifiers')
  t.notOk(JSON.stringify(withId).includes('jane'))
  const prepared = ga4.prepare!(ev({ user_id: 'u1', user_data: raw }), S as any)
  const sent = body(build([prepared]).requests[0]).user_data
  t.same(sent, {
    sha256_email_address: [sha256Hex('jane@example.com')],
    sha256_phone_number: [sha256Hex('+4791234567')],
    address: [{ sha256_first_name: sha256Hex('jane'), city: 'oslo' }]
  })
  t.same(body(build([ga4.prepare!(ev({ user_data: raw }), S as any)]).requests[0]).user_data, sent, 'without a user_id too (a guest checkout): Google recommends one, no longer requires it')
  const denied = body(build([ga4.prepare!(ev({ user_id: 'u1', user_data: raw, consent: { ad_user_data: 'denied' } }), S as any)]).requests[0])
  t.equal(denied.user_data, undefined, 'ad_user_data denied: no user_data, as gtag sends none')
  t.same(denied.consent, { ad_user_data: 'DENIED' }, 'and the denial itself')
})

t.test('prepare: hashes with Google\'s rules, nothing raw survives', async t => {
  const e = ev({ user_data: { email_address: ' John.Doe@Gmail.com ', phone_number: '912 34 567', address: { first_name: 'John', last_name: 'Doe', country: 'NO' } }, value: 5 })
  const p = ga4.prepare!(e, { ...S, defaultCountry: 'NO' } as any)
  t.equal(p.user_data?.sha256_email_address, sha256Hex('johndoe@gmail.com'), 'gmail: dots before @ removed')
  t.equal(p.user_data?.sha256_email_address, ga4.prepare!(ev({ user_data: { email_address: 'johndoe@gmail.com' } }), S as any).user_data?.sha256_email_address)
  t.equal(p.user_data?.sha256_phone_number, sha256Hex('+4791234567'), 'E.164 with + (defaultCountry used)')
  const text = JSON.stringify(p)
  for (const s of ['john', 'John', 'Doe', '912 34', 'gmail.com']) t.notOk(text.includes(s), `no "${s}"`)
  t.equal(p.value, 5, 'everything else untouched')
  t.equal(e.user_data?.email_address, ' John.Doe@Gmail.com ', 'the input event is not mutated')
  const plain = ev()
  t.equal(ga4.prepare!(plain, S as any), plain, 'no user data: the same event')
  t.notOk('user_data' in ga4.prepare!(ev({ user_data: { email_address: 'not an email' } }), S as any), 'unusable user data removed')
})

t.test('classify', async t => {
  const mp: OutgoingRequest = { method: 'POST', url: 'https://www.google-analytics.com/mp/collect?measurement_id=G-1&api_secret=s', headers: {}, events: [0] }
  const dbg: OutgoingRequest = { ...mp, url: 'https://www.google-analytics.com/debug/mp/collect?measurement_id=G-1&api_secret=s' }
  const c = (status: number, body = '', req = mp) => ga4.classify({ status, headers: {}, body }, req)
  t.same(c(204), { kind: 'ok' })
  t.same(c(200, 'garbage'), { kind: 'ok' }, 'production MP answers 2xx even to garbage: nothing to read')
  for (const s of [301, 408, 429, 500, 502, 503]) t.equal(c(s).kind, 'retry', `${s} retries`)
  for (const s of [400, 404, 413, 418, 451]) t.equal(c(s).kind, 'drop', `${s} drops`)
  for (const s of [401, 403]) t.equal(c(s).kind, 'credentials', `${s}: the credentials, not the events`)
  t.same(c(200, '{"validationMessages":[]}', dbg), { kind: 'ok' })
  const bad = c(200, JSON.stringify({ validationMessages: [{ fieldPath: 'events', description: 'Event at index: [0] has invalid name [add-to-cart].', validationCode: 'NAME_INVALID' }] }), dbg)
  t.same(bad, { kind: 'drop', reason: 'debug validation: events: Event at index: [0] has invalid name [add-to-cart]. (NAME_INVALID)' })
  t.match(c(200, '<html>', dbg), { kind: 'drop', reason: /not JSON/ })
  t.equal(c(503, '', dbg).kind, 'retry')
})

t.test('values longer than GA4 keeps are cut to its limits, not refused: GA4 keeps such an event', async t => {
  const long = ev({
    event_name: 'purchase',
    page_location: 'https://shop.example/checkout?q=' + 'a'.repeat(966) + '%C3%A9tag', // the cut falls inside %C3
    page_referrer: 'https://ref.example/' + 'r'.repeat(500),
    page_title: 't' + '\u{1F600}'.repeat(200), // unit 300 is the first half of a pair
    transaction_id: 'T'.repeat(120),
    items: [{ item_id: 'SKU-1', item_name: 'n'.repeat(99) + '\u{1F600}', price: 10 }, { item_id: 'SKU-2', item_name: 'short' }],
    params: { note: 'x'.repeat(150), session_id: '1'.repeat(150) },
    user_properties: { tier: 'p'.repeat(40), vip: true }
  })
  const { requests, rejected } = build([long])
  t.equal(rejected, undefined, 'nothing dead-lettered')
  const sent = body(requests[0])
  const p = sent.events[0].params
  t.equal(p.page_location, 'https://shop.example/checkout?q=' + 'a'.repeat(966), 'page_location: at most 1,000, never inside a percent escape')
  t.equal(p.page_referrer.length, 420)
  t.equal(p.page_title, 't' + '\u{1F600}'.repeat(149), 'page_title: 300 at most, the pair left out whole')
  t.equal(p.transaction_id, 'T'.repeat(100))
  t.equal(p.items[0].item_name, 'n'.repeat(99), 'an item value: 100, never half a surrogate pair')
  t.equal(p.items[0].price, 10)
  t.same(p.items[1], { item_id: 'SKU-2', item_name: 'short' }, 'other items untouched')
  t.equal(p.note, 'x'.repeat(100))
  t.equal(p.session_id, '1'.repeat(150), 'session_id is exempt')
  t.same(sent.user_properties, { tier: { value: 'p'.repeat(36) }, vip: { value: 'true' } })

  // prepare cuts the queued copy once and says where; the build then finds nothing over.
  const cuts: string[] = []
  const prepared = ga4.prepare!(long, S as any, { cut: f => cuts.push(f) })
  t.same(cuts.sort(), ['items', 'page_location', 'page_referrer', 'page_title', 'params', 'params', 'user_properties'])
  t.same(body(build([prepared]).requests[0]), sent, 'the same request from the prepared copy')
  const short = ev({ page_location: 'https://shop.example/', params: { note: 'ok' } })
  t.equal(ga4.prepare!(short, S as any, { cut: f => cuts.push(f) }), short, 'nothing over: the same object, nothing told')
  t.equal(cuts.length, 7)

  // A forwarded gtag hit goes as it came: nothing cut, nothing counted.
  const hit = ev({ event_name: 'page_view', page_location: long.page_location, 'x-ga-raw': { query: 'v=2&en=page_view' } })
  t.equal(ga4.prepare!(hit, S as any, { cut: f => cuts.push(f) }).page_location, long.page_location)
  t.equal(cuts.length, 7)
  t.equal(ga4.prepare!(hit, { ...S, forwardGtag: false } as any, { cut: f => cuts.push(f) }).page_location?.length, 998, 'not forwarded: over MP, cut')
  t.equal(cuts.length, 8)
})

t.test('the cut follows what MP sends: items and page fields under params, and nothing that is not sent', async t => {
  const cuts: string[] = []
  const prep = (e: TaglineEvent): TaglineEvent => ga4.prepare!(e, S as any, { cut: f => cuts.push(f) })
  // Items given as a parameter (a JSON client may put them there) are sent as the items.
  const viaParams = prep(ev({ event_name: 'purchase', currency: 'EUR', value: 1, params: { items: [{ item_id: 'X', item_name: 'n'.repeat(150) }, { item_id: 'Y' }] } }))
  t.same(cuts, ['items'])
  const { requests, rejected } = build([viaParams])
  t.equal(rejected, undefined, 'not dead-lettered')
  t.same(body(requests[0]).events[0].params.items, [{ item_id: 'X', item_name: 'n'.repeat(100) }, { item_id: 'Y' }])
  // A page URL given as a parameter is cut as a URL.
  cuts.length = 0
  const url = prep(ev({ params: { page_location: 'https://a.example/?' + 'a'.repeat(979) + '%C3%A9' } }))
  t.same(cuts, ['page_location'])
  t.equal((url.params as any).page_location, 'https://a.example/?' + 'a'.repeat(979), 'not cut inside %C3%A9')
  // What mpParams does not send is neither cut nor counted: a parameter a model field shadows,
  // engagement_time_msec as a string.
  cuts.length = 0
  const shadowed = ev({ currency: 'EUR', value: 1, params: { currency: 'c'.repeat(150), engagement_time_msec: '9'.repeat(150) } as any })
  t.equal(prep(shadowed), shadowed, 'the same event')
  t.same(cuts, [])
})

t.test('what GA4 refuses by name or value type is left out and counted; the event is sent', async t => {
  const cuts: string[] = []
  const prep = (e: TaglineEvent): TaglineEvent => ga4.prepare!(e, S as any, { cut: f => cuts.push(f) })
  const sent = (e: TaglineEvent): any => {
    const { requests, rejected } = build([prep(e)])
    t.equal(rejected, undefined, 'not dead-lettered')
    return body(requests[0])
  }
  const params = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`p${i}`, i]))
  const out = sent(ev({ event_name: 'purchase', currency: 'EUR', value: 5, params: { 'order-type': 'gift', _hidden: 1, firebase_conversion: 1, list: [1], obj: {}, ...params } as any }))
  t.same(Object.keys(out.events[0].params).sort(), ['currency', 'value', ...Object.keys(params).slice(0, 23)].sort(), 'refused ones go before the 25 are counted: 23 of the 24 valid ones fit beside currency and value')
  t.same(cuts.filter(c => c === 'params').length, 6, 'five refused, one past the 25th')

  cuts.length = 0
  const items = sent(ev({ event_name: 'purchase', currency: 'EUR', value: 5, items: [
    { item_id: 'A', ga_note: 'kept: no reserved names among item parameters', 'gift-wrap': 'yes', colour: ['red'] },
    { item_id: { sku: 1 }, price: 3 },
    'not an item',
    { item_name: 'B', price: 2 }
  ] as any })).events[0].params.items
  t.same(items, [{ item_id: 'A', ga_note: 'kept: no reserved names among item parameters' }, { item_name: 'B', price: 2 }], 'an item left with neither id nor name goes, and so does an entry that is no item')
  t.same(cuts, Array(5).fill('items'), 'once per item parameter left out (gift-wrap, colour, the object item_id) and per item gone (two)')

  cuts.length = 0
  const many = Array.from({ length: 230 }, (_, i) => ({ item_id: `I${i}` }))
  t.equal(sent(ev({ event_name: 'purchase', currency: 'EUR', value: 5, params: { items: many } })).events[0].params.items.length, 200, 'items past the 200th go')
  t.equal(cuts.length, 30)
  cuts.length = 0
  const junkFirst = [...Array.from({ length: 10 }, () => ({ price: 1 })), ...many.slice(0, 200)]
  t.equal(sent(ev({ event_name: 'purchase', currency: 'EUR', value: 5, params: { items: junkFirst } })).events[0].params.items.length, 200, 'unreadable items go before the 200 are counted')
  t.equal(cuts.length, 10)

  cuts.length = 0
  const up = sent(ev({ user_properties: { 'plan tier': 'gold', first_open_time: 1, ['u'.repeat(25)]: 'x', plan: 'pro', vip: true, nested: { a: 1 } } as any })).user_properties
  t.same(up, { plan: { value: 'pro' }, vip: { value: 'true' } })
  t.same(cuts, Array(4).fill('user_properties'))
})

t.test('past GA4\'s counts: the event\'s own parameters past the 25th sent, user properties past the 25th, custom item parameters past the 10th are left out, not the event', async t => {
  const cuts: string[] = []
  const custom = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, i]))
  const e = ev({
    event_name: 'purchase',
    ga_session_id: '1718000000',
    page_location: 'https://shop.example/thanks',
    page_referrer: 'https://shop.example/cart',
    page_title: 'Thanks',
    currency: 'EUR',
    value: 12,
    transaction_id: 'T-9',
    tax: 1,
    shipping: 2,
    coupon: 'C',
    items: [{ item_id: 'A', price: 12, ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`c${i}`, 'x'])) }],
    params: custom,
    user_properties: Object.fromEntries(Array.from({ length: 27 }, (_, i) => [`u${i}`, i]))
  })
  const prepared = ga4.prepare!(e, S as any, { cut: f => cuts.push(f) })
  const { requests, rejected } = build([prepared])
  t.equal(rejected, undefined, 'sent, not dead-lettered')
  const sent = body(requests[0])
  const p = sent.events[0].params
  t.equal(Object.keys(p).length, 25)
  for (const k of ['session_id', 'engagement_time_msec', 'page_location', 'page_referrer', 'page_title', 'currency', 'value', 'transaction_id', 'tax', 'shipping', 'coupon', 'items']) t.ok(k in p, `${k} kept`)
  t.same(Object.keys(p).filter(k => k.startsWith('p') && /^p\d+$/.test(k)), Array.from({ length: 13 }, (_, i) => `p${i}`), 'the first 13 of the event\'s own')
  t.same(Object.keys(p.items[0]), ['item_id', 'price', ...Array.from({ length: 10 }, (_, i) => `c${i}`)], '10 custom item parameters')
  t.same(Object.keys(sent.user_properties), Array.from({ length: 25 }, (_, i) => `u${i}`))
  t.same(cuts.filter(c => c === 'params').length, 7)
  t.same(cuts.filter(c => c === 'items').length, 2)
  t.same(cuts.filter(c => c === 'user_properties').length, 2)
  t.same(body(build([e]).requests[0]), sent, 'an event queued without the cut is sent the same')
  const few = ev({ params: { a: 1 }, user_properties: { u: 1 } })
  t.equal(ga4.prepare!(few, S as any, {}), few, 'nothing over: the same object')
})

t.test('past 25 parameters, commerce given as parameters is kept too (the JSON client may put it there)', async t => {
  const params: Record<string, unknown> = {}
  for (let i = 0; i < 24; i++) params[`dim_${i}`] = i
  Object.assign(params, { currency: 'EUR', value: 9, transaction_id: 'T-P', items: [{ item_id: 'A' }] })
  const cuts: string[] = []
  const sent = body(build([ga4.prepare!(ev({ event_name: 'purchase', params: params as any }), S as any, { cut: f => cuts.push(f) })]).requests[0]).events[0].params
  t.same([sent.currency, sent.value, sent.transaction_id, sent.items], ['EUR', 9, 'T-P', [{ item_id: 'A' }]])
  t.equal(Object.keys(sent).length, 25)
  t.same(cuts, ['params', 'params', 'params'], 'three of the dimensions left out')
  t.notOk('dim_23' in sent)
})

t.test('at each limit nothing is cut (the same object); one past it, that is cut', async t => {
  const cuts: string[] = []
  const prep = (e: TaglineEvent): TaglineEvent => ga4.prepare!(e, S as any, { cut: f => cuts.push(f) })
  const n = (k: number, prefix = 'p'): Record<string, number> => Object.fromEntries(Array.from({ length: k }, (_, i) => [`${prefix}${i}`, i]))
  const url = (len: number): string => 'https://s.example/?' + 'q'.repeat(len - 19)
  const cases: Array<[string, (over: number) => Partial<TaglineEvent>, string]> = [
    ['page_location', o => ({ page_location: url(1000 + o) }), 'page_location'],
    ['page_referrer', o => ({ page_referrer: url(420 + o) }), 'page_referrer'],
    ['page_title', o => ({ page_title: 't'.repeat(300 + o) }), 'page_title'],
    ['coupon', o => ({ coupon: 'c'.repeat(100 + o) }), 'params'],
    ['a parameter', o => ({ params: { note: 'n'.repeat(100 + o) } }), 'params'],
    ['25 parameters with a session', o => ({ ga_session_id: '1718000000', params: n(23 + o) }), 'params'],
    ['an item value', o => ({ items: [{ item_id: 'i'.repeat(100 + o) }] }), 'items'],
    ['custom item parameters', o => ({ items: [{ item_id: 'A', ...Object.fromEntries(Array.from({ length: 10 + o }, (_, i) => [`c${i}`, 'x'])) }] }), 'items'],
    ['a user property', o => ({ user_properties: { u: 'u'.repeat(36 + o) } }), 'user_properties'],
    ['user properties', o => ({ user_properties: n(25 + o, 'u') }), 'user_properties']
  ]
  for (const [what, make, field] of cases) {
    cuts.length = 0
    const at = ev(make(0))
    t.equal(prep(at), at, `${what}: at the limit, the same object`)
    t.same(cuts, [], `${what}: nothing told`)
    t.equal(build([at]).rejected, undefined, `${what}: at the limit, sent`)
    const past = ev(make(1))
    t.not(prep(past), past, `${what}: one past, cut`)
    t.same(cuts, [field], `${what}: told as ${field}`)
    t.equal(build([past]).rejected, undefined, `${what}: one past, still sent`)
  }
})
