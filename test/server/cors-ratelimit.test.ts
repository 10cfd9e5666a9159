// CORS for browsers on other origins, and rate limits (in process and shared through Redis).
import t, { type Test } from 'tap'
import { randomInt } from 'node:crypto'
import { AUTH, harness, json, metric, redisStore } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'

const CORS = 'server:\n  rateLimit: false\n  cors: { origins: ["https://shop.example", "https://www.shop.example"] }\n'

t.test('CORS preflight from an allowed origin echoes it, with credentials', async t => {
  const h = await harness({ yaml: CORS })
  t.teardown(h.close)
  const res = await h.app.inject({
    method: 'OPTIONS',
    url: '/collect',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], 'https://shop.example', 'the origin is echoed, not *')
  t.equal(res.headers['access-control-allow-credentials'], 'true')
  t.match(String(res.headers['access-control-allow-methods']), /POST/)
  t.match(String(res.headers['access-control-allow-headers']).toLowerCase(), /content-type/)
  t.match(String(res.headers.vary), /Origin/i, 'responses vary by Origin')

  const post = await h.app.inject({ method: 'POST', url: '/collect', headers: { origin: 'https://www.shop.example' }, payload: { event_name: 'x' } })
  t.equal(post.statusCode, 202)
  t.equal(post.headers['access-control-allow-origin'], 'https://www.shop.example', 'the actual request carries it too')
  t.equal(post.headers['access-control-allow-credentials'], 'true')

  const err = await h.app.inject({ method: 'POST', url: '/collect', headers: { origin: 'https://shop.example' }, payload: { nope: 1 } })
  t.equal(err.statusCode, 400)
  t.equal(err.headers['access-control-allow-origin'], 'https://shop.example', 'an error answer is readable by the page too')
})

t.test('CORS: a disallowed origin gets no Access-Control-Allow-Origin', async t => {
  const h = await harness({ yaml: CORS })
  t.teardown(h.close)
  for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', 'null']) {
    const pre = await h.app.inject({ method: 'OPTIONS', url: '/collect', headers: { origin, 'access-control-request-method': 'POST' } })
    t.ok(pre.statusCode < 500, `${origin}: preflight answered ${pre.statusCode}`)
    t.equal(pre.headers['access-control-allow-origin'], undefined, `${origin}: preflight not allowed`)
    t.equal(pre.headers['access-control-allow-credentials'], undefined, `${origin}: no credentials`)
    const post = await h.app.inject({ method: 'POST', url: '/collect', headers: { origin }, payload: { event_name: 'x' } })
    t.equal(post.headers['access-control-allow-origin'], undefined, `${origin}: the response is not readable`)
  }
})

t.test('without cors.origins there are no CORS headers at all', async t => {
  const h = await harness()
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { origin: 'https://shop.example' }, payload: { event_name: 'x' } })
  t.equal(res.statusCode, 202)
  t.equal(res.headers['access-control-allow-origin'], undefined)
})

/** A fresh client address per test, so a limit never carries over between tests or runs. */
function freshIp (): string {
  return `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`
}

const LIMIT = 'server:\n  rateLimit: { max: 3, timeWindow: "1 minute" }\n'

t.test('rate limit: the 4th request in the window is 429 rate_limited', async t => {
  const h = await harness({ yaml: LIMIT })
  t.teardown(h.close)
  const remoteAddress = freshIp()
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) {
    const res = await h.app.inject({ method: 'POST', url: '/collect', remoteAddress, payload: { event_name: 'x' } })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [202, 202, 202])
  const fourth = await h.app.inject({ method: 'POST', url: '/collect', remoteAddress, payload: { event_name: 'x' } })
  t.equal(fourth.statusCode, 429)
  t.match(String(fourth.headers['content-type']), /^application\/json/)
  t.same({ ...json(fourth), message: typeof json(fourth).message }, { error: 'rate_limited', message: 'string', details: [] })
  t.ok(fourth.headers['retry-after'] !== undefined, 'Retry-After tells the sender when to come back')
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=x', remoteAddress })
  t.equal(hit.statusCode, 429, 'the limit is per client, across routes')

  const other = await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: freshIp(), payload: { event_name: 'x' } })
  t.equal(other.statusCode, 202, 'another client is not limited')

  for (const url of ['/healthz', '/readyz', '/metrics']) {
    for (let i = 0; i < 6; i++) {
      const res = await h.app.inject({ method: 'GET', url, remoteAddress })
      if (res.statusCode !== 200) { t.fail(`${url} #${i} → ${res.statusCode}`); break }
    }
    t.pass(`${url} is never limited`)
  }
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { client: 'edge', reason: 'rate_limited' }), 2)
  t.equal(await metric(h.metrics, 'tagline_http_requests_total', { route: '/collect', status: 429 }), 1)
})

t.test('rate limit: a backend with an API key is neither counted nor limited; a wrong key is', async t => {
  const h = await harness({ yaml: LIMIT })
  t.teardown(h.close)
  const remoteAddress = freshIp()
  const post = async (authorization?: string): Promise<number> => (await h.app.inject({
    method: 'POST', url: '/collect', remoteAddress, headers: authorization === undefined ? {} : { authorization }, payload: { event_name: 'x' }
  })).statusCode
  const backend: number[] = []
  for (let i = 0; i < 10; i++) backend.push(await post(AUTH))
  t.same(backend, Array(10).fill(202), 'ten purchases from one backend address in a window of 3')
  t.same([await post(), await post(), await post(), await post()], [202, 202, 202, 429], 'a visitor on the same address still has all 3: the backend counted nothing')
  t.equal(await post(AUTH), 202, 'the backend goes on while that address is limited')
  const guesses = freshIp()
  const wrong: number[] = []
  for (let i = 0; i < 4; i++) wrong.push((await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: guesses, headers: { authorization: 'Bearer not-a-key' }, payload: { event_name: 'x' } })).statusCode)
  t.same(wrong, [401, 401, 401, 429], 'a wrong key is counted: guessing keys is limited')
})

/** Two gateways on the real Redis, with the same store prefix (replicas) or different ones. */
async function twoGateways (t: Test, samePrefix: boolean) {
  const sink = await startSink(t)
  const storeA = await redisStore()
  const storeB = await redisStore(samePrefix ? storeA.prefix : undefined)
  t.teardown(() => storeA.close())
  t.teardown(() => storeB.close())
  const a = await harness({ yaml: LIMIT, store: storeA, sink })
  const b = await harness({ yaml: LIMIT, store: storeB, sink })
  t.teardown(a.close)
  t.teardown(b.close)
  const remoteAddress = freshIp()
  const send = async (app: typeof a.app): Promise<number> => (await app.inject({ method: 'POST', url: '/collect', remoteAddress, payload: { event_name: 'x' } })).statusCode
  return { a, b, storeA, remoteAddress, send }
}

t.test('rate limit through Redis: two apps sharing one Redis share the limit', async t => {
  const { a, b, storeA, remoteAddress, send } = await twoGateways(t, true) // replicas run the same config, so the same prefix
  t.equal(await send(a.app), 202, 'replica A, 1st')
  t.equal(await send(b.app), 202, 'replica B, 2nd')
  t.equal(await send(a.app), 202, 'replica A, 3rd')
  t.equal(await send(b.app), 429, 'replica B, 4th: limited by what A counted')
  t.equal(await send(a.app), 429, 'replica A, 5th')
  t.equal(await send(a.app), 429)
  t.equal((await a.app.inject({ method: 'GET', url: '/readyz', remoteAddress })).statusCode, 200, '/readyz still answers')
  // the counter really lives in Redis
  const keys = await storeA.client.keys(`*ratelimit*${remoteAddress}`)
  t.equal(keys.length, 1, 'one shared counter in Redis')
  await storeA.client.del(...keys)
})

t.test('rate limit through Redis: gateways with different prefixes keep separate counters', async t => {
  const { a, b, send } = await twoGateways(t, false)
  for (let i = 0; i < 3; i++) t.equal(await send(a.app), 202, `gateway A, request ${i + 1}`)
  t.equal(await send(a.app), 429, 'gateway A is limited')
  t.equal(await send(b.app), 202, 'gateway B counts on its own')
})

t.test('events count too: a request of many events spends its address\'s event budget; a backend with a key is not counted', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: { max: 1000, timeWindow: "2 seconds", events: 500 }\n' })
  t.teardown(h.close)
  const remoteAddress = freshIp()
  let n = 0
  const post = async (count: number, from = remoteAddress, authorization?: string): Promise<Awaited<ReturnType<typeof h.app.inject>>> => await h.app.inject({
    method: 'POST',
    url: '/collect',
    remoteAddress: from,
    headers: authorization === undefined ? {} : { authorization },
    payload: { events: Array.from({ length: count }, () => ({ event_name: 'page_view', event_id: `pv-${++n}` })) }
  })
  t.equal((await post(300)).statusCode, 202)
  const over = await post(300)
  t.equal(over.statusCode, 429, '600 events of 500 in the window')
  t.same({ ...json(over), message: typeof json(over).message }, { error: 'too_many_events', message: 'string', details: [] })
  t.equal(over.headers['x-ratelimit-remaining'], undefined, 'not the request limit\'s headers: it is not what refused this')
  t.match(json(over).message, /Too many events from this address/)
  const wait = Number(over.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 2, `Retry-After in whole seconds until the window ends (${wait})`)
  t.equal((await post(200)).statusCode, 202, 'the refused request took nothing: 300 + 200 fit')
  t.equal((await post(1)).statusCode, 429)
  t.equal((await post(500, freshIp())).statusCode, 202, 'another address has a budget of its own')
  t.equal((await post(500, remoteAddress, AUTH)).statusCode, 202, 'a backend with an API key is not counted')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { reason: 'too_many_events' }), 2, 'counted once each')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { client: 'edge', reason: 'too_many_events' }), 2, 'as the edge\'s, beside the request limit\'s')
  await new Promise(resolve => setTimeout(resolve, 2100))
  t.equal((await post(500)).statusCode, 202, 'a new window, a full budget')
})

t.test('the event budget is off with the rate limit, and a config may not set it below one request\'s 500 events', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n' })
  t.teardown(h.close)
  const remoteAddress = freshIp()
  for (let i = 0; i < 8; i++) {
    const res = await h.app.inject({ method: 'POST', url: '/collect', remoteAddress, payload: { events: Array.from({ length: 500 }, () => ({ event_name: 'page_view' })) } })
    if (res.statusCode !== 202) { t.fail(`request ${i}: ${res.statusCode}`); return }
  }
  t.pass('4,000 events from one address, no limit')
  const { validateConfigText } = await import('../../config/load.js')
  const r = validateConfigText('server:\n  rateLimit: { max: 10, timeWindow: "1 minute", events: 100 }\ntags: []\n')
  t.equal(r.ok, false)
  t.match(JSON.stringify(r), /events/)
})

t.test('an IPv6 visitor is its /64, for both limits', async t => {
  const { visitorKey } = await import('../../server/event-budget.js')
  t.equal(visitorKey('203.0.113.7'), '203.0.113.7')
  t.equal(visitorKey('::ffff:203.0.113.7'), '203.0.113.7', 'IPv4 in IPv6 form is the IPv4 address')
  t.equal(visitorKey('2001:db8:aa:1:1234:5678:9abc:def0'), '2001:db8:aa:1::/64')
  t.equal(visitorKey('2001:DB8:AA:1::42'), '2001:db8:aa:1::/64', 'compressed, upper case')
  t.equal(visitorKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(visitorKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'a zone is not part of it')
  t.equal(visitorKey('::1'), '0:0:0:0::/64')

  const h = await harness({ yaml: 'server:\n  rateLimit: { max: 2, timeWindow: "1 minute", events: 500 }\n' })
  t.teardown(h.close)
  const block = (): string => `2001:db8:${randomInt(0, 65536).toString(16)}:${randomInt(0, 65536).toString(16)}`
  const post = async (ip: string, count = 1): Promise<number> => (await h.app.inject({
    method: 'POST', url: '/collect', remoteAddress: ip, payload: { events: Array.from({ length: count }, () => ({ event_name: 'page_view' })) }
  })).statusCode
  const a = block()
  t.same([await post(`${a}::1`), await post(`${a}::2`), await post(`${a}::3`)], [202, 202, 429], 'requests: three addresses of one /64 share its limit')
  const b = block()
  t.same([await post(`${b}::1`, 300), await post(`${b}::2`, 300)], [202, 429], 'events: likewise')
})

t.test('the event budget: a refund gives back what a refused request took; a clock stepped back starts a new window; ended windows are forgotten', async t => {
  const { EventBudget } = await import('../../server/event-budget.js')
  const b = new EventBudget()
  t.equal(b.take('v', 400, 500, 60_000, 1_000), undefined)
  t.equal(b.take('v', 200, 500, 60_000, 2_000), 59_000, 'over: ms until the window ends, nothing taken')
  b.refund('v', 400)
  t.equal(b.take('v', 500, 500, 60_000, 3_000), undefined, 'the 400 given back (the request was answered 503 and will come again)')
  t.equal(b.take('v', 1, 500, 60_000, 3_000 - 3_600_000), undefined, 'an hour back in time: a new window, not one ending in an hour')
  t.equal(b.take('w', 1, 500, 60_000, 10_000), undefined)
  t.equal(b.size, 1, 'back at the right time, v\'s window from the wrong one has ended: forgotten as w\'s starts')
  b.sweep(10_000 + 60_000, 60_000)
  t.equal(b.size, 0, 'w\'s window ended: forgotten without a request')
  for (let i = 0; i < 3000; i++) b.take(`x${i}`, 1, 500, 1_000, 100_000 + i)
  t.ok(b.size <= 1001, `only the last second's visitors are kept (${b.size})`)
})
