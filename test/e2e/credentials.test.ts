// Refused credentials end to end (issue 8, "durable delivery"), in embedded mode and in Redis mode
// (a private redis-server): a real `tagline start` with a Meta CAPI tag whose token the loopback
// Graph API refuses with Meta's OAuth error envelope (code 190, subcode 463: "Error validating
// access token"; https://developers.facebook.com/docs/graph-api/guides/error-handling), beside a
// webhook tag that always answers 200. The Meta tag pauses at once and keeps its events: no attempt
// spent, nothing dead-lettered, the other tag untouched. A config file with the good token and a
// SIGHUP resume it: every purchase then reaches Meta once.
// Embedded mode's Graph stand-in answers HTTP 400, Redis mode's HTTP 401: Meta sends both for an
// OAuthException, and the tag must go by the body's code either way.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { spawnTagline, runTagline, type TaglineProcess } from './fixtures/tagline.js'
import { startSink, type Sink, type SinkRequest, type Reply } from '../fixtures/sink.js'
import { startRedisServer } from '../fixtures/redis-server.js'
import { request, tempDir } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { hookTag, q, serverBlock, writeConfig } from './fixtures/config.js'
import { metaReply } from './fixtures/platforms.js'
import { CHROME_UA } from './fixtures/events.js'

// One gateway per mode (~1-2 s of CPU to load) plus a `tagline queues` run each: about 15 s on a
// 2-core machine; the bound only turns a hang into a failure.
t.setTimeout(120_000)

const MODES = ['embedded', 'redis'] as const
type Mode = typeof MODES[number]

const N = 40
const PIXEL = '1234567890123'
const BAD_TOKEN = 'EAAGbadTokenExpired9Qx7Lk2'
const GOOD_TOKEN = 'EAAGgoodTokenFresh4Zr8Wm1'
const API_KEY = 'e2e-credentials-key-5c1e'

/** The token a request carries: Meta takes it from the body or the query string. */
function tokenOf (r: SinkRequest): string | undefined {
  return r.query.get('access_token') ?? (typeof r.json?.access_token === 'string' ? r.json.access_token : undefined)
}

/** Meta's answer to a request whose access token does not validate. */
const oauthRefusal = (status: number): Reply => ({
  status,
  headers: { 'www-authenticate': 'OAuth "Facebook Platform" "invalid_token" "Error validating access token"' },
  body: JSON.stringify({ error: { message: 'Error validating access token', type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: 'x' } })
})

function config (dir: string, o: { token: string, meta: Sink, hook: Sink, store: string[] }): string {
  return [
    serverBlock({ spoolFile: join(dir, 'spool.jsonl') }),
    'auth:',
    `  apiKeys: [${q(API_KEY)}]`,
    ...o.store,
    'tags:',
    '  - name: meta',
    '    type: meta',
    `    endpoint: ${q(`${o.meta.origin}/v25.0/${PIXEL}/events`)}`,
    `    pixelId: ${q(PIXEL)}`,
    `    accessToken: ${q(o.token)}`,
    '    batch: { maxEvents: 10, maxWaitMs: 20 }',
    '    retry: { initialDelayMs: 100, maxDelayMs: 400 }',
    '    timeoutMs: 5000',
    hookTag('hook', { url: o.hook.url, maxEvents: 10, maxWaitMs: 20 })
  ].join('\n')
}

/** A browser's purchase: Meta needs its user agent (a header) and page URL, and a value with a currency. */
const purchase = (id: string, i: number): object =>
  ({ event_name: 'purchase', event_id: id, transaction_id: id, currency: 'USD', value: 10 + i, page_location: 'https://shop.example/thanks' })

async function post (base: string, ids: string[]): Promise<boolean> {
  const body = JSON.stringify(ids.map((id, i) => purchase(id, i)))
  try {
    const res = await request(base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA }, body, timeoutMs: 10_000 })
    return res.status === 202 && res.json?.accepted === ids.length
  } catch {
    return false
  }
}

/** Per id, how many 2xx-answered requests carried it: Meta's `data`, the webhook's `events`. */
function deliveredCounts (sink: Sink): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of sink.requests) {
    if (r.status < 200 || r.status >= 300) continue
    for (const e of r.json?.data ?? r.json?.events ?? []) m.set(String(e.event_id), (m.get(String(e.event_id)) ?? 0) + 1)
  }
  return m
}

async function metricsText (base: string): Promise<string> {
  return (await request(`${base}/metrics`)).body
}

/** tagline_tag_paused{tag,reason} (undefined when absent). */
function pausedGauge (text: string, tag: string, reason: string): number | undefined {
  for (const line of text.split('\n')) {
    const m = line.match(/^tagline_tag_paused\{([^}]*)\} (\S+)$/)
    if (m !== null && m[1].includes(`tag="${tag}"`) && m[1].includes(`reason="${reason}"`)) return Number(m[2])
  }
  return undefined
}

/** tagline_tag_events_total{tag,outcome} (0 when absent). */
function outcome (text: string, tag: string, what: string): number {
  for (const line of text.split('\n')) {
    const m = line.match(/^tagline_tag_events_total\{([^}]*)\} (\S+)$/)
    if (m !== null && m[1].includes(`tag="${tag}"`) && m[1].includes(`outcome="${what}"`)) return Number(m[2])
  }
  return 0
}

function complaints (p: TaglineProcess): string {
  return p.lines.filter(l => (l.level ?? 0) >= 40).slice(-15).map(l => JSON.stringify(l)).join('\n') + `\n--- stderr ---\n${p.stderr().slice(-2000)}`
}

async function gatewayStore (t: Test, mode: Mode): Promise<string[]> {
  if (mode === 'embedded') return []
  const server = await startRedisServer(t)
  return ['store:', `  redis: ${q(server.url)}`, `  prefix: ${q(`credentials-${randomUUID().slice(0, 8)}:`)}`]
}

for (const mode of MODES) {
  const status = mode === 'embedded' ? 400 : 401
  t.test(`${mode}: Meta refuses the token (HTTP ${status}, OAuthException 190/463): the tag pauses and keeps every purchase, the webhook gets all; the good token and SIGHUP deliver each once`, async t => {
    const dir = tempDir(t)
    const metaSink = await startSink(t, r => tokenOf(r) === GOOD_TOKEN ? metaReply(PIXEL, () => false)(r) : oauthRefusal(status))
    const hookSink = await startSink(t)
    const store = await gatewayStore(t, mode)
    const file = writeConfig(dir, 'tagline.yaml', config(dir, { token: BAD_TOKEN, meta: metaSink, hook: hookSink, store }))
    const p = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    const base = await p.url()

    const ids = Array.from({ length: N }, (_, i) => `${mode}-cred-${i}`)
    const failed: string[][] = []
    for (let i = 0; i < N; i += 10) {
      const chunk = ids.slice(i, i + 10)
      if (!await post(base, chunk)) failed.push(chunk)
    }
    t.same(failed, [], `all ${N} purchases acknowledged`)

    // The other tag is not held up by the paused one.
    try {
      await until(() => { const d = deliveredCounts(hookSink); return ids.every(id => d.has(id)) }, 20_000, 'the webhook tag to receive every purchase')
      t.pass(`the webhook tag received all ${N}`)
    } catch (err) {
      t.fail(`${(err as Error).message}: ${ids.filter(id => !deliveredCounts(hookSink).has(id)).length} missing\n${complaints(p)}`)
    }
    t.same([...deliveredCounts(hookSink).values()].filter(c => c !== 1), [], 'each once')

    await until(async () => pausedGauge(await metricsText(base), 'meta', 'credentials') === 1, 20_000, 'tagline_tag_paused{tag="meta",reason="credentials"} 1')
      .then(() => t.pass('/metrics: tagline_tag_paused{tag="meta",reason="credentials"} 1'), async err => t.fail(`${(err as Error).message}\n${complaints(p)}`))
    const paused = await metricsText(base)
    t.equal(pausedGauge(paused, 'meta', 'failing'), 0, '/metrics: not paused for failing')
    t.equal(pausedGauge(paused, 'hook', 'credentials') ?? 0, 0, '/metrics: the webhook tag is not paused')
    t.equal(outcome(paused, 'meta', 'sent'), 0, '/metrics: Meta was sent nothing')
    for (const what of ['retried', 'dead_lettered', 'dropped', 'split']) t.equal(outcome(paused, 'meta', what), 0, `/metrics: tagline_tag_events_total{tag="meta",outcome="${what}"} 0`)

    const refusals = metaSink.requests
    t.ok(refusals.length > 0 && refusals.every(r => r.status === status && tokenOf(r) === BAD_TOKEN), `Meta refused every request, each with the bad token (${refusals.length} requests)`)
    t.comment(`refused requests while paused: ${refusals.length} (the batches in flight when the first refusal came back, then one probe per cooldown); ${refusals.reduce((n, r) => n + (r.json?.data?.length ?? 0), 0)} events in them`)

    const line = await p.waitLog(l => typeof l.msg === 'string' && l.msg.startsWith('the destination refused the credentials: tag paused'), 5000, 'the credentials error')
    t.match(line, { level: 50, tag: 'meta', reason: /Meta error 190\/463 \(OAuthException\): Error validating access token/ }, 'an error line naming the tag and Meta\'s reason')
    t.comment(`logged: ${JSON.stringify(line)}`)

    // tagline queues, as an operator would run it: Redis mode reads Redis, embedded asks the gateway.
    const queues = await runTagline(t, ['queues', '--config', file, '--json', ...(mode === 'embedded' ? ['--url', base] : [])])
    t.equal(queues.code, 0, `tagline queues exits 0 ${queues.stderr}`)
    let stats: Array<{ tag: string, waiting: number, inFlight: number, scheduled: number, dead: number }> = []
    try { stats = JSON.parse(queues.stdout).queues } catch { t.fail(`tagline queues --json printed no JSON: ${queues.stdout}`) }
    const metaStats = stats.find(s => s.tag === 'meta')
    t.equal(metaStats?.dead, 0, `tagline queues: no dead letters for meta (${JSON.stringify(metaStats)})`)
    t.equal(metaStats === undefined ? undefined : metaStats.waiting + metaStats.inFlight + metaStats.scheduled, N, `tagline queues: meta holds all ${N} purchases`)
    t.match(stats.find(s => s.tag === 'hook'), { waiting: 0, inFlight: 0, scheduled: 0, dead: 0 }, 'tagline queues: the webhook tag is empty')

    // The operator fixes the token and reloads.
    writeConfig(dir, 'tagline.yaml', config(dir, { token: GOOD_TOKEN, meta: metaSink, hook: hookSink, store }))
    const reloadsBefore = p.lines.filter(l => l.msg === 'config reloaded').length
    const refusedBefore = metaSink.requests.length
    p.signal('SIGHUP')
    await until(() => p.lines.filter(l => l.msg === 'config reloaded').length > reloadsBefore, 10_000, 'the config reloaded')
      .catch(err => t.fail(`${(err as Error).message}\n${complaints(p)}`))

    try {
      await until(() => { const d = deliveredCounts(metaSink); return ids.every(id => d.has(id)) }, 30_000, 'Meta to receive every purchase')
      t.pass(`Meta received all ${N} purchases after the reload`)
    } catch (err) {
      t.fail(`${(err as Error).message}: ${ids.filter(id => !deliveredCounts(metaSink).has(id)).length} missing\n${complaints(p)}`)
    }
    const d = deliveredCounts(metaSink)
    t.same(ids.filter(id => d.get(id) !== 1), [], 'each purchase reached Meta once')
    t.same([...d.keys()].filter(id => !ids.includes(id)), [], 'and nothing else')
    t.ok(metaSink.requests.filter(r => r.status >= 200 && r.status < 300).every(r => tokenOf(r) === GOOD_TOKEN && r.query.get('access_token') === null), 'with the good token, in the body (never the URL)')
    const lateRefusals = metaSink.requests.slice(refusedBefore).filter(r => r.status === status)
    t.comment(`refused after the SIGHUP (a probe already in flight with the old token): ${lateRefusals.length}`)
    const delivered = metaSink.requests.filter(r => r.status >= 200 && r.status < 300)
    t.same(delivered.map(r => r.json?.data?.map((e: any) => e.event_name)).flat().filter(n => n !== 'Purchase'), [], 'as Purchase events')

    await until(async () => pausedGauge(await metricsText(base), 'meta', 'credentials') === 0, 10_000, 'the paused gauge back to 0')
      .then(() => t.pass('/metrics: tagline_tag_paused{tag="meta",reason="credentials"} 0'), async err => t.fail(`${(err as Error).message}\n${complaints(p)}`))
    const after = await metricsText(base)
    t.equal(outcome(after, 'meta', 'sent'), N, `/metrics: meta sent ${N}`)
    t.equal(outcome(after, 'meta', 'retried'), 0, '/metrics: still no retry spent on meta')
    t.equal(outcome(after, 'meta', 'dead_lettered') + outcome(after, 'meta', 'dropped'), 0, '/metrics: nothing dead-lettered or dropped')
    const resumed = await p.waitLog(l => l.msg === 'tag resumed' && l.tag === 'meta', 5000, 'tag resumed').catch(() => undefined)
    t.ok(resumed, `"tag resumed" logged for meta: ${JSON.stringify(resumed)}`)

    const admin = await request(`${base}/admin/queues`, { headers: { authorization: `Bearer ${API_KEY}` } })
    t.equal(admin.status, 200, 'GET /admin/queues')
    t.match(admin.json?.queues?.find((s: any) => s.tag === 'meta'), { waiting: 0, inFlight: 0, scheduled: 0, dead: 0 }, 'GET /admin/queues: meta empty, no dead letters')

    const log = p.stdout() + p.stderr()
    t.notOk(log.includes(BAD_TOKEN), 'the refused token is never logged')
    t.notOk(log.includes(GOOD_TOKEN), 'nor the good one')
  })
}
