// Dedup of (event_name, event_id) across requests, clients and replicas; nothing acknowledged that
// is not queued, and nothing remembered as seen that was not acknowledged.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { harness, drained, json, metric, redisStore, uniquePrefix, hookTag, AUTH, UUID_V7 } from './fixtures/harness.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'
import { MemoryStore, RedisStore, type Store } from '../../server/store/index.js'

async function post (app: FastifyInstance, payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await app.inject({ method: 'POST', url: '/collect', headers, payload: payload as object })
  return { status: res.statusCode, body: res.body === '' ? undefined : json(res) }
}

t.test('the same (event_name, event_id) twice: the second is deduplicated and not delivered', async t => {
  const h = await harness()
  t.teardown(h.close)
  t.same(await post(h.app, { event_name: 'sign_up', event_id: 'd-1' }), { status: 202, body: { accepted: 1, deduplicated: 0, event_ids: ['d-1'] } })
  t.same(await post(h.app, { event_name: 'sign_up', event_id: 'd-1' }), { status: 202, body: { accepted: 1, deduplicated: 1, event_ids: ['d-1'] } })
  // the same id under another name is another event
  t.same((await post(h.app, { event_name: 'login', event_id: 'd-1' })).body.deduplicated, 0)
  // a repeat inside one request
  t.same((await post(h.app, [{ event_name: 'x', event_id: 'd-2' }, { event_name: 'x', event_id: 'd-2' }])).body, { accepted: 2, deduplicated: 1, event_ids: ['d-2', 'd-2'] })
  // a gtag hit repeating a JSON event (ep.event_id)
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&cid=1.2&en=sign_up&ep.event_id=d-1' })
  t.equal(hit.statusCode, 204)
  await drained(h)
  t.same(h.sink.delivered().map(e => `${e.event_name}/${e.event_id}`).sort(), ['login/d-1', 'sign_up/d-1', 'x/d-2'])
  t.equal(await metric(h.metrics, 'tagline_events_deduplicated_total'), 3)
})

t.test('purchase without event_id dedups on transaction_id: browser + backend', async t => {
  const h = await harness()
  t.teardown(h.close)
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&ep.transaction_id=T-100&epn.value=99.5&cu=EUR' })
  t.equal(hit.statusCode, 204, 'the browser purchase')
  const backend = await post(h.app, { event_name: 'purchase', transaction_id: 'T-100', value: 99.5, currency: 'EUR' }, { authorization: AUTH })
  t.same(backend, { status: 202, body: { accepted: 1, deduplicated: 1, event_ids: ['T-100'] } }, 'the backend copy is a repeat')
  const push = await post(h.app, { event: 'purchase', ecommerce: { transaction_id: 'T-100', value: 99.5 } })
  t.equal(push.body.deduplicated, 1, 'a dataLayer copy too')
  const refund = await post(h.app, { event_name: 'refund', transaction_id: 'T-100' })
  t.same(refund.body, { accepted: 1, deduplicated: 0, event_ids: ['T-100'] }, 'a refund of it is another event')
  const explicit = await post(h.app, { event_name: 'purchase', transaction_id: 'T-100', event_id: 'own-id' })
  t.same(explicit.body.event_ids, ['own-id'], 'an explicit event_id wins over transaction_id')
  await drained(h)
  const purchases = h.sink.delivered().filter(e => e.event_name === 'purchase')
  t.equal(purchases.length, 2, 'T-100 reached the destination once (plus the own-id one)')
  t.equal(purchases.find(e => e.event_id === 'T-100')?.source?.client, 'gtag', 'the first copy won')
})

t.test('minted event ids are UUID v7, returned, and never deduplicated', async t => {
  const h = await harness()
  t.teardown(h.close)
  const a = await post(h.app, [{ event_name: 'page_view' }, { event_name: 'page_view' }])
  const b = await post(h.app, { event_name: 'page_view' })
  t.equal(a.status, 202)
  t.equal(a.body.deduplicated, 0)
  const ids = [...a.body.event_ids, ...b.body.event_ids]
  for (const id of ids) t.match(id, UUID_V7)
  t.equal(new Set(ids).size, 3, 'all different')
  const ts = ids.map(id => parseInt(id.replace(/-/g, '').slice(0, 12), 16))
  for (const ms of ts) t.ok(Math.abs(ms - Date.now()) < 60_000, 'the UUID v7 carries the receipt time')
  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_id).sort(), [...ids].sort(), 'the delivered events carry the returned ids')
  t.equal(h.sink.delivered()[0].source?.minted_event_id, true)
})

t.test('two apps sharing one Redis dedup across replicas', async t => {
  const sink = await startSink(t)
  const prefix = uniquePrefix()
  const storeA = await redisStore(prefix)
  const storeB = await redisStore(prefix)
  t.teardown(() => storeA.close())
  t.teardown(() => storeB.close())
  const a = await harness({ store: storeA, sink })
  const b = await harness({ store: storeB, sink })
  t.teardown(a.close)
  t.teardown(b.close)
  t.equal((await post(a.app, { event_name: 'purchase', transaction_id: 'R-1' })).body.deduplicated, 0, 'replica A takes it')
  t.equal((await post(b.app, { event_name: 'purchase', transaction_id: 'R-1' })).body.deduplicated, 1, 'replica B knows it')
  // concurrent copies on both replicas: exactly one wins
  const copies = await Promise.all(Array.from({ length: 10 }, async (_, i) => await post(i % 2 === 0 ? a.app : b.app, { event_name: 'sign_up', event_id: 'race-1' })))
  t.equal(copies.filter(c => c.body.deduplicated === 0).length, 1, 'one of ten concurrent copies is fresh')
  await drained(a)
  await drained(b)
  t.same(sink.delivered().map(e => e.event_id).sort(), ['R-1', 'race-1'])
  t.ok(await storeA.client.exists(`${prefix}{hook}:seen:purchase\u0000R-1`), 'the mark lives in Redis beside the tag\'s queue, under the prefix')
  // A visitor's very long event id: deduplicated all the same, but its mark is a digest, not the id.
  const long = 'L'.repeat(60_000)
  t.equal((await post(a.app, { event_name: 'sign_up', event_id: long })).body.deduplicated, 0)
  t.equal((await post(b.app, { event_name: 'sign_up', event_id: long })).body.deduplicated, 1, 'a repeat on the other replica')
  t.equal((await post(a.app, { event_name: 'sign_up', event_id: long.slice(1) + 'M' })).body.deduplicated, 0, 'another long id is another event')
  const marks = await storeA.client.keys(`${prefix}{hook}:seen:*`)
  t.equal(marks.length, 4, 'one mark per event')
  t.ok(marks.every(k => k.length < 300), 'no mark key holds a long id whole')
  await drained(a)
  await drained(b)
  t.equal(sink.delivered().filter(e => e.event_name === 'sign_up' && String(e.event_id).length >= 60_000).length, 2, 'both long-id events delivered once')
})

t.test('store down and no local buffer: 503 store_unavailable, nothing delivered', async t => {
  const store = new RedisStore({ url: 'redis://127.0.0.1:1' })
  // localBuffer 0: refuse at once (test/delivery/buffered-queue.test.ts covers the buffer).
  const h = await harness({ store, yaml: 'delivery: { localBuffer: 0 }' })
  t.teardown(h.close)
  t.teardown(() => store.close())
  const res = await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'purchase', transaction_id: 'S-1' } })
  t.equal(res.statusCode, 503)
  t.same({ ...json(res), message: typeof json(res).message }, { error: 'store_unavailable', message: 'string', details: [] })
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=x&ep.event_id=S-2' })
  t.equal(hit.statusCode, 503, 'a gtag hit is refused too, so gtag retries')
  // In Redis mode the queues live there too: an event with a minted id cannot be stored either.
  const minted = await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'page_view' } })
  t.equal(minted.statusCode, 503, 'nothing is acknowledged that is not stored')
  t.equal(minted.headers['retry-after'], '2', 'and the sender is told when to come back')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { reason: 'store_unavailable' }), 3)
})

t.test('a queue fails for one tag of two: the retry is a repeat where it was stored, and delivered where it was not', async t => {
  const sink = await startSink(t)
  const store = await redisStore()
  t.teardown(() => store.close())
  const h = await harness({ store, sink, tags: url => `${hookTag('a', url)}\n${hookTag('b', url)}` })
  t.teardown(h.close)
  // Tag b's stream key holds a string: its push fails for real (WRONGTYPE), tag a's succeeds.
  await store.client.set(`${store.prefix}{b}:q`, 'not a stream')
  const first = await post(h.app, { event_name: 'sign_up', event_id: 'p-1' })
  t.equal(first.status, 503, 'not accepted: one of its queues could not store it')
  t.equal(first.body.error, 'store_unavailable')
  await store.client.del(`${store.prefix}{b}:q`)
  const retry = await post(h.app, { event_name: 'sign_up', event_id: 'p-1' })
  t.same(retry, { status: 202, body: { accepted: 1, deduplicated: 0, event_ids: ['p-1'] } }, 'the retry is taken: b did not have it')
  await until(() => sink.requests.length >= 2, 5000, 'both tags to deliver')
  await drained(h)
  const byTag = sink.requests.map(r => new URL(r.url, 'http://x').pathname).sort()
  t.same(byTag, ['/a', '/b'], 'each tag delivered it once: a from the first request, b from the retry')
})

const stores: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', async () => await redisStore()]
]

for (const [kind, makeStore] of stores) {
  t.test(`queue full (${kind} store): 503 queue_full and the dedup keys are rolled back`, async t => {
    const sink = await startSink(t, 'hang')
    const store = await makeStore()
    t.teardown(() => store.close())
    const h = await harness({ store, sink, maxQueue: 2, tags: url => hookTag('hook', url, '', 300) })
    t.teardown(h.close)

    const fill = await post(h.app, [{ event_name: 'a', event_id: 'q-1' }, { event_name: 'b', event_id: 'q-2' }])
    t.equal(fill.status, 202, 'two events fill the queue')
    // At the (hanging) destination, not merely queued: in Redis mode the take comes a moment later.
    await sink.arrived(1)
    t.equal(h.delivery.depth('hook'), 2, 'the batch in flight')

    const late = await post(h.app, { event_name: 'purchase', transaction_id: 'Q-3' })
    t.equal(late.status, 503)
    t.same({ ...late.body, message: typeof late.body.message }, { error: 'queue_full', message: 'string', details: [] })
    const again = await post(h.app, { event_name: 'purchase', transaction_id: 'Q-3' })
    t.equal(again.status, 503, 'the immediate retry is refused again, not taken for a repeat and dropped')
    t.equal(again.body.error, 'queue_full')

    // A request holding a repeat of an accepted event and a new one: only the new key is forgotten.
    const mixed = await post(h.app, [{ event_name: 'a', event_id: 'q-1' }, { event_name: 'c', event_id: 'q-4' }])
    t.equal(mixed.status, 503)

    // The destination times out (300 ms), the queue empties; the sender retries.
    sink.respond = 200
    await until(() => h.delivery.depth('hook') === 0, 5000, 'the hung batch to give up')
    const later = await post(h.app, { event_name: 'purchase', transaction_id: 'Q-3' })
    t.same(later, { status: 202, body: { accepted: 1, deduplicated: 0, event_ids: ['Q-3'] } }, 'the retry is accepted')
    const mixedRetry = await post(h.app, [{ event_name: 'a', event_id: 'q-1' }, { event_name: 'c', event_id: 'q-4' }])
    t.same(mixedRetry.body, { accepted: 2, deduplicated: 1, event_ids: ['q-1', 'q-4'] }, 'q-1 is still known, q-4 is new')
    await drained(h)
    t.same(sink.delivered().map(e => e.event_id).sort(), ['Q-3', 'q-4'], 'both delivered once the queue had room')
    t.equal((await h.delivery.deadLetters.list()).length, 2, 'the two timed-out events were dead-lettered')
  })
}
