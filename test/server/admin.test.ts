// The operator routes: GET /admin/queues and POST /admin/replay (server/routes/admin.ts), on a real
// app, real Delivery and the loopback sink; in embedded mode and on the real Redis.
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { AUTH, harness, hookTag, json, redisStore, silent, type Harness, type HarnessOptions } from './fixtures/harness.js'
import { buildApp } from '../../server/app.js'
import { loadConfig } from '../../config/load.js'
import { createMetrics } from '../../server/metrics.js'
import { Delivery } from '../../server/delivery/index.js'
import { MemoryStore } from '../../server/store/index.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import type { TaglineEvent } from '../../schemas/event.js'

// `null`: no Authorization header (undefined would take the default).
const queues = async (h: Harness, authorization: string | null = AUTH): Promise<LightMyRequestResponse> =>
  await h.app.inject({ method: 'GET', url: '/admin/queues', headers: authorization === null ? {} : { authorization } })

const replay = async (h: Harness, body: unknown, authorization: string | null = AUTH): Promise<LightMyRequestResponse> =>
  await h.app.inject({
    method: 'POST',
    url: '/admin/replay',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })

async function statsOf (h: Harness, tag: string): Promise<Record<string, number>> {
  const res = await queues(h)
  return (json(res).queues as Array<Record<string, number> & { tag: string }>).find(q => q.tag === tag) as Record<string, number>
}

const twoHooks = (sinkUrl: string): string => hookTag('hook', sinkUrl) + hookTag('other', sinkUrl)

t.test('an API key is required: none is 401, a wrong one is 401', async t => {
  const h = await harness()
  t.teardown(h.close)
  for (const authorization of [null, 'Bearer wrong-key', 'Basic abc']) {
    const q = await queues(h, authorization)
    t.equal(q.statusCode, 401, `GET with ${String(authorization)}`)
    t.equal(json(q).error, 'unauthorized')
    const r = await replay(h, { tag: 'hook' }, authorization)
    t.equal(r.statusCode, 401, `POST with ${String(authorization)}`)
  }
  const bad = await replay(h, 'not json at all', null)
  t.equal(bad.statusCode, 401, 'the key is checked before the body is read')
  const ok = await queues(h)
  t.equal(ok.statusCode, 200)
  t.same(json(ok), { queues: [{ tag: 'hook', waiting: 0, inFlight: 0, scheduled: 0, dead: 0 }] })
})

t.test('no API key configured: the admin routes are off (404) and say why', async t => {
  const sink = await startSink(t)
  const config = loadConfig({ text: `server:\n  rateLimit: false\ntags:\n${hookTag('hook', sink.origin)}` }, {})
  const metrics = createMetrics({ defaultMetrics: false })
  const delivery = new Delivery({ tags: config.tags, metrics, logger: silent() })
  const app = await buildApp({ config, store: new MemoryStore(), delivery, metrics, logger: silent() })
  t.teardown(async () => { await app.close(); await delivery.close(100) })
  for (const headers of [{}, { authorization: 'Bearer anything' }]) {
    const q = await app.inject({ method: 'GET', url: '/admin/queues', headers })
    t.equal(q.statusCode, 404)
    t.equal(json(q).error, 'not_found')
    t.match(json(q).message, /need an API key.*auth\.apiKeys/, 'the message says what to do')
    const r = await app.inject({ method: 'POST', url: '/admin/replay', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"tag":"hook"}' })
    t.equal(r.statusCode, 404)
  }
})

t.test('a bad replay body is 400 with one detail per key; an unknown tag is 404', async t => {
  const h = await harness()
  t.teardown(h.close)
  const cases: Array<[string, unknown, string, string[]]> = [
    ['an empty body', '', 'bad_request', []],
    ['broken JSON', '{"tag":', 'bad_json', []],
    ['a prototype key', '{"tag":"hook","__proto__":{"x":1}}', 'forbidden_key', []],
    ['an array', [], 'bad_request', ['']],
    ['no tag', {}, 'bad_request', ['tag']],
    ['a tag that is not a string', { tag: 7 }, 'bad_request', ['tag']],
    ['limit 0', { tag: 'hook', limit: 0 }, 'bad_request', ['limit']],
    ['limit as a string', { tag: 'hook', limit: '3' }, 'bad_request', ['limit']],
    ['a fractional limit', { tag: 'hook', limit: 1.5 }, 'bad_request', ['limit']],
    ['since that is no duration', { tag: 'hook', since: '2 weeks' }, 'bad_request', ['since']],
    ['a negative since', { tag: 'hook', since: -5 }, 'bad_request', ['since']],
    ['dryRun as a string', { tag: 'hook', dryRun: 'yes' }, 'bad_request', ['dryRun']],
    ['an unknown key', { tag: 'hook', tags: ['x'] }, 'bad_request', ['tags']],
    ['two problems', { limit: -1 }, 'bad_request', ['tag', 'limit']]
  ]
  for (const [what, body, code, paths] of cases) {
    const res = await replay(h, body)
    t.equal(res.statusCode, 400, `${what}: 400`)
    const doc = json(res)
    t.equal(doc.error, code, `${what}: ${code}`)
    t.type(doc.message, 'string')
    t.same((doc.details as Array<{ path: string }>).map(d => d.path).sort(), [...paths].sort(), `${what}: details for ${paths.join(', ') || 'nothing'}`)
  }
  const unknown = await replay(h, { tag: 'nope' })
  t.equal(unknown.statusCode, 404)
  t.equal(json(unknown).error, 'not_found')
  t.match(json(unknown).message, /"nope".*hook/, 'it names the tags there are')
  const get = await h.app.inject({ method: 'GET', url: '/admin/replay', headers: { authorization: AUTH } })
  t.equal(get.statusCode, 405, 'replay is a POST')
})

t.test('the admin routes are never rate limited', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: { max: 1, timeWindow: "1 minute" }\n' })
  t.teardown(h.close)
  await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'x' } })
  t.equal((await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'x' } })).statusCode, 429, 'the edge is limited')
  for (let i = 0; i < 3; i++) {
    t.equal((await queues(h)).statusCode, 200, `queues ${i}`)
    t.equal((await replay(h, { tag: 'hook', dryRun: true })).statusCode, 200, `replay ${i}`)
  }
})

/** A purchase refused by the sink (400) at both tags, dead-lettered at each; then the sink takes everything. */
async function deadLettered (t: Test, opts: Omit<HarnessOptions, 'tags' | 'sink'> = {}): Promise<{ h: Harness, eventId: string }> {
  const sink = await startSink(t, 400)
  const h = await harness({ ...opts, sink, tags: twoHooks })
  t.teardown(h.close)
  const res = await h.app.inject({
    method: 'POST',
    url: '/collect',
    headers: { authorization: AUTH },
    payload: { event_name: 'purchase', transaction_id: 'T_ADMIN_1', value: 10, currency: 'EUR', user_data: { email_address: 'jane@example.com' } }
  })
  t.equal(res.statusCode, 202)
  await until(async () => (await statsOf(h, 'hook')).dead === 1 && (await statsOf(h, 'other')).dead === 1, 5000, 'a dead letter at each tag')
  t.equal(sink.requests.length, 2, 'each tag tried once')
  sink.respond = 200
  return { h, eventId: 'T_ADMIN_1' }
}

async function replayDelivers (t: Test, h: Harness, eventId: string): Promise<void> {
  const sink = h.sink
  t.same(await statsOf(h, 'hook'), { tag: 'hook', waiting: 0, inFlight: 0, scheduled: 0, dead: 1 })

  const dry = await replay(h, { tag: 'hook', dryRun: true })
  t.equal(dry.statusCode, 200)
  t.same(json(dry), { tag: 'hook', matched: 1, replayed: 0, byReason: { [String((await h.delivery.deadLetters.list('hook'))[0].reason)]: 1 }, dryRun: true }, 'a dry run counts by reason')
  t.match(Object.keys(json(dry).byReason)[0], /400/, 'the reason is the destination\'s refusal')
  t.equal((await statsOf(h, 'hook')).dead, 1, 'and changes nothing')
  t.equal(sink.requests.length, 2, 'nothing is sent')

  const res = await replay(h, { tag: 'hook' })
  t.equal(res.statusCode, 200)
  t.same(json(res), { tag: 'hook', matched: 1, replayed: 1, byReason: json(dry).byReason, dryRun: false })
  await sink.waitFor(() => sink.delivered('/hook').length === 1, 'the replayed event delivered')
  const [delivered] = sink.delivered('/hook') as TaglineEvent[]
  t.equal(delivered.event_id, eventId, 'the same event')
  t.notOk(JSON.stringify(delivered).includes('jane@example.com'), 'its user data still hashed, as it was kept')
  // The sink has answered; the worker settles the event a moment later.
  await until(async () => (await statsOf(h, 'hook')).inFlight === 0, 5000, 'the replayed event settled')
  t.same(await statsOf(h, 'hook'), { tag: 'hook', waiting: 0, inFlight: 0, scheduled: 0, dead: 0 }, 'the letter is gone and the queue empty')
  t.equal((await statsOf(h, 'other')).dead, 1, 'the other tag keeps its letter')
  t.equal(sink.requests.filter(r => r.path === '/other').length, 1, 'and was not sent anything again')
  t.equal((await replay(h, { tag: 'hook' })).json().replayed, 0, 'a second replay finds nothing')
}

t.test('embedded: a dead-lettered event is replayed to its tag only, and delivered', async t => {
  const { h, eventId } = await deadLettered(t)
  await replayDelivers(t, h, eventId)
})

t.test('redis mode: the same through the shared queues', async t => {
  const store = await redisStore()
  t.teardown(() => store.close())
  const { h, eventId } = await deadLettered(t, { store })
  await replayDelivers(t, h, eventId)
})

t.test('replay: since and limit, and no cap (maxQueue) on what comes back', async t => {
  const h = await harness({ maxQueue: 1 })
  t.teardown(h.close)
  const now = Date.now()
  const event = (id: string): TaglineEvent => ({ event_name: 'sign_up', event_id: id, source: { client: 'json', request_id: id, received_ms: now, trusted: true } })
  const hours = [5, 3, 1.5, 1, 0.5]
  for (const ago of hours) {
    await h.delivery.deadLetters.add({ tag: 'hook', event: event(`E${ago}`), outcome: 'dropped', reason: 'HTTP 400', attempts: 1, atMs: now - ago * 3_600_000 })
  }
  const res = await replay(h, { tag: 'hook', since: '2h', limit: 2 })
  t.same(json(res), { tag: 'hook', matched: 2, replayed: 2, byReason: { 'HTTP 400': 2 }, dryRun: false }, 'the oldest 2 of the last 2 hours')
  await h.sink.waitFor(() => h.sink.delivered('/hook').length === 2, 'two delivered')
  t.same(h.sink.delivered('/hook').map((e: TaglineEvent) => e.event_id).sort(), ['E1', 'E1.5'])
  t.same((await h.delivery.deadLetters.list('hook')).map(l => l.event.event_id), ['E5', 'E3', 'E0.5'], 'the rest stay')
  const all = await replay(h, { tag: 'hook', since: 6 * 3_600_000 })
  t.equal(json(all).replayed, 3, 'since in milliseconds; three at once past maxQueue 1')
  await h.sink.waitFor(() => h.sink.delivered('/hook').length === 5, 'all delivered')
})
