// Behind a load balancer: with server.trustProxy naming it, the rate limit counts each visitor (the
// address X-Forwarded-For gives), not the balancer; without it, every visitor is the balancer, and
// the gateway says so once in the log and in /readyz (never unready for it).
import t from 'tap'
import { captureLogs, harness, json } from './fixtures/harness.js'

const PROXY = '10.0.0.5'
const VISITORS = 1000
/** Visitor n's address: 1,000 distinct public-looking ones. */
const visitor = (n: number): string => `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`
const LIMIT = (trust: string): string => `server:\n  rateLimit: { max: 2, timeWindow: "1 minute" }\n${trust}`

async function send (app: Awaited<ReturnType<typeof harness>>['app'], n: number): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/collect', remoteAddress: PROXY, headers: { 'x-forwarded-for': visitor(n) }, payload: { event_name: 'page_view' } })
  return res.statusCode
}

/** Every visitor sends `max` (2) requests, interleaved: visitor 0, 1, …, 999, then 0, 1, … again. */
async function traffic (app: Awaited<ReturnType<typeof harness>>['app']): Promise<Map<number, number>> {
  const statuses = new Map<number, number>()
  for (let round = 0; round < 2; round++) {
    for (let n = 0; n < VISITORS; n++) {
      const s = await send(app, n)
      statuses.set(s, (statuses.get(s) ?? 0) + 1)
    }
  }
  return statuses
}

t.test('trustProxy names the balancer: 1,000 visitors through it each have their own limit', async t => {
  const logs = captureLogs('info')
  const h = await harness({ yaml: LIMIT('  trustProxy: ["10.0.0.0/8"]\n'), logger: logs.logger })
  t.teardown(h.close)
  const statuses = await traffic(h.app)
  t.same([...statuses], [[202, 2 * VISITORS]], 'none is limited for another visitor\'s traffic')
  t.equal(await send(h.app, 7), 429, 'one visitor past its own limit is limited')
  t.equal(await send(h.app, 8), 429, 'as is the next one past its own')
  const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
  t.same(json(ready), { status: 'ready', store: 'memory', storeReachable: true }, 'nothing to report')
  t.notMatch(logs.text(), /untrusted X-Forwarded-For/)
})

t.test('without trustProxy the same traffic is one visitor, and the gateway says so once', async t => {
  const logs = captureLogs('info')
  const h = await harness({ yaml: LIMIT(''), logger: logs.logger })
  t.teardown(h.close)
  const statuses = await traffic(h.app)
  t.same([...statuses], [[202, 2], [429, 2 * VISITORS - 2]], 'the whole shop shares the balancer\'s limit')
  const warnings = logs.lines.map(l => JSON.parse(l)).filter(l => /untrusted X-Forwarded-For/.test(l.msg))
  t.equal(warnings.length, 1, 'one warning, not one per request')
  t.equal(warnings[0].level, 40, 'at warn')
  t.match(warnings[0].msg, /server\.trustProxy/, 'naming the setting')
  t.notMatch(logs.text(), new RegExp(`${PROXY.replace(/\./g, '\\.')}|198\\.51\\.`), 'no address in the log')

  const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200, 'still ready')
  t.match(json(ready), { status: 'ready', untrustedForwardedFor: true, hint: /server\.trustProxy/ })
})

t.test('a request without X-Forwarded-For, or from a trusted proxy, reports nothing', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  trustProxy: ["10.0.0.0/8"]\n' })
  t.teardown(h.close)
  await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: '203.0.113.4', payload: { event_name: 'x' } })
  await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: PROXY, headers: { 'x-forwarded-for': '203.0.113.4' }, payload: { event_name: 'x' } })
  t.equal(json(await h.app.inject({ method: 'GET', url: '/readyz' })).untrustedForwardedFor, undefined)
  await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: '192.0.2.1', headers: { 'x-forwarded-for': '203.0.113.4' }, payload: { event_name: 'x' } })
  t.equal(json(await h.app.inject({ method: 'GET', url: '/readyz' })).untrustedForwardedFor, true, 'a peer outside trustProxy is reported')
})

t.test('a hop count trusts no proxy in Fastify 5: the hint says to list the addresses', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  trustProxy: 1\n' })
  t.teardown(h.close)
  await h.app.inject({ method: 'POST', url: '/collect', remoteAddress: PROXY, headers: { 'x-forwarded-for': '203.0.113.4' }, payload: { event_name: 'x' } })
  t.match(json(await h.app.inject({ method: 'GET', url: '/readyz' })), { untrustedForwardedFor: true, hint: /hop count/ })
})
