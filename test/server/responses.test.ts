// Responses: each route and each client answers with the status and body of the HTTP contract
// (README.md, "HTTP contract"), and what is accepted reaches the destination.
import t from 'tap'
import { harness, drained, json, gtagQuery, UUID_V7, metric } from './fixtures/harness.js'

t.test('gtag hits on /g/collect answer 204 and are delivered', async t => {
  const h = await harness()
  t.teardown(h.close)

  const get = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view', dl: 'https://shop.example/a' })}` })
  t.equal(get.statusCode, 204, 'GET')
  t.equal(get.body, '', 'bare 204')

  const empty = await h.app.inject({ method: 'POST', url: `/g/collect?${gtagQuery({ en: 'scroll' })}`, headers: { 'content-type': 'text/plain' }, payload: '' })
  t.equal(empty.statusCode, 204, 'POST with an empty body')

  const lines = await h.app.inject({
    method: 'POST',
    url: `/g/collect?${gtagQuery({ dl: 'https://shop.example/b' })}`,
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    payload: 'en=view_item&ep.event_id=ev-1\nen=add_to_cart&ep.event_id=ev-2\n'
  })
  t.equal(lines.statusCode, 204, 'POST with event lines')

  // A beacon without a content type (sendBeacon with a Blob of no type) is a hit too.
  const beacon = await h.app.inject({ method: 'POST', url: `/g/collect?${gtagQuery({ en: 'beacon_event' })}`, payload: '' })
  t.equal(beacon.statusCode, 204, 'POST without a content type')

  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_name).sort(), ['add_to_cart', 'beacon_event', 'page_view', 'scroll', 'view_item'])
  const viewItem = h.sink.delivered().find(e => e.event_name === 'view_item')
  t.equal(viewItem?.event_id, 'ev-1')
  t.equal(viewItem?.page_location, 'https://shop.example/b', 'shared query params apply to each line')
  t.equal(viewItem?.source?.client, 'gtag')
  t.equal(await metric(h.metrics, 'tagline_events_received_total', { client: 'gtag' }), 5)
})

t.test('/mp/collect: valid MP JSON → 204; broken MP → 400 with per-field details', async t => {
  const h = await harness()
  t.teardown(h.close)
  const ok = await h.app.inject({
    method: 'POST',
    url: '/mp/collect?measurement_id=G-TEST12345&api_secret=abc',
    payload: { client_id: '123.456', events: [{ name: 'purchase', params: { transaction_id: 'T-1', value: 10, currency: 'EUR' } }] }
  })
  t.equal(ok.statusCode, 204)
  t.equal(ok.body, '')

  const bad = await h.app.inject({
    method: 'POST',
    url: '/mp/collect',
    payload: { events: [{ name: '1bad' }, { params: { _x: 1 } }], user_properties: 'nope' }
  })
  t.equal(bad.statusCode, 400)
  const body = json(bad)
  t.equal(body.error, 'invalid_measurement_protocol')
  t.type(body.message, 'string')
  const paths = body.details.map((d: { path: string }) => d.path)
  t.ok(paths.includes('client_id'), 'client_id missing is named')
  t.ok(paths.includes('events[0].name'), 'a bad event name is named')
  t.ok(paths.includes('events[1].name'), 'a missing event name is named')
  t.ok(paths.includes('events[1].params._x'), 'a reserved param is named')
  t.ok(paths.includes('user_properties'), 'a bad user_properties is named')
  for (const d of body.details) {
    t.type(d.message, 'string')
    t.type(d.validationCode, 'string')
  }

  const notJson = await h.app.inject({ method: 'POST', url: '/mp/collect', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(notJson.statusCode, 400, 'a non-JSON body on /mp/collect is a 400')
  t.equal(json(notJson).error, 'invalid_measurement_protocol')

  await drained(h)
  t.equal(h.sink.delivered().length, 1, 'only the valid request was delivered')
  t.equal(h.sink.delivered()[0].event_id, 'T-1', 'purchase takes its transaction_id as event_id')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { client: 'mp', reason: 'invalid_measurement_protocol' }), 2)
})

t.test('/collect: every format a client claims', async t => {
  const h = await harness()
  t.teardown(h.close)

  const one = await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'sign_up', event_id: 'json-1' } })
  t.equal(one.statusCode, 202, 'one event object')
  t.same(json(one), { accepted: 1, deduplicated: 0, event_ids: ['json-1'] })

  const arr = await h.app.inject({ method: 'POST', url: '/collect', payload: [{ event_name: 'a', event_id: 'json-2' }, { event_name: 'b' }] })
  t.equal(arr.statusCode, 202, 'an array')
  const arrBody = json(arr)
  t.equal(arrBody.accepted, 2)
  t.equal(arrBody.event_ids[0], 'json-2')
  t.match(arrBody.event_ids[1], UUID_V7, 'an event without event_id gets a minted UUID v7, returned')

  const wrapped = await h.app.inject({ method: 'POST', url: '/collect', payload: { events: [{ event_name: 'c', event_id: 'json-3' }] } })
  t.equal(wrapped.statusCode, 202, '{ events: [...] }')
  t.same(json(wrapped).event_ids, ['json-3'])

  const push = await h.app.inject({
    method: 'POST',
    url: '/collect',
    payload: { event: 'purchase', ecommerce: { transaction_id: 'T-77', value: 42.5, currency: 'EUR', items: [{ item_id: 'sku1', price: 42.5, quantity: 1 }] } }
  })
  t.equal(push.statusCode, 202, 'a dataLayer push')
  t.same(json(push), { accepted: 1, deduplicated: 0, event_ids: ['T-77'] })

  const mp = await h.app.inject({ method: 'POST', url: '/collect', payload: { client_id: '1.2', events: [{ name: 'login', params: { method: 'email' } }] } })
  t.equal(mp.statusCode, 202, 'MP JSON on /collect answers like our own JSON')
  t.equal(json(mp).accepted, 1)
  t.match(json(mp).event_ids[0], UUID_V7)

  const hit = await h.app.inject({ method: 'GET', url: `/collect?${gtagQuery({ en: 'page_view' })}` })
  t.equal(hit.statusCode, 204, 'a gtag hit on /collect keeps Google\'s bare 204')
  t.equal(hit.body, '')

  const form = await h.app.inject({
    method: 'POST',
    url: `/collect?${gtagQuery({ en: 'form_hit' })}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: ''
  })
  t.equal(form.statusCode, 204, 'a gtag hit posted form-encoded')

  const nothing = await h.app.inject({ method: 'POST', url: '/collect', payload: { hello: 'world' } })
  t.equal(nothing.statusCode, 400, 'nothing claims → 400')
  t.equal(json(nothing).error, 'unknown_format')
  t.same(json(nothing).details, [])

  const bare = await h.app.inject({ method: 'GET', url: '/collect' })
  t.equal(bare.statusCode, 400, 'a bare GET claims nothing')
  t.equal(json(bare).error, 'unknown_format')

  await drained(h)
  const names = h.sink.delivered().map(e => e.event_name).sort()
  t.same(names, ['a', 'b', 'c', 'form_hit', 'login', 'page_view', 'purchase', 'sign_up'])
  const purchase = h.sink.delivered().find(e => e.event_name === 'purchase')
  t.equal(purchase?.value, 42.5)
  t.equal(purchase?.items?.[0].item_id, 'sku1')
  t.equal(purchase?.source?.client, 'datalayer')
})

t.test('invalid JSON events are 400 invalid_event with details', async t => {
  const h = await harness()
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', payload: [{ event_name: 'ok' }, { event_name: 5, value: 'ten' }] })
  t.equal(res.statusCode, 400)
  const body = json(res)
  t.equal(body.error, 'invalid_event')
  t.ok(body.details.some((d: { path: string }) => d.path === 'events[1].event_name'))
  t.ok(body.details.some((d: { path: string }) => d.path === 'events[1].value'))
  await drained(h)
  t.equal(h.sink.requests.length, 0, 'nothing of a refused request is delivered')
})

t.test('HEAD never records an event', async t => {
  const h = await harness()
  t.teardown(h.close)
  for (const url of ['/g/collect?v=2&tid=G-1&cid=1.2&en=head_hit', '/collect?v=2&tid=G-1&cid=1.2&en=head_hit']) {
    const res = await h.app.inject({ method: 'HEAD', url })
    t.equal(res.statusCode, 405, `HEAD ${url.split('?')[0]} → 405`)
    t.equal(res.headers['set-cookie'], undefined, 'no cookies either')
  }
  t.equal((await h.app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200, 'HEAD /healthz still works for monitors')
  // a GET afterwards proves the sink works, so the emptiness above means something
  await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&cid=1.2&en=get_hit' })
  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_name), ['get_hit'])
})
