// `tagline forget` through main() in this process, against a real gateway: on the real Redis (the
// command works on Redis directly), in embedded mode (it asks the running gateway), and offline
// (a stopped embedded gateway's dead-letter journal and spool). A backend event for the erased
// user afterwards is no longer stitched.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { loadConfigFile } from '../../config/load.js'
import { main } from '../../server/main.js'
import { startGateway, type Gateway } from '../../server/start.js'
import { AUTH, gtagQuery, silent, uniquePrefix, writeGatewayConfig } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import { redisClient } from '../delivery/fixtures/redis.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const run = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => {
  let out = ''
  let err = ''
  const code = await main(args, s => { out += s + '\n' }, s => { err += s + '\n' })
  return { code, out, err }
}

/**
 * A config file: `hook` delivers at once, `refusing` gets 400s (dead letters), `waiting` holds its
 * events a minute, and at shutdown gets 503s, so that they are spooled.
 */
async function configFile (t: Test, sink: Sink, store: string): Promise<{ file: string, dir: string }> {
  return await writeGatewayConfig(t, {
    top: store,
    tags: [
      `  - { name: hook, type: webhook, url: "${sink.origin}/hook", batch: { maxEvents: 100, maxWaitMs: 0 } }`,
      `  - { name: refusing, type: webhook, url: "${sink.origin}/refusing", batch: { maxEvents: 100, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`,
      `  - { name: waiting, type: webhook, url: "${sink.origin}/waiting", batch: { maxEvents: 100, maxWaitMs: 60000 }, retry: { initialDelayMs: 600000 } }`
    ]
  })
}

/** Jane and Bob browse (contexts) and buy (dead letters at `refusing`, waiting at `waiting`). */
async function traffic (t: Test, gw: Gateway, sink: Sink): Promise<void> {
  for (const [cid, uid] of [['111.1', 'jane'], ['222.2', 'bob']]) {
    const res = await gw.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view', cid, uid })}`, headers: { 'user-agent': `UA ${uid}` }, remoteAddress: '203.0.113.7' })
    t.equal(res.statusCode, 204)
  }
  await until(async () => (await gw.store.fields('ctx:uid:jane')) !== undefined && (await gw.store.fields('ctx:uid:bob')) !== undefined, 3000, 'contexts written')
  for (const user of ['jane', 'bob']) {
    const res = await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: `P-${user}`, user_id: user, value: 5, currency: 'EUR' } })
    t.equal(res.statusCode, 202)
  }
  await until(async () => await gw.delivery.deadLetters.count('refusing') === 4, 5000, 'the refused events to be dead-lettered')
  await sink.waitFor(() => sink.delivered('/hook').length === 4, 'the hook to get everything')
  t.match(sink.delivered('/hook').find(e => e.event_id === 'P-jane'), { user_agent: 'UA jane', source: { stitched: Array } }, 'before: stitched')
}

/** After the erasure: Jane's contexts and letters are gone, Bob's stay, and her next purchase is not stitched. */
async function checkErased (t: Test, gw: Gateway, sink: Sink): Promise<void> {
  t.equal(await gw.store.fields('ctx:uid:jane'), undefined, 'her user context is gone')
  t.equal(await gw.store.fields('ctx:cid:111.1'), undefined, 'her browser\'s too')
  t.not(await gw.store.fields('ctx:uid:bob'), undefined, 'Bob\'s stays')
  const letters = await gw.delivery.deadLetters.list('refusing')
  t.same(letters.map(l => l.event.user_id).sort(), ['bob', 'bob'], 'only Bob\'s dead letters are left')
  const res = await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: 'P-jane-2', user_id: 'jane', value: 5, currency: 'EUR' } })
  t.equal(res.statusCode, 202)
  await sink.waitFor(() => sink.delivered('/hook').some(e => e.event_id === 'P-jane-2'), 'her next purchase')
  const after = sink.delivered('/hook').find(e => e.event_id === 'P-jane-2')
  t.equal(after.source.stitched, undefined, 'afterwards her backend event is not stitched')
  t.equal(after.user_agent, undefined)
}

const sinkFor = async (t: Test): Promise<Sink> => await startSink(t, r => r.path === '/refusing' ? 400 : r.path === '/waiting' ? 503 : 200)

t.test('Redis mode: the command erases in Redis directly', async t => {
  const sink = await sinkFor(t)
  const prefix = uniquePrefix()
  const { file, dir } = await configFile(t, sink, `store:\n  redis: "${REDIS_URL}"\n  prefix: "${prefix}"\n`)
  const gw = await startGateway({ config: loadConfigFile(file, {}), logger: silent(), port: 0, host: '127.0.0.1' })
  t.teardown(async () => {
    await gw.stop()
    const client = redisClient()
    await client.connect()
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
    await client.quit()
  })
  await traffic(t, gw, sink)

  const r = await run('forget', '--config', file, '--user-id', 'jane')
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^Forgot user id "jane":\n {2}stitching contexts: 2 removed \(1 by user id, 1 by client id\)\n {2}the user's browsers \(client ids\), erased with them: 111\.1\n/)
  t.match(r.out, /refusing +0 +2 +0\n/, 'her two dead letters')
  t.match(r.out, /waiting +2 +0 +0\n/, 'her two waiting events')
  t.match(r.out, /spool .*spool\.jsonl: none on this host/)
  await checkErased(t, gw, sink)

  // Her purchase since: a dead letter and a waiting event again, which a second run finds.
  await until(async () => await gw.delivery.deadLetters.count('refusing') === 3, 5000, 'her new purchase dead-lettered')
  const again = await run('forget', '--config', file, '--user-id', 'jane', '--json')
  t.equal(again.code, 0)
  const report = JSON.parse(again.out)
  t.same(report, {
    contexts: { userId: 0, clientId: 0, orderId: 0 },
    clientIds: [],
    tags: [{ tag: 'refusing', queued: 0, deadLetters: 1, inFlight: 0 }, { tag: 'waiting', queued: 1, deadLetters: 0, inFlight: 0 }],
    spool: { file: join(dir, 'spool.jsonl'), removed: 0, missing: true },
    alsoSeen: { userIds: [], clientIds: report.alsoSeen.clientIds }
  }, '--json prints the report')
  t.match(report.alsoSeen.clientIds, [/^\d+\.\d+$/], 'the client id minted for her purchase is reported, not followed')
})

t.test('embedded mode: the command asks the running gateway; --offline erases a stopped one\'s files', async t => {
  const sink = await sinkFor(t)
  const { file, dir } = await configFile(t, sink, '')
  const gw = await startGateway({ config: loadConfigFile(file, {}), logger: silent(), port: 0, host: '127.0.0.1' })
  let stopped = false
  t.teardown(async () => { if (!stopped) await gw.stop() })
  await traffic(t, gw, sink)

  const offline = await run('forget', '--config', file, '--url', gw.url, '--user-id', 'jane', '--offline')
  t.equal(offline.code, 1, '--offline is refused while the gateway answers')
  t.match(offline.err, /a gateway answers at .*--offline is for a stopped gateway/)

  const r = await run('forget', '--config', file, '--url', gw.url, '--user-id', 'jane')
  t.equal(r.code, 0, r.err)
  t.match(r.out, /stitching contexts: 2 removed/)
  t.match(r.out, /refusing +0 +2 +0\n/)
  t.match(r.out, /waiting +2 +0 +0\n/)
  await checkErased(t, gw, sink)

  // Stopped, the gateway spools Bob's waiting events; its journal keeps his letters. Then Bob asks.
  await gw.stop()
  stopped = true
  const spool = join(dir, 'spool.jsonl')
  t.match(await readFile(spool, 'utf8'), /"user_id":"bob"/)
  const down = await run('forget', '--config', file, '--url', gw.url, '--user-id', 'bob')
  t.equal(down.code, 1)
  t.match(down.err, /cannot reach the gateway .*tagline forget --offline/)
  const bob = await run('forget', '--config', file, '--url', gw.url, '--user-id', 'bob', '--offline')
  t.equal(bob.code, 0, bob.err)
  t.match(bob.out, /stitching contexts, queues: none here \(the gateway is stopped/)
  t.match(bob.out, /refusing +0 +2 +0\n/)
  t.match(bob.out, /spool .*: 2 events removed/)
  const journal = await readFile(join(dir, 'dead-letters.jsonl'), 'utf8')
  t.notMatch(journal, /"user_id":"bob"/, 'gone from the journal itself')
})

t.test('arguments: exit 2 with a sentence', async t => {
  const dir = t.testdir({ 'tagline.yaml': 'tags:\n  - { name: hook, type: log }\n', 'redis.yaml': `store:\n  redis: "${REDIS_URL}"\ntags:\n  - { name: hook, type: log }\n` })
  const cases: Array<[string[], RegExp]> = [
    [['forget', '--config', join(dir, 'tagline.yaml')], /^tagline forget: name the person: --user-id ID, --client-id ID or --email ADDRESS\.\n\nUsage:/],
    [['forget', '--config', join(dir, 'tagline.yaml'), '--user-id', ' '], /name the person/],
    [['forget', '--config', join(dir, 'tagline.yaml'), '--email', 'jane at example'], /--email takes an e-mail address, not "jane at example"/],
    [['forget', '--config', join(dir, 'tagline.yaml'), '--user-id', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['forget', '--config', join(dir, 'redis.yaml'), '--user-id', 'x', '--offline'], /--offline is for embedded mode/]
  ]
  for (const [args, stderr] of cases) {
    const r = await run(...args)
    t.equal(r.code, 2, args.slice(3).join(' '))
    t.match(r.err, stderr)
    t.equal(r.out, '')
  }
  const help = await run('help')
  t.match(help.out, /tagline forget \(--user-id ID \| --client-id ID \| --email ADDRESS\)/)
})
