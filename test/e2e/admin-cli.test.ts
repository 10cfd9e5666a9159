// `tagline queues` and `tagline replay`, the real command (node bin/tagline.js …): in Redis mode
// with no gateway running (letters seeded straight into Redis), then a gateway delivering what was
// replayed; in embedded mode against a running `tagline start`, and with none running. Argument
// mistakes and other exits without a gateway are in test/server/admin-cli.test.ts (in process).
import t from 'tap'
import { join } from 'node:path'
import { runTagline, spawnTagline } from './fixtures/tagline.js'
import { freePort, startSink } from '../fixtures/sink.js'
import { request, tempDir } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { hookTag, q, serverBlock, writeConfig } from './fixtures/config.js'
import { redisFixture } from '../delivery/fixtures/redis.js'
import { redisQueues } from '../../server/delivery/factory.js'
import type { DeadLetter } from '../../server/delivery/types.js'
import type { TaglineEvent } from '../../schemas/event.js'

// About a dozen short processes (~1-2 s of CPU each to load, more on a busy machine) and two gateways.
t.setTimeout(180_000)

const API_KEY = 'e2e-admin-key-3b9d'
const HOUR = 3_600_000

const event = (id: string, now: number): TaglineEvent =>
  ({ event_name: 'sign_up', event_id: id, user_data: { sha256_email_address: 'b'.repeat(64) }, source: { client: 'json', request_id: id, received_ms: now, trusted: true } })

const letter = (tag: string, id: string, atMs: number, reason: string): DeadLetter =>
  ({ tag, event: event(id, atMs), outcome: 'dropped', reason, attempts: 1, status: 400, response: 'no', atMs })

t.test('Redis mode: queues and replay work with no gateway running; a gateway started later delivers what was replayed', async t => {
  const dir = tempDir(t)
  const { client, prefix } = await redisFixture(t)
  const sink = await startSink(t, 200)
  const file = writeConfig(dir, 'tagline.yaml', [
    serverBlock({ spoolFile: join(dir, 'spool.jsonl') }),
    'store:',
    '  redis: "redis://127.0.0.1:6379"',
    `  prefix: ${q(prefix)}`,
    'tags:',
    hookTag('hook', { url: `${sink.origin}/hook`, maxWaitMs: 20 }),
    hookTag('other', { url: `${sink.origin}/other`, maxWaitMs: 20 })
  ].join('\n'))

  // What a gateway that has since gone left behind: letters at both tags, an event still waiting.
  const now = Date.now()
  const shared = redisQueues({ client, prefix, consumer: 'seed', claimIdleMs: 60_000 })
  for (const l of [letter('hook', 'H3', now - 3 * HOUR, 'HTTP 400: bad token'), letter('hook', 'H1', now - 1 * HOUR, 'HTTP 400: bad token'), letter('hook', 'H05', now - HOUR / 2, 'retry window spent'), letter('other', 'O1', now - HOUR, 'HTTP 400')]) {
    await shared.deadLetters.add(l)
  }
  await shared.queue('hook').push([{ id: 'w1', tag: 'hook', event: event('W1', now), attempts: 0, enqueuedMs: now - 65_000 }])

  const stats = await runTagline(t, ['queues', '--config', file, '--json'])
  t.equal(stats.code, 0, stats.stderr)
  const doc = JSON.parse(stats.stdout)
  t.same(doc.queues.map((x: any) => ({ ...x, oldestWaitingAgeMs: x.oldestWaitingAgeMs === undefined ? undefined : x.oldestWaitingAgeMs >= 65_000 })), [
    { tag: 'hook', waiting: 1, inFlight: 0, scheduled: 0, dead: 3, oldestWaitingAgeMs: true },
    { tag: 'other', waiting: 0, inFlight: 0, scheduled: 0, dead: 1, oldestWaitingAgeMs: undefined }
  ], '--json: per tag, straight from Redis')

  // The Redis's own settings that can lose what the queues hold are said too (this Redis's AOF, as it is).
  const aofOff = (await client.config('GET', 'appendonly') as string[])[1] === 'no'
  t.ok(Array.isArray(doc.risks), '--json: the risks Redis was checked for, in a list of their own')
  t.equal(doc.risks.some((r: any) => r.risk === 'no_aof' && r.level === 'warn' && /keeps (nothing on disk|no append-only file)/.test(r.message)), aofOff)

  const table = await runTagline(t, ['queues', '--config', file])
  t.equal(table.code, 0)
  t.equal(/^warning: Redis keeps (nothing on disk|no append-only file)/m.test(table.stderr), aofOff, 'and as a warning on stderr')
  t.notMatch(table.stdout, /warning/, 'the table alone on stdout')
  t.match(table.stdout, /^tag\s+waiting\s+in flight\s+scheduled\s+dead\s+oldest waiting$/m, 'a table with a header')
  t.match(table.stdout, /^hook\s+1\s+0\s+0\s+3\s+1m \d+s$/m, 'hook: one waiting for over a minute, three dead')
  t.match(table.stdout, /^other\s+0\s+0\s+0\s+1\s+-$/m)

  const dry = await runTagline(t, ['replay', '--config', file, '--tag', 'hook', '--dry-run', '--json'])
  t.equal(dry.code, 0, dry.stderr)
  t.same(JSON.parse(dry.stdout), { tag: 'hook', matched: 3, replayed: 0, byReason: { 'HTTP 400: bad token': 2, 'retry window spent': 1 }, dryRun: true })
  t.equal(await shared.deadLetters.count('hook'), 3, 'a dry run changes nothing')

  const some = await runTagline(t, ['replay', '--config', file, '--tag', 'hook', '--since', '2h', '--limit', '1', '--json'])
  t.equal(some.code, 0, some.stderr)
  t.same(JSON.parse(some.stdout), { tag: 'hook', matched: 1, replayed: 1, byReason: { 'HTTP 400: bad token': 1 }, dryRun: false }, 'the oldest one of the last 2 hours')
  t.same((await shared.deadLetters.list('hook')).map(l => l.event.event_id), ['H3', 'H05'], 'the others stay dead')

  const rest = await runTagline(t, ['replay', '--config', file, '--tag', 'hook'])
  t.equal(rest.code, 0, rest.stderr)
  t.match(rest.stdout, /^hook: replayed 2 dead letters into its queue/m, 'a readable summary')
  t.match(rest.stdout, /^\s+1\s+HTTP 400: bad token$/m, 'with the reasons')
  t.equal(await shared.deadLetters.count('hook'), 0)
  t.equal(await shared.deadLetters.count('other'), 1, 'the other tag is not touched')

  const after = JSON.parse((await runTagline(t, ['queues', '--config', file, '--json'])).stdout)
  t.same(after.queues.map((x: any) => [x.tag, x.waiting, x.dead]), [['hook', 4, 0], ['other', 0, 1]], 'the replayed letters wait in hook\'s queue')
  t.equal(sink.requests.length, 0, 'nothing was sent: no gateway runs')

  // A gateway on the same config takes them from the shared queue.
  const gw = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
  await gw.url()
  await sink.waitFor(() => sink.delivered('/hook').length >= 4, 'the replayed events delivered')
  t.same(sink.delivered('/hook').map((e: TaglineEvent) => e.event_id).sort(), ['H05', 'H1', 'H3', 'W1'], 'each once, with its event as kept')
  t.same(sink.delivered('/hook')[0].user_data, { sha256_email_address: 'b'.repeat(64) }, 'hashed user data, as the letter kept it')
  t.equal(sink.requests.filter(r => r.path === '/other').length, 0, 'the other destination got nothing')
  gw.signal('SIGTERM')
  t.equal((await gw.exited).code, 0)
})

t.test('embedded mode: the commands ask the running gateway, and say so when it is not running', async t => {
  const dir = tempDir(t)
  const sink = await startSink(t, 400)
  const port = await freePort()
  const file = writeConfig(dir, 'tagline.yaml', [
    serverBlock({ spoolFile: join(dir, 'spool.jsonl'), port }),
    'auth:',
    `  apiKeys: [${q(API_KEY)}]`,
    'tags:',
    hookTag('hook', { url: `${sink.origin}/hook`, maxWaitMs: 20 }),
    hookTag('other', { url: `${sink.origin}/other`, maxWaitMs: 20 })
  ].join('\n'))

  const none = await runTagline(t, ['queues', '--config', file])
  t.equal(none.code, 1, 'no gateway: exit 1')
  t.match(none.stderr, new RegExp(`cannot reach the gateway at http://127\\.0\\.0\\.1:${port}.*live in the gateway's memory, so it must be running`))

  const noKey = writeConfig(dir, 'nokey.yaml', `server:\n  port: ${port}\ntags:\n  - name: hook\n    type: log\n`)
  const keyless = await runTagline(t, ['replay', '--config', noKey, '--tag', 'hook'])
  t.equal(keyless.code, 1)
  t.match(keyless.stderr, /auth\.apiKeys is empty/)

  const gw = spawnTagline(t, ['start', '--config', file])
  const base = await gw.url()
  t.equal(base, `http://127.0.0.1:${port}`)
  const res = await request(`${base}/collect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event_name: 'purchase', transaction_id: 'T_CLI_1', value: 9.5, currency: 'EUR', user_data: { email_address: 'jane@example.com' } })
  })
  t.equal(res.status, 202)
  const deadAt = async (tag: string): Promise<number> => {
    const r = await request(`${base}/admin/queues`, { headers: { authorization: `Bearer ${API_KEY}` } })
    return r.json.queues.find((x: any) => x.tag === tag).dead
  }
  await until(async () => await deadAt('hook') === 1 && await deadAt('other') === 1, 10_000, 'the refused purchase dead-lettered at both tags')

  const table = await runTagline(t, ['queues', '--config', file])
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^hook\s+0\s+0\s+0\s+1\s+-$/m, 'the gateway\'s queues, through GET /admin/queues')

  sink.respond = 200
  const dry = await runTagline(t, ['replay', '--config', file, '--tag', 'hook', '--dry-run'])
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /^hook: dry run: 1 dead letter would be replayed; nothing was changed\.$/m)
  t.match(dry.stdout, /^\s+1\s+.*400/m, 'the reason: the destination\'s 400')

  const done = await runTagline(t, ['replay', '--config', file, '--tag', 'hook', '--json'])
  t.equal(done.code, 0, done.stderr)
  t.match(JSON.parse(done.stdout), { tag: 'hook', matched: 1, replayed: 1, dryRun: false })
  await sink.waitFor(() => sink.delivered('/hook').length === 1, 'the replayed purchase delivered')
  t.equal(sink.delivered('/hook')[0].event_id, 'T_CLI_1')
  t.notOk(JSON.stringify(sink.delivered('/hook')).includes('jane@example.com'), 'never raw user data')
  t.equal(await deadAt('other'), 1, 'the other tag keeps its letter')
  t.equal(sink.requests.filter(r => r.path === '/other').length, 1, 'and its destination got nothing more')

  const wrongUrl = await runTagline(t, ['queues', '--config', file, '--url', 'http://127.0.0.1:1'])
  t.equal(wrongUrl.code, 1, '--url replaces the address from the config')
  t.match(wrongUrl.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:1 /)

  gw.signal('SIGTERM')
  t.equal((await gw.exited).code, 0)
})
