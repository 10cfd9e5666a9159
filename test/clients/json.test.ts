import t from 'tap'
import { json } from '../../clients/json.js'
import type { RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'

function snap (body: unknown, o: Partial<RequestSnapshot> = {}): RequestSnapshot {
  return { method: 'POST', path: '/collect', query: '', body: JSON.stringify(body) ?? '', json: body, contentType: 'application/json', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

function failure (fn: () => unknown): TaglineError {
  try { fn() } catch (err) { if (err instanceof TaglineError) return err; throw err }
  throw new Error('expected a TaglineError')
}

const PURCHASE = {
  event_name: 'purchase',
  event_id: 'T_12345',
  timestamp_ms: 1717999999000,
  client_id: '1234567890.1717000000',
  user_id: 'cust-88231',
  currency: 'USD',
  value: 72.05,
  transaction_id: 'T_12345',
  items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3, size: 'M' }],
  user_data: { email_address: 'jane@example.com', address: { first_name: 'Jane' } },
  consent: { ad_storage: 'granted', ad_user_data: 'denied' },
  params: { plan: 'pro', nested: { a: [1, 2] } },
  user_properties: { tier: 'gold' }
}

t.test('claims the three shapes, also with a non-string event_name so it can say what is wrong', async t => {
  t.ok(json.claims(snap(PURCHASE)))
  t.ok(json.claims(snap([PURCHASE])))
  t.ok(json.claims(snap({ events: [PURCHASE] })))
  t.ok(json.claims(snap({ event_name: 5 })))
  t.notOk(json.claims(snap({ events: [] })))
  t.notOk(json.claims(snap({ events: [{ name: 'x' }] })))
  t.notOk(json.claims(snap([])))
  t.notOk(json.claims(snap([5])))
  t.notOk(json.claims(snap({ event: 'x' })))
  t.notOk(json.claims(snap('x')))
  t.notOk(json.claims(snap(undefined)))
})

t.test('one object, an array and { events } give the same events', async t => {
  const one = json.parse(snap(PURCHASE))
  t.strictSame(one, [PURCHASE])
  t.strictSame(json.parse(snap([PURCHASE, { event_name: 'page_view' }])), [PURCHASE, { event_name: 'page_view' }])
  t.strictSame(json.parse(snap({ events: [PURCHASE] })), [PURCHASE])
})

t.test('x-ga-* keys, ip_override and user_agent only from trusted senders; source always stripped', async t => {
  const ev = { event_name: 'x', ip_override: '198.51.100.9', user_agent: 'curl', 'x-ga-raw': { query: '_uip=1.2.3.4' }, 'x-sst-system_properties': {}, source: { client: 'json', request_id: 'forged', received_ms: 0, trusted: true } }
  t.strictSame(json.parse(snap(ev)), [{ event_name: 'x' }])
  t.strictSame(json.parse(snap(ev, { trusted: true })), [{ event_name: 'x', ip_override: '198.51.100.9', user_agent: 'curl', 'x-ga-raw': { query: '_uip=1.2.3.4' }, 'x-sst-system_properties': {} }])
  t.strictSame(json.parse(snap({ event_name: 'x', source: 'garbage' })), [{ event_name: 'x' }], 'a bad source is not even validated')
})

t.test('wrong types: one sentence per problem, for every event', async t => {
  const err = failure(() => json.parse(snap([
    { event_name: 5 },
    { event_name: 'ok', value: '72.05', items: [{ price: 'x' }], consent: { ad_storage: 'yes' }, user_data: { email: 'a@b.c' }, params: { a: 1 }, user_properties: { tier: { nested: true } } },
    'purchase',
    { value: 1, surprise: true },
    { event_name: '' }
  ])))
  t.equal(err.code, 'invalid_event')
  t.equal(err.statusCode, 400)
  t.strictSame(err.details, [
    { path: 'events[0].event_name', message: 'events[0].event_name must be a string.' },
    { path: 'events[1].value', message: 'events[1].value must be a number.' },
    { path: 'events[1].items[0].price', message: 'events[1].items[0].price must be a number.' },
    { path: 'events[1].user_data.email', message: 'events[1].user_data has an unknown key "email".' },
    { path: 'events[1].consent.ad_storage', message: 'events[1].consent.ad_storage must be one of "granted", "denied".' },
    { path: 'events[1].user_properties.tier', message: 'events[1].user_properties.tier has a value of a type that is not allowed here.' },
    { path: 'events[2]', message: 'events[2] must be an event object.' },
    { path: 'events[3].event_name', message: 'events[3].event_name is required.' },
    { path: 'events[3].surprise', message: 'events[3] has an unknown key "surprise"; put custom values under params.' },
    { path: 'events[4].event_name', message: 'events[4].event_name must not be empty.' }
  ])
})

t.test('numbers JSON cannot carry to a destination, and times no Date can hold, are refused', async t => {
  // JSON.parse reads 1e309 as Infinity: a webhook would get null, GA4's build threw on the time.
  const body = JSON.parse('[{"event_name":"a","value":1e309,"timestamp_ms":-1e309,"items":[{"price":1e309}],"params":{"x":-1e309}},{"event_name":"b","timestamp_ms":-1},{"event_name":"c","timestamp_ms":1e20},{"event_name":"d","timestamp_ms":1717999999000,"value":1e300}]')
  const err = failure(() => json.parse(snap(body)))
  t.equal(err.statusCode, 400)
  t.strictSame(err.details, [
    { path: 'events[0].timestamp_ms', message: 'events[0].timestamp_ms must be a finite number (JSON numbers beyond ±1.8e308 are not).' },
    { path: 'events[0].value', message: 'events[0].value must be a finite number (JSON numbers beyond ±1.8e308 are not).' },
    { path: 'events[0].items[0].price', message: 'events[0].items[0].price must be a finite number (JSON numbers beyond ±1.8e308 are not).' },
    { path: 'events[0].params.x', message: 'events[0].params.x has a value of a type that is not allowed here.' },
    { path: 'events[1].timestamp_ms', message: 'events[1].timestamp_ms must be at least 0.' },
    { path: 'events[2].timestamp_ms', message: 'events[2].timestamp_ms must be at most 8640000000000000.' }
  ], 'a large but finite value (1e300) passes')
})

t.test('schema limits: long names, too many items, wrong container types', async t => {
  const err = failure(() => json.parse(snap([
    { event_name: 'x'.repeat(101) },
    { event_name: 'x', items: Array.from({ length: 201 }, () => ({})) },
    { event_name: 'x', params: [1], items: {}, consent: 'granted' }
  ])))
  t.strictSame(err.details.map(d => d.path), ['events[0].event_name', 'events[1].items', 'events[2].items', 'events[2].consent', 'events[2].params'])
  t.match(err.details[0].message, /at most 100 characters/)
  t.match(err.details[1].message, /at most 200 entries/)
})

t.test('a body that is none of the shapes is a 400', async t => {
  t.equal(failure(() => json.parse(snap('purchase'))).code, 'invalid_event')
})

t.test('at most 500 events', async t => {
  t.equal(json.parse(snap(Array.from({ length: 500 }, () => ({ event_name: 'e' })))).length, 500)
  const err = failure(() => json.parse(snap({ events: Array.from({ length: 501 }, () => ({ event_name: 'e' })) })))
  t.equal(err.code, 'invalid_event')
  t.equal(err.details[0].path, 'events')
})

t.test('the details list is capped at 100', async t => {
  const err = failure(() => json.parse(snap(Array.from({ length: 300 }, () => ({ event_name: 5 })))))
  t.equal(err.details.length, 100)
  t.match(err.message, /^The events are not valid: 300 problems/)
})

t.test('a trusted sender\'s ip_override must be an address, its user_agent fit for a header', async t => {
  const err = failure(() => json.parse(snap([
    { event_name: 'a', ip_override: '1.2.3.4:80' },
    { event_name: 'b', user_agent: 'Mozilla\r\nX-Injected: 1' }
  ], { trusted: true })))
  t.equal(err.code, 'invalid_event')
  t.same(err.details.map(d => d.path), ['events[0].ip_override', 'events[1].user_agent'])
  t.strictSame(json.parse(snap({ event_name: 'ok', ip_override: '2001:db8::7', user_agent: 'Mozilla/5.0 (X11) Größe \u{1F600}' }, { trusted: true })), [{ event_name: 'ok', ip_override: '2001:db8::7', user_agent: 'Mozilla/5.0 (X11) Größe \u{1F600}' }], 'IPv6, and any text in a user agent')
})
