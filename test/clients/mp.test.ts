import t from 'tap'
import { mp } from '../../clients/mp.js'
import { validateMp } from '../../protocol/ga4-mp-rules.js'
import type { RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'

function snap (json: unknown, o: Partial<RequestSnapshot> = {}): RequestSnapshot {
  return { method: 'POST', path: '/mp/collect', query: 'measurement_id=G-ABC123XYZ9&api_secret=s3cret', body: JSON.stringify(json) ?? '', json, contentType: 'application/json', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

function failure (fn: () => unknown): TaglineError {
  try { fn() } catch (err) { if (err instanceof TaglineError) return err; throw err }
  throw new Error('expected a TaglineError')
}

const HASH = 'a'.repeat(64)
// A Measurement Protocol purchase using the fields of the GA4 MP reference
// (https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference):
// client_id, user_id, consent, ip_override, user_agent, user_properties, user_data and events.
const EXAMPLE = {
  client_id: '1234567890.1717000000',
  user_id: 'cust-88231',
  consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' },
  ip_override: '203.0.113.7',
  user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) …',
  user_properties: { customer_tier: { value: 'premium' } },
  user_data: { sha256_email_address: [HASH] },
  events: [{
    name: 'purchase',
    params: {
      session_id: '1718000000',
      engagement_time_msec: 100,
      transaction_id: 'T_12345',
      currency: 'USD',
      value: 72.05,
      tax: 4.90,
      shipping: 5.99,
      items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3 }, { item_id: 'SKU_12346', price: 42.02, quantity: 1 }]
    }
  }]
}

/** Deep copy of EXAMPLE with `patch` applied, for one-violation tests. */
function example (patch: (b: any) => void): unknown {
  const b = structuredClone(EXAMPLE)
  patch(b)
  return b
}

const codes = (body: unknown): Array<[string, string]> => validateMp(body).map(p => [p.path, p.validationCode])

t.test('claims /mp/collect by path, and MP-shaped JSON anywhere', async t => {
  t.ok(mp.claims(snap(undefined)))
  t.ok(mp.claims(snap(EXAMPLE, { path: '/collect' })))
  t.notOk(mp.claims(snap({ events: [{ event_name: 'x', name: 'y' }] }, { path: '/collect' })))
  t.notOk(mp.claims(snap({ events: [] }, { path: '/collect' })))
  t.notOk(mp.claims(snap({ events: 'x' }, { path: '/collect' })))
  t.notOk(mp.claims(snap([{ name: 'x' }], { path: '/collect' })))
  t.notOk(mp.claims(snap({ events: [null] }, { path: '/collect' })))
})

t.test('an MP purchase from an untrusted sender: ip_override and user_agent ignored', async t => {
  const [ev, ...rest] = mp.parse(snap(EXAMPLE))
  t.equal(rest.length, 0)
  t.strictSame(ev, {
    event_name: 'purchase',
    'x-ga-measurement_id': 'G-ABC123XYZ9',
    client_id: '1234567890.1717000000',
    user_id: 'cust-88231',
    user_properties: { customer_tier: 'premium' },
    consent: { ad_user_data: 'granted', ad_personalization: 'denied' },
    user_data: { sha256_email_address: HASH },
    ga_session_id: '1718000000',
    engagement_time_msec: 100,
    transaction_id: 'T_12345',
    currency: 'USD',
    value: 72.05,
    tax: 4.9,
    shipping: 5.99,
    items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3 }, { item_id: 'SKU_12346', price: 42.02, quantity: 1 }]
  })
  t.notOk('api_secret' in ev, 'the secret never rides along')
})

t.test('an MP purchase from a trusted backend keeps ip_override and user_agent', async t => {
  const [ev] = mp.parse(snap(EXAMPLE, { trusted: true }))
  t.equal(ev.ip_override, '203.0.113.7')
  t.equal(ev.user_agent, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) …')
})

t.test('timestamps: request-level, event-level override; numeric session ids', async t => {
  const events = mp.parse(snap({
    client_id: '1.2',
    timestamp_micros: 1718000000123456,
    events: [
      { name: 'a', params: { session_id: 1718000000, session_number: 3, page_location: 'https://shop.example/', page_title: 'Home', page_referrer: 'https://ref.example/', coupon: 'C', debug_mode: true, plan: 'pro' } },
      { name: 'b', timestamp_micros: 1717000000000999 }
    ]
  }))
  t.match(events[0], { timestamp_ms: 1718000000123, ga_session_id: '1718000000', ga_session_number: 3, page_location: 'https://shop.example/', page_title: 'Home', page_referrer: 'https://ref.example/', coupon: 'C' })
  t.strictSame(events[0].params, { debug_mode: true, plan: 'pro' })
  t.equal(events[1].timestamp_ms, 1717000000000)
  t.equal(events[1].params, undefined)
  t.equal(events[0].timestamp_ms === events[1].timestamp_ms, false)
})

t.test('events share no mutable objects', async t => {
  const [a, b] = mp.parse(snap({ client_id: '1.2', user_properties: { tier: { value: 'x' } }, events: [{ name: 'a' }, { name: 'b' }] }))
  t.strictSame(a.user_properties, b.user_properties)
  t.not(a.user_properties, b.user_properties)
})

t.test('app streams, firebase_app_id, non_personalized_ads, address and consent details', async t => {
  const [ev] = mp.parse(snap({
    app_instance_id: 'abcdef0123456789abcdef0123456789',
    non_personalized_ads: true,
    consent: { ad_user_data: 'granted' },
    user_id: 'u1',
    user_data: { sha256_phone_number: HASH, address: [{ sha256_first_name: HASH, city: 'oslo', country: 'NO' }] },
    events: [{ name: 'screen_view' }]
  }, { query: 'firebase_app_id=1:123:android:abc&api_secret=x' }))
  t.match(ev, {
    event_name: 'screen_view',
    'x-ga-app_instance_id': 'abcdef0123456789abcdef0123456789',
    'x-ga-firebase_app_id': '1:123:android:abc',
    consent: { ad_user_data: 'granted', ad_personalization: 'denied' },
    user_data: { sha256_phone_number: HASH, address: { sha256_first_name: HASH, city: 'oslo', country: 'NO' } }
  })
  t.equal(ev.client_id, undefined)
})

t.test('consent.ad_storage (not MP\'s own field) is heard: a refusal there gates the ad tags', async t => {
  const [ev] = mp.parse(snap({ client_id: '1.2', consent: { ad_storage: 'DENIED', analytics_storage: 'granted' }, events: [{ name: 'purchase' }] }))
  t.same(ev.consent, { ad_storage: 'denied', analytics_storage: 'granted' })
})

t.test('a request with only user properties is valid and has no events', async t => {
  t.strictSame(mp.parse(snap({ client_id: '1.2', user_properties: { tier: { value: 'gold' } }, events: [] })), [])
})

t.test('one TaglineError lists every problem with MP validation codes', async t => {
  const err = failure(() => mp.parse(snap({ events: [{ name: '1bad', params: { _x: 1, 'bad-name': 2 } }, { name: 'session_start' }] })))
  t.equal(err.code, 'invalid_measurement_protocol')
  t.equal(err.statusCode, 400)
  t.strictSame(err.details.map(d => [d.path, d.validationCode]), [
    ['client_id', 'VALUE_REQUIRED'],
    ['events[0].name', 'NAME_INVALID'],
    ['events[0].params._x', 'NAME_RESERVED'],
    ['events[0].params.bad-name', 'NAME_INVALID'],
    ['events[1].name', 'NAME_RESERVED']
  ])
  for (const d of err.details) t.match(d.message, /^[A-Z0-9"a-z].*\.$/, 'each message is a sentence')
})

t.test('limits: events', async t => {
  t.strictSame(codes(example(b => { b.events = Array.from({ length: 26 }, () => ({ name: 'e' })) })), [['events', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.events[0].name = 'a'.repeat(41) })), [['events[0].name', 'NAME_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].name = 'a'.repeat(40) })), [])
  t.strictSame(codes(example(b => { b.events[0].name = 'has space' })), [['events[0].name', 'NAME_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].name = 'first_visit' })), [['events[0].name', 'NAME_RESERVED']])
  t.strictSame(codes(example(b => { b.events[0].name = 'screen_view' })), [['events[0].name', 'NAME_RESERVED']], 'app-only names are reserved on web streams')
  t.strictSame(codes(example(b => { delete b.events[0].name })), [['events[0].name', 'VALUE_REQUIRED']])
  t.strictSame(codes(example(b => { b.events[0].name = 7 })), [['events[0].name', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.events[0] = 'purchase' })), [['events[0]', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].timestamp_micros = 'soon' })), [['events[0].timestamp_micros', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { delete b.events })), [['events', 'VALUE_REQUIRED']])
  t.strictSame(codes(example(b => { b.events = { name: 'x' } })), [['events', 'VALUE_INVALID']])
})

t.test('limits: params', async t => {
  t.strictSame(codes(example(b => { for (let i = 0; i < 18; i++) b.events[0].params[`p${i}`] = i })), [['events[0].params', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.events[0].params['p'.repeat(41)] = 1 })), [[`events[0].params.${'p'.repeat(41)}`, 'NAME_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].params.firebase_conversion = 1; b.events[0].params.ga_x = 1; b.events[0].params.google_x = 1; b.events[0].params['gtag.x'] = 1; b.events[0].params.firebase_x = 1 })).map(c => c[1]), ['NAME_RESERVED', 'NAME_RESERVED', 'NAME_RESERVED', 'NAME_RESERVED', 'NAME_RESERVED'])
  t.strictSame(codes(example(b => { b.events[0].params.note = 'x'.repeat(101) })), [['events[0].params.note', 'VALUE_OUT_OF_BOUNDS']])
  t.strictSame(codes(example(b => { b.events[0].params.note = 'x'.repeat(100) })), [])
  t.strictSame(codes(example(b => { b.events[0].params.session_id = '1'.repeat(150) })), [], 'session_id is exempt from the length rule')
  t.strictSame(codes(example(b => { b.events[0].params.obj = { a: 1 }; b.events[0].params.nil = null; b.events[0].params.list = [1] })).map(c => c[1]), ['VALUE_INVALID', 'VALUE_INVALID', 'VALUE_INVALID'])
  t.strictSame(codes(example(b => { b.events[0].params = [] })), [['events[0].params', 'VALUE_INVALID']])
})

t.test('limits: the page fields have longer ones; limits: false leaves value lengths and counts to the tags', async t => {
  const url = (n: number): string => 'https://shop.example/?' + 'q'.repeat(n - 22)
  t.strictSame(codes(example(b => { b.events[0].params.page_location = url(1000); b.events[0].params.page_referrer = url(420); b.events[0].params.page_title = 't'.repeat(300) })), [])
  t.strictSame(codes(example(b => { b.events[0].params.page_location = url(1001); b.events[0].params.page_referrer = url(421); b.events[0].params.page_title = 't'.repeat(301) })),
    [['events[0].params.page_location', 'VALUE_OUT_OF_BOUNDS'], ['events[0].params.page_referrer', 'VALUE_OUT_OF_BOUNDS'], ['events[0].params.page_title', 'VALUE_OUT_OF_BOUNDS']])
  t.match(validateMp(example(b => { b.events[0].params.page_location = url(1001) }))[0].message, /longer than 1000 characters/)
  const long = example(b => {
    b.events[0].params.page_location = url(5000)
    b.events[0].params.note = 'x'.repeat(500)
    b.events[0].params.items[0].item_name = 'n'.repeat(300)
    b.user_properties.customer_tier.value = 'v'.repeat(100)
  })
  t.strictSame(validateMp(long, { limits: false }), [], 'no length problem without limits')
  t.equal(validateMp(long).length, 4)
  t.strictSame(validateMp(example(b => { b.events[0].name = 'a'.repeat(41); b.events[0].params.note = 'x'.repeat(500) }), { limits: false }).map(p => p.validationCode), ['NAME_INVALID'], 'names are still checked')
  const many = example(b => {
    for (let i = 0; i < 30; i++) b.events[0].params[`p${i}`] = i
    for (let i = 0; i < 30; i++) b.user_properties[`u${i}`] = { value: i }
    for (let i = 0; i < 12; i++) b.events[0].params.items[0][`c${i}`] = 'x'
  })
  t.equal(validateMp(many).length, 3, 'too many parameters, user properties, custom item parameters')
  t.strictSame(validateMp(many, { limits: false }), [], 'counts are limits too')
  t.strictSame(validateMp(example(b => { b.events = Array.from({ length: 26 }, () => ({ name: 'e' })) }), { limits: false }).map(p => p.validationCode), ['EXCEEDED_MAX_ENTITIES'], '26 events in one request are still refused')
})

t.test('limits: items', async t => {
  t.strictSame(codes(example(b => { b.events[0].params.items = 'SKU' })), [['events[0].params.items', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].params.items = Array.from({ length: 201 }, () => ({ item_id: 'a' })) })), [['events[0].params.items', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.events[0].params.items[0] = 'SKU' })), [['events[0].params.items[0]', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].params.items[0].item_name = 'n'.repeat(101) })), [['events[0].params.items[0].item_name', 'VALUE_OUT_OF_BOUNDS']])
  t.strictSame(codes(example(b => { b.events[0].params.items[0]['bad key'] = 'x' })), [['events[0].params.items[0].bad key', 'NAME_INVALID']])
  t.strictSame(codes(example(b => { b.events[0].params.items[0].dims = { w: 1 } })), [['events[0].params.items[0].dims', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { for (let i = 0; i < 11; i++) b.events[0].params.items[0][`c${i}`] = 'x' })), [['events[0].params.items[0]', 'EXCEEDED_MAX_ENTITIES']])
})

t.test('limits: user properties', async t => {
  t.strictSame(codes(example(b => { for (let i = 0; i < 25; i++) b.user_properties[`u${i}`] = { value: i } })), [['user_properties', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.user_properties['u'.repeat(25)] = { value: 1 } })), [[`user_properties.${'u'.repeat(25)}`, 'NAME_INVALID']])
  t.strictSame(codes(example(b => { b.user_properties.first_open_time = { value: 1 }; b.user_properties.user_id = { value: 'x' }; b.user_properties.ga_x = { value: 1 } })).map(c => c[1]), ['NAME_RESERVED', 'NAME_RESERVED', 'NAME_RESERVED'])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier.value = 'v'.repeat(37) })), [['user_properties.customer_tier.value', 'VALUE_OUT_OF_BOUNDS']])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier.value = 'v'.repeat(36) })), [])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier = 'premium' })), [['user_properties.customer_tier', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier = {} })), [['user_properties.customer_tier.value', 'VALUE_REQUIRED']])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier.value = true })), [['user_properties.customer_tier.value', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_properties.customer_tier.timestamp_micros = -1 })), [['user_properties.customer_tier.timestamp_micros', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_properties = [] })), [['user_properties', 'VALUE_INVALID']])
})

t.test('limits: ids, user_data, consent and top-level types', async t => {
  t.strictSame(codes(example(b => { delete b.client_id })), [['client_id', 'VALUE_REQUIRED']])
  t.strictSame(codes(example(b => { b.client_id = 12345 })), [['client_id', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { delete b.client_id; b.app_instance_id = 'abc' })), [])
  t.strictSame(codes(example(b => { delete b.user_id })), [], 'user_data without a user_id: recommended, not required (https://developers.google.com/analytics/devguides/collection/ga4/uid-data)')
  t.strictSame(codes(example(b => { b.user_id = 5; delete b.user_data })), [['user_id', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_data = 'jane@example.com' })), [['user_data', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_data.sha256_email_address = ['jane@example.com'] })), [['user_data.sha256_email_address[0]', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_data.sha256_email_address = [HASH, HASH, HASH, HASH] })), [['user_data.sha256_email_address', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.user_data.sha256_phone_number = HASH.toUpperCase() })), [['user_data.sha256_phone_number', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_data.address = [{}, {}, {}] })), [['user_data.address', 'EXCEEDED_MAX_ENTITIES']])
  t.strictSame(codes(example(b => { b.user_data.address = { city: 5, sha256_street: 'Main 1' } })), [['user_data.address.sha256_street', 'VALUE_INVALID'], ['user_data.address.city', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_data.address = ['x'] })), [['user_data.address[0]', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.consent.ad_user_data = 'YES' })), [['consent.ad_user_data', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.consent = 'GRANTED' })), [['consent', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.non_personalized_ads = 'yes' })), [['non_personalized_ads', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.timestamp_micros = 0 })), [['timestamp_micros', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.ip_override = 'not an ip' })), [['ip_override', 'VALUE_INVALID']])
  t.strictSame(codes(example(b => { b.user_agent = 'UA\nX-Injected: 1' })), [['user_agent', 'VALUE_INVALID']])
  t.strictSame(codes([EXAMPLE]), [['', 'VALUE_INVALID']])
  t.strictSame(codes(undefined), [['', 'VALUE_INVALID']])
})

t.test('an MP path with a non-JSON body is a 400, not a crash', async t => {
  const err = failure(() => mp.parse(snap(undefined, { body: 'en=page_view' })))
  t.equal(err.code, 'invalid_measurement_protocol')
})

t.test('the details list is capped', async t => {
  const items = Array.from({ length: 200 }, () => ({ 'bad key': 'x', 'worse key': 'y' }))
  const err = failure(() => mp.parse(snap(example(b => { b.events[0].params.items = items }))))
  t.equal(err.details.length, 100)
  t.match(err.message, /many problems/)
})
