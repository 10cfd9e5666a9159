// The README's retention table, row by row (the queued events' retry window is in
// test/delivery/retry.test.ts and spool.test.ts): each kind of record is gone once its maximum
// age has passed, with the memory store and on the real Redis, through a real app or gateway.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { AUTH, captureLogs, gtagQuery, harness, json, redisStore, silent, uniquePrefix, writeGatewayConfig } from './fixtures/harness.js'
import { loadConfigFile } from '../../config/load.js'
import { startGateway } from '../../server/start.js'
import { ContextWriter } from '../../server/pipeline.js'
import { MemoryStore, type Store } from '../../server/store/index.js'
import { appendSpool } from '../../server/delivery/spool.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import { redisClient } from '../delivery/fixtures/redis.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

const stores: Array<[string, () => Promise<Store | undefined>]> = [
  ['memory', async () => undefined],
  ['redis', async () => await redisStore()]
]

/** Milliseconds Redis still keeps the keys matching `pattern` (the longest), -2 when there is none. */
async function pttl (store: Store, pattern: string): Promise<number> {
  const client = store.redis?.client
  if (client === undefined) throw new Error('not a Redis store')
  const keys = await client.keys(`${store.redis?.prefix ?? ''}${pattern}`)
  if (keys.length === 0) return -2
  return Math.max(...await Promise.all(keys.map(async k => await client.pttl(k))))
}

for (const [name, makeStore] of stores) {
  t.test(`${name}: dedup marks live dedup.window`, async t => {
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const h = await harness({ store, yaml: 'dedup: { window: 400ms }\n' })
    t.teardown(h.close)
    const send = async (): Promise<number> => json((await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: 'D-1', currency: 'EUR', value: 1 } }))).deduplicated
    t.equal(await send(), 0)
    t.equal(await send(), 1, 'a repeat inside the window')
    if (store !== undefined) {
      const left = await pttl(store, '{hook}:seen:*')
      t.ok(left > 0 && left <= 400, `Redis expires the mark with the window (${left} ms left)`)
    }
    await sleep(450)
    t.equal(await send(), 0, 'after the window the mark is gone')
  })

  t.test(`${name}: stitching contexts live identity.stitch.ttl`, async t => {
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const h = await harness({ store, yaml: 'identity: { stitch: { ttl: 400ms } }\n' })
    t.teardown(h.close)
    await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view', cid: '7.7', uid: 'u7' })}`, headers: { 'user-agent': 'UA' }, remoteAddress: '203.0.113.7' })
    await until(async () => (await h.store.fields('ctx:uid:u7')) !== undefined, 2000, 'the context')
    if (store !== undefined) {
      const left = await pttl(store, 'rec:ctx:*')
      t.ok(left > 0 && left <= 400, `Redis expires the context with the ttl (${left} ms left)`)
    }
    await sleep(450)
    for (const key of ['ctx:uid:u7', 'ctx:cid:7.7']) t.equal(await h.store.fields(key), undefined, `${key} is gone after the ttl`)
  })

  t.test(`${name}: rate-limit counters (keyed by visitor IP) live server.rateLimit.timeWindow`, async t => {
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const h = await harness({ store, yaml: 'server:\n  rateLimit: { max: 1, timeWindow: 400 }\n' })
    t.teardown(h.close)
    const hit = async (): Promise<number> => (await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view' })}`, remoteAddress: '198.51.100.4' })).statusCode
    t.equal(await hit(), 204)
    t.equal(await hit(), 429)
    if (store !== undefined) {
      const left = await pttl(store, 'ratelimit:*')
      t.ok(left > 0 && left <= 400, `Redis expires the counter with the window (${left} ms left)`)
    }
    await sleep(450)
    t.equal(await hit(), 204, 'after the window the count starts again')
  })
}

t.test('a replica\'s notes of the contexts it wrote are kept at most 10 minutes', async t => {
  const writer = new ContextWriter(new MemoryStore(), 60_000)
  const hit = (cid: string, at: number): Parameters<ContextWriter['remember']>[0] => [{ event_name: 'page_view', client_id: cid, ip_override: '203.0.113.9', timestamp_ms: at, source: { client: 'gtag', request_id: 'r', received_ms: at, trusted: false } }]
  writer.remember(hit('1.1', 0), 0)
  writer.remember(hit('2.2', 60_000), 60_000)
  t.equal(writer.noted, 2)
  writer.remember(hit('3.3', 10 * 60_000 + 1), 10 * 60_000 + 1)
  t.equal(writer.noted, 2, 'the note older than 10 minutes is dropped at the next write')
  writer.remember(hit('4.4', 30 * 60_000), 30 * 60_000)
  t.equal(writer.noted, 1)
})

/** A gateway config: `refusing` gets 400s, so every event it takes becomes a dead letter. */
async function gatewayConfig (t: Test, parts: { server?: string, top?: string }): Promise<{ file: string, dir: string }> {
  const sink = await startSink(t, r => r.path === '/refusing' ? 400 : 200)
  return await writeGatewayConfig(t, {
    ...parts,
    tags: [
      `  - { name: refusing, type: webhook, url: "${sink.origin}/refusing", batch: { maxEvents: 100, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`,
      `  - { name: hook, type: webhook, url: "${sink.origin}/hook", batch: { maxEvents: 100, maxWaitMs: 0 } }`
    ]
  })
}

const modes: Array<[string, () => string]> = [
  ['embedded', () => ''],
  ['redis', () => `store:\n  redis: "${REDIS_URL}"\n  prefix: "${uniquePrefix()}"\n`]
]

for (const [mode, storeYaml] of modes) {
  t.test(`${mode}: dead letters live delivery.deadLetterMaxAge, swept by the gateway`, async t => {
    const yaml = storeYaml()
    const { file, dir } = await gatewayConfig(t, { top: `${yaml}delivery:\n  deadLetterMaxAge: 600ms\n` })
    const gw = await startGateway({ config: loadConfigFile(file, {}), logger: silent(), port: 0, host: '127.0.0.1' })
    t.teardown(async () => {
      await gw.stop()
      const prefix = /prefix: "([^"]+)"/.exec(yaml)?.[1]
      if (prefix === undefined) return
      const client = redisClient()
      await client.connect()
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
      await client.quit()
    })
    const res = await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: 'DL-1', user_id: 'u-dl', currency: 'EUR', value: 1 } })
    t.equal(res.statusCode, 202)
    await until(async () => await gw.delivery.deadLetters.count('refusing') === 1, 3000, 'the dead letter')
    const kept = Date.now()
    await until(async () => await gw.delivery.deadLetters.count('refusing') === 0, 3000, 'the sweep to remove it')
    t.ok(Date.now() - kept < 2000, 'removed soon after its max age')
    if (mode === 'embedded') {
      // The journal is rewritten after the removal is recorded, not in the same step.
      const journal = async (): Promise<string> => await readFile(join(dir, 'dead-letters.jsonl'), 'utf8')
      await until(async () => !(await journal()).includes('u-dl'), 3000, 'the journal to be compacted').catch(() => {})
      t.notMatch(await journal(), /u-dl/, 'and gone from the journal on disk')
    }
  })
}

t.test('spooled events older than server.spoolMaxAge are dropped at the replay', async t => {
  const { file, dir } = await gatewayConfig(t, { server: '  spoolMaxAge: 1h\n' })
  const spool = join(dir, 'spool.jsonl')
  const now = Date.now()
  await appendSpool(spool, [
    { tag: 'hook', event: { event_name: 'login', event_id: 'old', user_id: 'u-old' }, attempts: 0, enqueuedMs: now - 2 * 3_600_000 },
    { tag: 'hook', event: { event_name: 'login', event_id: 'fresh' }, attempts: 0, enqueuedMs: now - 60_000 }
  ])
  const logs = captureLogs('info')
  const gw = await startGateway({ config: loadConfigFile(file, {}), logger: logs.logger, port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await gw.stop() })
  await until(() => logs.text().includes('spool replayed'), 3000, 'the replay')
  t.match(logs.text(), /"events":1,"maxAgeMs":3600000,"msg":"spool: events past server.spoolMaxAge dropped, not replayed"/)
  t.match(logs.text(), /"events":1,"msg":"spool replayed"/, 'the fresh one is replayed')
  t.notOk(logs.text().includes('u-old'))
})
