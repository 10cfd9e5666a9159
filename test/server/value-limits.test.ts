// A value longer than GA4 keeps (a product name over 100 characters, a landing URL over 1,000) no
// longer costs the event: the edge takes it, GA4 gets it cut to its limit, every other destination
// gets it whole, and the cut is counted. GA4 itself keeps such an event; refusing or dead-lettering
// it lost purchases from GA4's revenue.
import t, { type Test } from 'tap'
import { harness, hookTag, metric, AUTH, type Harness } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'

/** A gateway with a GA4 tag (and a webhook beside it) delivering to a loopback sink. */
async function gateway (t: Test, withHook: boolean): Promise<{ sink: Sink, h: Harness }> {
  const sink = await startSink(t)
  const ga4 = (origin: string): string => `  - { name: ga4, type: ga4, measurementId: G-ABC1234567, apiSecret: sec, endpoint: "${origin}/ga", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }\n`
  const h = await harness({ sink, tags: origin => (withHook ? hookTag('hook', origin) : '') + ga4(origin) })
  t.teardown(h.close)
  return { sink, h }
}

/** A backend's POST /collect, with the API key. */
async function backend (h: Harness, payload: object): Promise<Awaited<ReturnType<Harness['app']['inject']>>> {
  return await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload })
}

const LANDING = 'https://shop.example/landing?utm_campaign=' + 'c'.repeat(1100)
const NAME = 'Organic cotton crew-neck T-shirt, heavyweight 240 gsm, garment-dyed, relaxed fit, unisex, in twelve colours'

t.test('a GA4 Measurement Protocol purchase with long values: accepted, GA4 gets them cut, the webhook whole', async t => {
  const { sink, h } = await gateway(t, true)
  t.ok(NAME.length > 100)
  const res = await h.app.inject({
    method: 'POST',
    url: '/mp/collect?measurement_id=G-ABC1234567&api_secret=sec',
    headers: { authorization: AUTH },
    payload: {
      client_id: '555.1768470000',
      user_properties: { plan: { value: 'enterprise-annual-prepaid-with-priority-support' } },
      events: [{ name: 'purchase', params: { transaction_id: 'T-1', currency: 'EUR', value: 49, page_location: LANDING, items: [{ item_id: 'TS-1', item_name: NAME, price: 49 }] } }]
    }
  })
  t.equal(res.statusCode, 204, 'taken: GA4 itself takes such a request')
  await sink.waitFor(rs => rs.some(r => r.path === '/ga/mp/collect') && rs.some(r => r.path === '/hook'), 'both destinations')
  const ga = sink.requests.find(r => r.path === '/ga/mp/collect')?.json as any
  const p = ga.events[0].params
  t.equal(p.transaction_id, 'T-1')
  t.equal(p.value, 49)
  t.equal(p.page_location, LANDING.slice(0, 1000), 'GA4: page_location cut at 1,000')
  t.equal(p.items[0].item_name, NAME.slice(0, 100), 'GA4: the item name cut at 100')
  t.equal(ga.user_properties.plan.value, 'enterprise-annual-prepaid-with-priority-support'.slice(0, 36))
  const hook = (sink.requests.find(r => r.path === '/hook')?.json as any).events[0]
  t.equal(hook.page_location, LANDING, 'the webhook gets the URL whole')
  t.equal(hook.items[0].item_name, NAME, 'and the name whole')
  const cut = async (field: string): Promise<number> => await metric(h.metrics, 'tagline_values_cut_total', { tag: 'ga4', field })
  t.equal(await cut('page_location'), 1)
  t.equal(await cut('items'), 1)
  t.equal(await cut('user_properties'), 1)
  await until(async () => await metric(h.metrics, 'tagline_tag_events_total', { tag: 'ga4', outcome: 'sent' }) === 1, 5000, 'GA4 counts it sent')
  t.equal(await metric(h.metrics, 'tagline_tag_events_total', { tag: 'ga4', outcome: 'dropped' }), 0, 'nothing dead-lettered')
})

t.test('a backend purchase over /collect with a long custom parameter: delivered to GA4, the value cut', async t => {
  const { sink, h } = await gateway(t, false)
  const res = await backend(h, { event_name: 'purchase', client_id: '555.1768470000', transaction_id: 'T-2', currency: 'EUR', value: 10, params: { coupon_note: 'n'.repeat(250) } })
  t.equal(res.statusCode, 202)
  await sink.waitFor(rs => rs.some(r => r.path === '/ga/mp/collect'), 'GA4')
  const ga = sink.requests.find(r => r.path === '/ga/mp/collect')?.json as any
  t.equal(ga.events[0].params.coupon_note, 'n'.repeat(100))
  t.equal(await metric(h.metrics, 'tagline_values_cut_total', { tag: 'ga4', field: 'params' }), 1)
})

t.test('an MP event with 30 parameters: accepted, GA4 gets 25 (its own first), the webhook all 30', async t => {
  const { sink, h } = await gateway(t, true)
  const params: Record<string, unknown> = { transaction_id: 'T-3', currency: 'EUR', value: 5 }
  for (let i = 0; i < 27; i++) params[`custom_${i}`] = i
  const res = await h.app.inject({
    method: 'POST',
    url: '/mp/collect?measurement_id=G-ABC1234567&api_secret=sec',
    headers: { authorization: AUTH },
    payload: { client_id: '555.1768470000', events: [{ name: 'purchase', params }] }
  })
  t.equal(res.statusCode, 204, 'taken')
  await sink.waitFor(rs => rs.some(r => r.path === '/ga/mp/collect') && rs.some(r => r.path === '/hook'), 'both destinations')
  const p = (sink.requests.find(r => r.path === '/ga/mp/collect')?.json as any).events[0].params
  t.equal(Object.keys(p).length, 25)
  t.same([p.transaction_id, p.currency, p.value], ['T-3', 'EUR', 5], 'the commerce parameters kept')
  t.notOk('custom_26' in p, 'the last of the event\'s own left out')
  const hook = (sink.requests.find(r => r.path === '/hook')?.json as any).events[0]
  t.equal(Object.keys(hook.params).filter(k => k.startsWith('custom_')).length, 27, 'the webhook gets all of them')
  t.equal(await metric(h.metrics, 'tagline_values_cut_total', { tag: 'ga4', field: 'params' }), 5, '30 sent, 25 kept')
})

t.test('a backend purchase whose fields GA4 would refuse by name or type: GA4 gets the purchase without them, the webhook everything', async t => {
  const { sink, h } = await gateway(t, true)
  const res = await backend(h, {
    event_name: 'purchase',
    client_id: '555.1768470000',
    transaction_id: 'T-NAMES',
    currency: 'EUR',
    value: 80,
    // A shop system's own fields: a hyphen, a space, a reserved prefix, an object.
    params: { 'order-type': 'gift', ga_channel: 'web', shipping_tier: 'express', cart: { lines: 2 } },
    user_properties: { 'plan tier': 'gold', plan: 'pro' },
    items: [{ item_id: 'SKU-1', price: 40, quantity: 2, 'gift-wrap': 'yes', colour: 'red' }]
  })
  t.equal(res.statusCode, 202)
  await sink.waitFor(rs => rs.some(r => r.path === '/ga/mp/collect') && rs.some(r => r.path === '/hook'), 'both destinations')
  const ga = sink.requests.find(r => r.path === '/ga/mp/collect')?.json as any
  t.same(ga.events[0].params, { currency: 'EUR', value: 80, transaction_id: 'T-NAMES', items: [{ item_id: 'SKU-1', price: 40, quantity: 2, colour: 'red' }], shipping_tier: 'express' },
    'GA4: the revenue and the fields it takes; order-type, ga_channel, cart and gift-wrap left out')
  t.same(ga.user_properties, { plan: { value: 'pro' } }, 'GA4: the user property it can read')
  const hook = (sink.requests.find(r => r.path === '/hook')?.json as any).events[0]
  t.same(hook.params, { 'order-type': 'gift', ga_channel: 'web', shipping_tier: 'express', cart: { lines: 2 } }, 'the webhook gets every field')
  const cut = async (field: string): Promise<number> => await metric(h.metrics, 'tagline_values_cut_total', { tag: 'ga4', field })
  t.equal(await cut('params'), 3)
  t.equal(await cut('items'), 1)
  t.equal(await cut('user_properties'), 1)
  await until(async () => await metric(h.metrics, 'tagline_tag_events_total', { tag: 'ga4', outcome: 'sent' }) === 1, 5000, 'GA4 counts it sent')
  t.equal((await h.delivery.deadLetters.list()).length, 0, 'nothing dead-lettered')
})
