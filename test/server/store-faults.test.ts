// Store failures on the request path are counted (tagline_store_errors_total{op}) and logged with
// Redis's own words, at most a line per kind every 10 s: a Redis at maxmemory, a key of the wrong
// type. What the sender sees is unchanged: 503 for events that could not be stored, the event
// delivered unstitched when a context cannot be read.
import t from 'tap'
import { createMetrics } from '../../server/metrics.js'
import { StoreFaults } from '../../server/store/faults.js'
import { RedisStore } from '../../server/store/index.js'
import { startRedisServer } from '../fixtures/redis-server.js'
import { until } from '../fixtures/wait.js'
import { AUTH, captureLogs, harness, json, metric, redisStore } from './fixtures/harness.js'

const logLines = (text: string): Array<Record<string, any>> => text.split('\n').filter(l => l !== '').map(l => JSON.parse(l))

t.test('a line per kind of failure at most every 10 s, with the count of those not logged', async t => {
  const metrics = createMetrics({ defaultMetrics: false })
  const logs = captureLogs('info')
  let now = 1_000_000
  const faults = new StoreFaults(metrics.storeErrors, logs.logger, () => now)
  faults.report('enqueue', new Error('OOM command not allowed when used memory > \'maxmemory\'.'))
  faults.report('enqueue', new Error('OOM command not allowed when used memory > \'maxmemory\'.'))
  faults.report('context_write', new Error('connection closed'))
  now += 9_999
  faults.report('enqueue', new Error('OOM again'))
  now += 1
  faults.report('enqueue', new Error('READONLY You can\'t write against a read only replica.'))
  t.equal(await metric(metrics, 'tagline_store_errors_total', { op: 'enqueue' }), 4, 'every failure counted')
  t.equal(await metric(metrics, 'tagline_store_errors_total', { op: 'context_write' }), 1)
  const lines = logLines(logs.text())
  t.same(lines.map(l => [l.op, l.level, l.unlogged]), [['enqueue', 50, undefined], ['context_write', 40, undefined], ['enqueue', 50, 2]], 'first, then the next after 10 s with what went unlogged')
  t.match(lines[0], { error: /^OOM /, hint: /maxmemory/, msg: /answered 503/ }, 'Redis at maxmemory is named as such')
  t.equal(lines[2].hint, undefined, 'no maxmemory hint for another error')
  t.match(lines[2].error, /READONLY/)
  const older = captureLogs('info')
  new StoreFaults(metrics.storeErrors, older.logger).report('enqueue', new Error('ERR Error running script (call to f_0f2a): @user_script:12: -OOM command not allowed when used memory > \'maxmemory\'.'))
  t.match(logLines(older.text())[0], { hint: /maxmemory/ }, 'also as a script error, as Redis before 7 words it')
})

t.test('Redis at maxmemory: 503 with a JSON error, the reason in the log, nothing lost once it has room', async t => {
  const server = await startRedisServer(t)
  const store = new RedisStore({ url: server.url, prefix: 'tagline-oom:' })
  await store.connect()
  t.teardown(async () => { await store.close() })
  const logs = captureLogs('info')
  const h = await harness({ store, logger: logs.logger })
  t.teardown(h.close)
  const send = async (id: string): Promise<Awaited<ReturnType<typeof h.app.inject>>> => await h.app.inject({
    method: 'POST',
    url: '/collect',
    headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0' },
    payload: { event_name: 'purchase', event_id: id, client_id: '555.666', value: 1, currency: 'EUR' }
  })
  t.equal((await send('before')).statusCode, 202)
  const admin = store.client.duplicate()
  t.teardown(() => { admin.disconnect() })
  await admin.connect()
  // Redis over maxmemory (noeviction) refuses every write: a megabyte in, then a limit below it.
  await admin.set('filler', 'x'.repeat(1_000_000))
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
  await admin.config('SET', 'maxmemory', String(used - 500_000))
  const full = await send('while-full')
  t.equal(full.statusCode, 503)
  t.match(json(full), { error: 'store_unavailable' }, 'a JSON error the sender retries on')
  t.notMatch(full.body, /OOM|maxmemory|127\.0\.0\.1/, 'Redis\'s words stay in the log, not in the answer')
  t.equal(await metric(h.metrics, 'tagline_store_errors_total', { op: 'enqueue' }), 1)
  await until(async () => await metric(h.metrics, 'tagline_store_errors_total', { op: 'context_write' }) === 1, 5000, 'the browser context write to fail too')
  const lines = logLines(logs.text()).filter(l => l.component === 'store')
  t.match(lines.find(l => l.op === 'enqueue'), { level: 50, error: /^OOM /, hint: /maxmemory/ }, 'the log says Redis is at maxmemory')
  t.match(lines.find(l => l.op === 'context_write'), { level: 40, error: /^OOM / })

  await admin.del('filler')
  t.equal((await send('while-full')).statusCode, 202, 'the sender\'s retry is taken once Redis has room again')
  await until(() => h.sink.delivered('/hook').length === 2, 5000, 'both accepted events delivered')
  t.same(h.sink.delivered('/hook').map((e: { event_id: string }) => e.event_id).sort(), ['before', 'while-full'], 'each accepted event once, the refused one on its retry')
})

t.test('a context that cannot be read: the backend event goes out unstitched, and the failure is counted', async t => {
  const store = await redisStore()
  const logs = captureLogs('info')
  const h = await harness({ store, logger: logs.logger })
  t.teardown(async () => { await h.close(); await store.close() })
  // A key of another type where the visitor's context would be: HGETALL answers WRONGTYPE.
  await store.client.set(`${store.prefix}rec:ctx:cid:777.888`, 'not a hash')
  const res = await h.app.inject({
    method: 'POST',
    url: '/collect',
    headers: { 'content-type': 'application/json', authorization: AUTH },
    payload: { event_name: 'purchase', event_id: 'order-1', client_id: '777.888', value: 1, currency: 'EUR' }
  })
  t.equal(res.statusCode, 202)
  await until(() => h.sink.delivered('/hook').length === 1, 5000, 'the event delivered')
  t.equal(h.sink.delivered('/hook')[0].source?.stitched, undefined, 'nothing stitched')
  t.equal(await metric(h.metrics, 'tagline_store_errors_total', { op: 'context_read' }), 1)
  t.match(logLines(logs.text()).find(l => l.op === 'context_read'), { level: 40, error: /WRONGTYPE/, msg: /could not be read/ })
})
