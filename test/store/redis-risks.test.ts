// The shared Redis's settings that lose acknowledged events without an error (eviction, no
// append-only file) are read at start and every few minutes, logged, and set as
// tagline_store_risk{risk}. Each case runs on a private redis-server whose settings it changes.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loadConfig } from '../../config/load.js'
import { createMetrics } from '../../server/metrics.js'
import { startGateway } from '../../server/start.js'
import { readRedisRisks, watchRedisRisks } from '../../server/store/redis-risks.js'
import { startRedisServer, type RedisServer } from '../fixtures/redis-server.js'
import { until } from '../fixtures/wait.js'

function logs (): { logger: pino.Logger, lines: () => Array<Record<string, any>> } {
  const out: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { out.push(chunk.toString()); cb() } })
  return { logger: pino({ level: 'debug' }, stream), lines: () => out.map(l => JSON.parse(l)) }
}

async function client (t: Test, server: RedisServer, opts: { username?: string, password?: string } = {}): Promise<Redis> {
  // No ready check: it runs INFO, which one of the users below may not.
  const c = new Redis(server.port, '127.0.0.1', { ...opts, maxRetriesPerRequest: 1, enableReadyCheck: false })
  c.on('error', () => { /* the server is stopped on purpose in one case */ })
  t.teardown(() => { c.disconnect() })
  return c
}

t.test('what is read, setting by setting', async t => {
  const server = await startRedisServer(t) // appendonly yes, save ""
  const c = await client(t, server)
  t.same(await readRedisRisks(c), [], 'AOF on, no maxmemory: nothing to say')

  await c.config('SET', 'maxmemory-policy', 'allkeys-lru')
  t.same(await readRedisRisks(c), [], 'an eviction policy without maxmemory never evicts')
  await c.config('SET', 'maxmemory', '1gb')
  t.match(await readRedisRisks(c), [{ risk: 'eviction', level: 'error', message: /queued events and dead letters can vanish/, detail: { maxmemory: 1073741824, maxmemoryPolicy: 'allkeys-lru' } }])
  await c.config('SET', 'maxmemory-policy', 'volatile-ttl')
  t.match(await readRedisRisks(c), [{ risk: 'eviction', level: 'warn', message: /dedup marks .* delivered twice/ }], 'volatile-*: only keys with a ttl (marks, contexts) go')
  await c.config('SET', 'maxmemory-policy', 'noeviction')
  t.same(await readRedisRisks(c), [])

  await c.config('SET', 'appendonly', 'no')
  t.match(await readRedisRisks(c), [{ risk: 'no_aof', level: 'warn', message: /keeps nothing on disk/, detail: { appendonly: 'no', save: '' } }])
  await c.config('SET', 'save', '3600 1')
  t.match(await readRedisRisks(c), [{ risk: 'no_aof', message: /since its last snapshot/, detail: { save: '3600 1' } }])

  // A managed Redis: CONFIG forbidden, INFO allowed; then INFO forbidden too.
  await c.acl('SETUSER', 'noconfig', 'on', '>pw-noconfig', '~*', '&*', '+@all', '-config')
  const limited = await client(t, server, { username: 'noconfig', password: 'pw-noconfig' })
  t.match(await readRedisRisks(limited), [{ risk: 'no_aof', message: /since its last snapshot/, detail: { save: 'unknown' } }], 'without CONFIG the snapshot schedule is unknown')
  await c.acl('SETUSER', 'noinfo', 'on', '>pw-noinfo', '~*', '&*', '+@all', '-config', '-info')
  t.equal(await readRedisRisks(await client(t, server, { username: 'noinfo', password: 'pw-noinfo' })), 'refused')
  await server.stop()
  t.equal(await readRedisRisks(c), 'unreachable')
})

t.test('watched: logged when a risk appears or changes and when it ends, the gauge follows', async t => {
  const server = await startRedisServer(t)
  const c = await client(t, server)
  const metrics = createMetrics({ defaultMetrics: false })
  const log = logs()
  const gauge = async (risk: string): Promise<number | undefined> => (await metrics.storeRisk.get()).values.find(v => v.labels.risk === risk)?.value
  await c.config('SET', 'appendonly', 'no')
  const watch = await watchRedisRisks({ client: c, gauge: metrics.storeRisk, logger: log.logger, everyMs: 50 })
  t.teardown(watch.stop)
  t.equal(await gauge('no_aof'), 1, 'set by the first reading, before the watch resolves')
  t.equal(await gauge('eviction'), 0)
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(log.lines().filter(l => l.risk === 'no_aof').length, 1, 'logged once, not at every reading')

  await c.config('SET', 'maxmemory', '512mb')
  await c.config('SET', 'maxmemory-policy', 'allkeys-lfu')
  await until(async () => await gauge('eviction') === 1, 2000, 'the eviction risk to be seen')
  t.match(log.lines().find(l => l.risk === 'eviction'), { level: 50, maxmemoryPolicy: 'allkeys-lfu', maxmemory: 536870912 })
  await c.config('SET', 'maxmemory-policy', 'volatile-lru')
  await until(() => log.lines().filter(l => l.risk === 'eviction').length === 2, 2000, 'the changed policy to be logged')

  await c.config('SET', 'maxmemory-policy', 'noeviction')
  await c.config('SET', 'appendonly', 'yes')
  await until(async () => await gauge('eviction') === 0 && await gauge('no_aof') === 0, 2000, 'both risks to end')
  t.same(log.lines().filter(l => /no longer a risk/.test(l.msg)).map(l => l.risk).sort(), ['eviction', 'no_aof'], 'the end of each is logged')
})

t.test('a Redis-mode gateway checks at start, in its log and on /metrics', async t => {
  const server = await startRedisServer(t)
  const c = await client(t, server)
  await c.config('SET', 'maxmemory', '256mb')
  await c.config('SET', 'maxmemory-policy', 'allkeys-lru')
  const log = logs()
  const dir = t.testdir()
  const config = loadConfig({
    text: `server: { rateLimit: false, spoolFile: ${dir}/spool.jsonl, deadLetterFile: ${dir}/dead.jsonl }
store: { redis: "${server.url}", prefix: "risk-test:" }
tags:
  - { name: hook, type: webhook, url: "http://127.0.0.1:9/hook" }
`
  }, {})
  const gw = await startGateway({ config, logger: log.logger, port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await gw.stop() })
  t.match(log.lines().find(l => l.risk === 'eviction'), { level: 50, component: 'store', msg: /Set maxmemory-policy noeviction/ }, 'said before the gateway listens')
  t.ok(log.lines().findIndex(l => l.risk === 'eviction') < log.lines().findIndex(l => l.msg === 'tagline is listening'))
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(text, /tagline_store_risk\{risk="eviction"\} 1/)
  t.match(text, /tagline_store_risk\{risk="no_aof"\} 0/)
})
