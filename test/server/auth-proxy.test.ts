// Auth (a valid API key marks a backend request trusted) and trusted proxies (whose
// X-Forwarded-For is believed).
import t from 'tap'
import { harness, drained, json, AUTH, API_KEY, metric, hookTag, silent } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'
import { loadConfig } from '../../config/load.js'
import { buildApp } from '../../server/app.js'
import { Delivery } from '../../server/delivery/index.js'
import { createMetrics } from '../../server/metrics.js'
import { MemoryStore } from '../../server/store/index.js'

const BODY = { event_name: 'sign_up', ip_override: '203.0.113.9', user_agent: 'Backend-Visitor-UA/2.0', params: { plan: 'pro' } }

t.test('no Authorization: untrusted; the body cannot choose its IP or user agent', async t => {
  const h = await harness()
  t.teardown(h.close)
  const json1 = await h.app.inject({ method: 'POST', url: '/collect', headers: { 'user-agent': 'Browser-UA/1.0' }, payload: { ...BODY, event_id: 'u-1' } })
  t.equal(json1.statusCode, 202)
  const mp = await h.app.inject({
    method: 'POST',
    url: '/mp/collect',
    headers: { 'user-agent': 'Browser-UA/1.0' },
    payload: { client_id: '1.2', ip_override: '203.0.113.9', user_agent: 'Backend-Visitor-UA/2.0', events: [{ name: 'login', params: { event_id: 'x' } }] }
  })
  t.equal(mp.statusCode, 204)
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&cid=1.2&en=page_view&_uip=203.0.113.9', headers: { 'user-agent': 'Browser-UA/1.0' } })
  t.equal(hit.statusCode, 204)
  await drained(h)
  const events = h.sink.delivered()
  t.equal(events.length, 3)
  for (const e of events) {
    t.equal(e.ip_override, '127.0.0.1', `${e.event_name}: the request IP is used`)
    t.equal(e.user_agent, 'Browser-UA/1.0', `${e.event_name}: the request user agent is used`)
    t.equal(e.source?.trusted, false, `${e.event_name}: untrusted`)
  }
})

t.test('valid Bearer key: trusted; body ip_override/user_agent kept, request IP not filled in', async t => {
  const h = await harness()
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH, 'user-agent': 'node-fetch' }, payload: { ...BODY, event_id: 't-1' } })
  t.equal(res.statusCode, 202)
  t.same(json(res).event_ids, ['t-1'])
  t.notOk(res.headers['set-cookie'], 'no cookies for a backend')
  // the scheme is case-insensitive and extra spaces are tolerated
  const lower = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: `bearer   ${API_KEY}` }, payload: { event_name: 'server_only', event_id: 't-2' } })
  t.equal(lower.statusCode, 202)
  const mp = await h.app.inject({
    method: 'POST',
    url: '/mp/collect',
    headers: { authorization: AUTH },
    payload: { client_id: '1.2', ip_override: '203.0.113.9', user_agent: 'Backend-Visitor-UA/2.0', events: [{ name: 'login' }] }
  })
  t.equal(mp.statusCode, 204)
  await drained(h)
  const byName = Object.fromEntries(h.sink.delivered().map(e => [e.event_name, e]))
  t.equal(byName.sign_up.ip_override, '203.0.113.9', 'the visitor IP from the backend is kept')
  t.equal(byName.sign_up.user_agent, 'Backend-Visitor-UA/2.0', 'the visitor UA from the backend is kept')
  t.equal(byName.sign_up.source?.trusted, true)
  t.equal(byName.sign_up.browser_ids, undefined, 'no browser cookies minted for a backend')
  t.equal(byName.server_only.ip_override, undefined, 'the backend\'s own IP is not taken as the visitor\'s')
  t.equal(byName.server_only.user_agent, undefined, 'nor its user agent')
  t.equal(byName.login.ip_override, '203.0.113.9', 'MP ip_override kept for a trusted sender')
  t.equal(byName.login.user_agent, 'Backend-Visitor-UA/2.0')
})

t.test('wrong key or malformed header: 401 unauthorized', async t => {
  const h = await harness()
  t.teardown(h.close)
  const cases = [
    'Bearer wrong-key',
    `Bearer ${API_KEY}x`,
    `Bearer ${API_KEY.slice(0, -1)}`,
    `Basic ${Buffer.from(`user:${API_KEY}`).toString('base64')}`,
    API_KEY,
    'Bearer',
    'Bearer ',
    `Token ${API_KEY}`
  ]
  for (const authorization of cases) {
    const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization }, payload: BODY })
    t.equal(res.statusCode, 401, `${JSON.stringify(authorization)} → 401`)
    t.same({ ...json(res), message: typeof json(res).message }, { error: 'unauthorized', message: 'string', details: [] })
  }
  const hit = await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=x', headers: { authorization: 'Bearer nope' } })
  t.equal(hit.statusCode, 401, 'a gtag route too')
  await drained(h)
  t.equal(h.sink.requests.length, 0, 'nothing delivered')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { reason: 'unauthorized' }), cases.length + 1)
})

t.test('no API keys configured: any Authorization header is refused', async t => {
  const sink = await startSink(t)
  const config = loadConfig({ text: `server:\n  rateLimit: false\nauth:\n  apiKeys: ["\${MISSING_KEY:-}"]\ntags:\n${hookTag('hook', sink.origin)}` }, {})
  t.same(config.apiKeys, [], 'an empty key is no key')
  const metrics = createMetrics({ defaultMetrics: false })
  const delivery = new Delivery({ tags: config.tags, metrics, logger: silent() })
  const app = await buildApp({ config, store: new MemoryStore(), delivery, metrics, logger: silent() })
  t.teardown(async () => { await app.close(); await delivery.close(100) })
  for (const authorization of ['Bearer ', 'Bearer anything', 'Bearer ${MISSING_KEY:-}']) {
    const res = await app.inject({ method: 'POST', url: '/collect', headers: { authorization }, payload: { event_name: 'x' } })
    t.equal(res.statusCode, 401, `${JSON.stringify(authorization)} → 401`)
  }
  const anon = await app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'x' } })
  t.equal(anon.statusCode, 202, 'browsers still work')
})

t.test('X-Forwarded-For is ignored by default', async t => {
  const h = await harness()
  t.teardown(h.close)
  const res = await h.app.inject({
    method: 'GET',
    url: '/g/collect?v=2&tid=G-1&cid=1.2&en=page_view',
    headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'metrics.shop.example' }
  })
  t.equal(res.statusCode, 204)
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  t.ok(cookies.length > 0)
  for (const c of cookies) {
    t.match(c, /Domain=shop\.example/, 'the Host header decides the cookie domain, not X-Forwarded-Host')
    t.notMatch(c, /Secure/, 'X-Forwarded-Proto is not believed')
  }
  await drained(h)
  t.equal(h.sink.delivered()[0].ip_override, '127.0.0.1', 'the socket address is the visitor IP')
})

t.test('X-Forwarded-For is honoured from a trusted proxy', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  trustProxy: ["127.0.0.1/32"]\n' })
  t.teardown(h.close)
  const res = await h.app.inject({
    method: 'GET',
    url: '/g/collect?v=2&tid=G-1&cid=1.2&en=page_view',
    headers: { 'x-forwarded-for': '198.51.100.7, 127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'metrics.shop.example' }
  })
  t.equal(res.statusCode, 204)
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  t.ok(cookies.length > 0)
  for (const c of cookies) {
    t.match(c, /Domain=shop\.example/, 'the forwarded host decides the cookie domain')
    t.match(c, /; Secure/, 'a request that reached the proxy over https gets Secure cookies')
  }
  // From an address that is not a trusted proxy, the header is ignored again.
  const other = await h.app.inject({
    method: 'GET',
    url: '/g/collect?v=2&tid=G-1&cid=1.2&en=from_elsewhere',
    remoteAddress: '192.0.2.50',
    headers: { 'x-forwarded-for': '198.51.100.8' }
  })
  t.equal(other.statusCode, 204)
  await drained(h)
  const byName = Object.fromEntries(h.sink.delivered().map(e => [e.event_name, e]))
  t.equal(byName.page_view.ip_override, '198.51.100.7', 'the client address the proxy saw')
  t.equal(byName.from_elsewhere.ip_override, '192.0.2.50', 'an untrusted peer cannot forward an address')
})
