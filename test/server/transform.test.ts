// server/transform.ts: per-tag exclude/set on a copy; the original event never changes.
import t from 'tap'
import { applyTransform, hasTransform } from '../../server/transform.js'
import type { TaglineEvent } from '../../schemas/event.js'

function event (): TaglineEvent {
  return {
    event_name: 'purchase',
    event_id: 'T-1',
    currency: 'USD',
    value: 10,
    user_data: { email_address: 'jane.doe@example.com', address: { city: 'Bern', country: 'CH' } },
    items: [{ item_id: 'a', item_name: 'A', price: 1 }, { item_id: 'b', item_name: 'B' }],
    params: { plan: 'pro', nested: { keep: 1, drop: 2 } },
    consent: { ad_storage: 'granted' },
    source: { client: 'json', request_id: 'r', received_ms: 1, trusted: false }
  }
}

t.test('hasTransform', async t => {
  t.equal(hasTransform({ exclude: [], set: {} }), false)
  t.equal(hasTransform({ exclude: ['a'], set: {} }), true)
  t.equal(hasTransform({ exclude: [], set: { a: 1 } }), true)
})

t.test('exclude removes top-level and nested fields, array elements by index', async t => {
  const original = event()
  const before = structuredClone(original)
  const out = applyTransform(original, { exclude: ['user_data.email_address', 'params.nested.drop', 'items.1.item_name', 'value', 'missing', 'params.missing.deeper', 'items.9.x'], set: {} })
  t.same(out.user_data, { address: { city: 'Bern', country: 'CH' } })
  t.same(out.params, { plan: 'pro', nested: { keep: 1 } })
  t.same(out.items, [{ item_id: 'a', item_name: 'A', price: 1 }, { item_id: 'b' }])
  t.equal(out.value, undefined)
  t.notOk('missing' in out, 'an absent path creates nothing')
  t.same(original, before, 'the original event is unchanged')
  t.not(out.items, original.items, 'touched containers are copies')
  t.equal(out.consent, original.consent, 'untouched branches are shared, not copied')
})

t.test('set writes values, creating objects on the way, replacing non-objects', async t => {
  const original = event()
  const before = structuredClone(original)
  const out = applyTransform(original, {
    exclude: [],
    set: { currency: 'EUR', 'params.source': 'tagline', 'params.nested.keep': 5, 'custom.deep.flag': true, 'value.sub': 1, 'items.0.price': 2 }
  })
  t.equal(out.currency, 'EUR')
  t.same(out.params, { plan: 'pro', nested: { keep: 5, drop: 2 }, source: 'tagline' })
  t.same((out as Record<string, unknown>).custom, { deep: { flag: true } })
  t.same(out.value, { sub: 1 }, 'a scalar on the way is replaced by an object')
  t.equal(out.items?.[0].price, 2)
  t.same(original, before, 'the original event is unchanged')
})

t.test('exclude runs before set', async t => {
  const out = applyTransform(event(), { exclude: ['params'], set: { 'params.only': 1 } })
  t.same(out.params, { only: 1 })
})

t.test('a value set from the config is not shared mutable state', async t => {
  const set = { 'params.meta': { a: 1 }, 'params.meta.b': 2 }
  const first = applyTransform(event(), { exclude: [], set })
  t.same(first.params?.meta, { a: 1, b: 2 })
  t.same(set['params.meta'], { a: 1 }, 'the config value itself is not written into')
  const second = applyTransform(event(), { exclude: [], set })
  t.same(second.params?.meta, { a: 1, b: 2 })
})

t.test('prototype keys are never walked or written', async t => {
  const out = applyTransform(event(), {
    exclude: ['__proto__.toString', 'constructor.prototype.x', 'params.__proto__'],
    set: { '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes', 'params.__proto__': 'x', 'prototype.y': 1, 'params.constructor': 'c' }
  })
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal(Object.getPrototypeOf(out), Object.prototype)
  t.equal(Object.getPrototypeOf(out.params), Object.prototype)
  t.equal(Object.hasOwn(out, 'prototype'), false)
  t.equal(Object.hasOwn(out.params as object, 'constructor'), false)
  t.equal(typeof ({}).toString, 'function')
})

t.test('inherited names are not followed', async t => {
  const out = applyTransform(event(), { exclude: ['params.hasOwnProperty.x'], set: { 'params.toString.y': 1 } })
  t.same((out.params as Record<string, unknown>).toString, { y: 1 }, 'an own object is created instead of walking into the prototype')
  t.equal(typeof Object.prototype.toString, 'function')
})

t.test('a gtag hit\'s raw form loses the excluded fields too, or goes when it cannot', async t => {
  const { gtag } = await import('../../clients/gtag.js')
  const query = 'v=2&tid=G-ABC123XYZ9&cid=1.2&uid=USER-42&en=search&dl=https%3A%2F%2Fshop.example%2F&ep.search_term=jane&epn.count=3&up.tier=gold&ep.transaction_id=T1&pr1=idA~nmShirt&cu=EUR'
  const [ev] = gtag.parse({ method: 'GET', path: '/g/collect', query, body: '', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })
  const raw = (exclude: string[], set: Record<string, unknown> = {}): unknown => applyTransform(ev, { exclude, set })['x-ga-raw']
  t.same(raw(['params.search_term', 'user_id', 'page_location', 'user_properties.tier']), { query: 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=search&epn.count=3&ep.transaction_id=T1&pr1=idA~nmShirt&cu=EUR' })
  t.same(raw(['params']), { query: 'v=2&tid=G-ABC123XYZ9&cid=1.2&uid=USER-42&en=search&dl=https%3A%2F%2Fshop.example%2F&up.tier=gold&ep.transaction_id=T1&pr1=idA~nmShirt&cu=EUR' }, 'all parameters, but the model\'s own (transaction_id)')
  t.same(raw(['items', 'transaction_id', 'currency']), { query: 'v=2&tid=G-ABC123XYZ9&cid=1.2&uid=USER-42&en=search&dl=https%3A%2F%2Fshop.example%2F&ep.search_term=jane&epn.count=3&up.tier=gold' })
  t.same(raw(['ip_override', 'user_agent', 'page_path']), ev['x-ga-raw'], 'fields the hit does not carry by key: the hit is unchanged (the tag leaves out _uip and the header itself)')
  for (const [what, exclude, set] of [
    ['a set', [], { 'params.plan': 'pro' }],
    ['a click id inside dl', ['click_ids.gclid'], {}],
    ['one item\'s field inside its pr string', ['items.0.item_name'], {}],
    ['consent', ['consent'], {}]
  ] as const) t.equal(raw([...exclude], set), undefined, `${what}: no raw hit, so GA4 gets the copy over Measurement Protocol`)
  // Each model field's raw keys are the keys the gtag client reads it from.
  for (const [field, key, value] of [['client_id', 'cid', '9.9'], ['user_id', 'uid', 'u'], ['ga_session_id', 'sid', '5'], ['ga_session_number', 'sct', '2'], ['engagement_time_msec', '_et', '7'], ['page_location', 'dl', 'https://a.b/'], ['page_referrer', 'dr', 'https://c.d/'], ['page_title', 'dt', 'T'], ['language', 'ul', 'en'], ['screen_resolution', 'sr', '1x1'], ['currency', 'cu', 'EUR'], ['event_id', 'ep.event_id', 'E'], ['transaction_id', 'epn.transaction_id', '12'], ['coupon', 'ep.coupon', 'C'], ['value', 'epn.value', '3'], ['tax', 'epn.tax', '1'], ['shipping', 'ep.shipping', '2']] as const) {
    const [one] = gtag.parse({ method: 'GET', path: '/g/collect', query: `v=2&en=x&${key}=${encodeURIComponent(value)}`, body: '', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })
    t.not((one as Record<string, unknown>)[field], undefined, `${key} is read as ${field}`)
    t.same(applyTransform(one, { exclude: [field], set: {} })['x-ga-raw'], { query: 'v=2&en=x' }, `excluding ${field} leaves ${key} out`)
  }
})
