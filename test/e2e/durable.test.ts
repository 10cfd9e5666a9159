// Durable delivery on Redis (README "Delivery"; docs/architecture.md "Delivery"): real `tagline
// start` processes sharing a private redis-server, real loopback sinks, SIGKILL and a Redis outage.
// "Acknowledged" = ids a 202 answered; "delivered" = ids the sink answered 2xx. Every replica's
// webhook URL carries ?replica=<name>, so the sink knows which process sent what; the tag name,
// and so the shared queue, is the same everywhere.
import t, { type Test } from 'tap'
import http from 'node:http'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawnTagline, type TaglineProcess } from './fixtures/tagline.js'
import { startSink, type Sink, type SinkRequest, type Responder } from '../fixtures/sink.js'
import { startRedisServer, type RedisServer } from '../fixtures/redis-server.js'
import { request, tempDir } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { hookTag, q, serverBlock, writeConfig } from './fixtures/config.js'
import { browserJson } from './fixtures/events.js'
import { DELIVERY_DEFAULTS } from '../../schemas/defaults.js'

// Up to three gateways per case, ~1 s of CPU each to load, and 2 s claim waits: the whole file is
// about 90 s on a 2-core machine; the bound only turns a hang into a failure.
t.setTimeout(240_000)

const CLAIM_IDLE_MS = 2000
const MAX_EVENTS = 20
/** A slow destination: every batch answered 200 after this long. */
const SINK_DELAY_MS = 150
const slow = (ms: number): Responder => async () => await new Promise(resolve => setTimeout(() => resolve(200), ms))

/** A slow destination that also counts, per replica, the most requests it held at once (for the log). */
function slowCounting (ms: number): { respond: Responder, peak: (replica: string) => number } {
  const now = new Map<string, number>()
  const max = new Map<string, number>()
  const respond: Responder = async r => {
    const who = r.query.get('replica') ?? '?'
    now.set(who, (now.get(who) ?? 0) + 1)
    max.set(who, Math.max(max.get(who) ?? 0, now.get(who) ?? 0))
    await new Promise(resolve => setTimeout(resolve, ms))
    now.set(who, (now.get(who) ?? 1) - 1)
    return 200
  }
  return { respond, peak: who => max.get(who) ?? 0 }
}

interface Replica { name: string, p: TaglineProcess, base: string, spoolFile: string }

/** One gateway on the shared Redis and prefix; its webhook tag(s) post to `sink` with ?replica=<name>. */
async function replica (t: Test, dir: string, name: string, o: { redis: RedisServer, prefix: string, sink: Sink, paths?: string[], shutdownTimeoutMs?: number }): Promise<Replica> {
  const spoolFile = join(dir, `${name}-spool.jsonl`)
  const paths = o.paths ?? ['/hook']
  const file = writeConfig(dir, `${name}.yaml`, [
    serverBlock({ spoolFile, shutdownTimeoutMs: o.shutdownTimeoutMs }),
    'store:',
    `  redis: ${q(o.redis.url)}`,
    `  prefix: ${q(o.prefix)}`,
    'delivery:',
    `  claimIdle: ${CLAIM_IDLE_MS / 1000}s`,
    'tags:',
    // timeoutMs under claimIdle: a live replica's slowest attempt is never taken for a dead one's.
    ...paths.map(path => hookTag(path.slice(1), { url: `${o.sink.origin}${path}?replica=${name}`, maxEvents: MAX_EVENTS, maxWaitMs: 20, timeoutMs: 1500 }))
  ].join('\n'))
  const p = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
  return { name, p, base: await p.url(), spoolFile }
}

const uniquePrefix = (c: string): string => `durable-${c}-${randomUUID().slice(0, 8)}:`

interface Answer { ids: string[], to: string, status: number, json?: any, retryAfter?: string, error?: string, ms: number }

/** POST the ids as one JSON array of browser events; a network error is status 0. */
async function post (target: { base: string, name: string }, ids: string[], timeoutMs = 10_000): Promise<Answer> {
  const started = Date.now()
  const body = JSON.stringify(ids.map(id => JSON.parse(browserJson(id))))
  try {
    const res = await request(target.base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json' }, body, timeoutMs })
    const ra = res.headers['retry-after']
    return { ids, to: target.name, status: res.status, json: res.json, retryAfter: Array.isArray(ra) ? ra[0] : ra, ms: Date.now() - started }
  } catch (err) {
    return { ids, to: target.name, status: 0, error: (err as Error).message, ms: Date.now() - started }
  }
}

const acknowledged = (a: Answer): boolean => (a.status === 202 && a.json?.accepted === a.ids.length) || a.status === 204

/** Run `fn` over the items with `concurrency` of them in flight. */
async function pool<T> (items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++
      await fn(items[i], i)
    }
  }))
}

function chunks (prefix: string, n: number, size: number): string[][] {
  const out: string[][] = []
  for (let i = 0; i < n; i += size) out.push(Array.from({ length: Math.min(size, n - i) }, (_, k) => `${prefix}-${i + k}`))
  return out
}

/** Per id: how many 2xx-answered requests carried it, and from which replicas (optionally only one path). */
function deliveries (sink: Sink, path?: string): Map<string, { count: number, by: Set<string> }> {
  const m = new Map<string, { count: number, by: Set<string> }>()
  for (const r of sink.requests) {
    if (r.status < 200 || r.status >= 300 || (path !== undefined && r.path !== path)) continue
    for (const e of r.json?.events ?? []) {
      const id = String(e.event_id)
      const d = m.get(id) ?? { count: 0, by: new Set<string>() }
      d.count++
      d.by.add(r.query.get('replica') ?? '?')
      m.set(id, d)
    }
  }
  return m
}

const idsIn = (reqs: SinkRequest[]): string[] => reqs.flatMap(r => (r.json?.events ?? []).map((e: any) => String(e.event_id)))

/** The warnings and errors a gateway logged, for failure messages. */
function complaints (r: Replica): string {
  const bad = r.p.lines.filter(l => (l.level ?? 0) >= 40).slice(-15).map(l => JSON.stringify(l))
  return `--- ${r.name} (pid ${r.p.pid}) warnings/errors, last ${bad.length} ---\n${bad.join('\n')}\n--- stderr ---\n${r.p.stderr().slice(-2000)}`
}

/** Wait until every id is delivered; on timeout, fail naming what is missing and what the gateways logged. */
async function allDelivered (t: Test, sink: Sink, ids: Iterable<string>, replicas: Replica[], timeoutMs: number, path?: string): Promise<boolean> {
  const want = [...new Set(ids)]
  const missing = (): string[] => { const d = deliveries(sink, path); return want.filter(id => !d.has(id)) }
  try {
    await until(() => missing().length === 0, timeoutMs, `${want.length} ids delivered${path ?? ''}`)
    t.pass(`all ${want.length} acknowledged ids delivered${path !== undefined ? ` to ${path}` : ''}`)
    return true
  } catch (err) {
    const m = missing()
    t.fail(`${m.length} of ${want.length} acknowledged ids never delivered${path !== undefined ? ` to ${path}` : ''} (e.g. ${m.slice(0, 5).join(', ')}): ${(err as Error).message}\n${replicas.map(complaints).join('\n')}`)
    return false
  }
}

/** `p`, or a rejection naming `what` after `ms` (a wait on the sink has no bound of its own). */
async function within (p: Promise<unknown> | undefined, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms) })
  try { await Promise.race([p, late]) } finally { clearTimeout(timer) }
}

async function exitOf (r: Replica): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  const e = await r.p.closed
  return { code: e.code, signal: e.signal }
}

t.test('a. kill -9 of one of two replicas mid-load, slow destination: every acknowledged id is delivered by the survivor', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  const dest = slowCounting(SINK_DELAY_MS)
  const sink = await startSink(t, dest.respond)
  const prefix = uniquePrefix('a')
  const [A, B] = await Promise.all(['a', 'b'].map(async name => await replica(t, dir, name, { redis, prefix, sink })))

  const N = 5000
  const acked = new Set<string>()
  const answers: Answer[] = []
  let killed = false
  let armed: Promise<void> | undefined
  let inFlightAtKill: string[] = []
  let killedAt = 0
  const fromA = (r: SinkRequest): boolean => r.query.get('replica') === 'a'
  await pool(chunks('a', N, 10), 20, async (ids, i) => {
    let a = await post(!killed && i % 2 === 0 ? A : B, ids)
    answers.push(a)
    // A client whose request failed sends it again, to the replica that is still there.
    if (!acknowledged(a) && a.to === 'a') { a = await post(B, ids); answers.push(a) }
    if (acknowledged(a)) for (const id of ids) acked.add(id)
    // Half-way, A dies at the first moment it has a batch at the destination (checked on every arrival).
    if (armed === undefined && acked.size >= N / 2) {
      armed = sink.waitFor(reqs => reqs.some(r => fromA(r) && r.status === 0), 'a batch of A in flight').then(() => {
        A.p.signal('SIGKILL')
        killed = true
        killedAt = Date.now()
        // Batches A had sent and the sink had not answered: A cannot have settled them.
        inFlightAtKill = idsIn(sink.requests.filter(r => fromA(r) && r.status === 0))
      })
    }
  })
  await within(armed, 30_000, 'A to have a batch in flight after half the load')
  t.same(await exitOf(A), { code: null, signal: 'SIGKILL' }, 'replica A died of SIGKILL mid-load')
  t.same(answers.filter(a => !acknowledged(a) && a.to === 'b').map(a => [a.status, a.error ?? a.json]), [], 'B acknowledged everything sent to it')
  t.equal(acked.size, N, 'every event was acknowledged in the end (by A before the kill, or by B)')
  t.ok(inFlightAtKill.length > 0, `A had events in flight when it was killed (${inFlightAtKill.length})`)

  await allDelivered(t, sink, acked, [B], 60_000)
  const d = deliveries(sink)
  const takenOver = inFlightAtKill.filter(id => d.get(id)?.by.has('b') !== true)
  t.same(takenOver, [], `each of the ${inFlightAtKill.length} events A held in flight at the kill was delivered by B`)
  const firstByB = sink.requests.find(r => r.query.get('replica') === 'b' && r.status >= 200 && r.status < 300 && idsIn([r]).some(id => inFlightAtKill.includes(id)))
  if (firstByB !== undefined) t.comment(`B first re-sent an event A held ${firstByB.at - killedAt} ms after the kill (claimIdle ${CLAIM_IDLE_MS} ms)`)

  const dups = [...d].filter(([, v]) => v.count > 1).map(([id]) => id)
  const aAttempted = new Set(idsIn(sink.requests.filter(r => r.query.get('replica') === 'a')))
  t.comment(`delivered twice or more: ${dups.length} of ${N} (A had ${inFlightAtKill.length} unanswered at the kill); requests in flight at once, at most: A ${dest.peak('a')}, B ${dest.peak('b')}`)
  t.same(dups.filter(id => !aAttempted.has(id)), [], 'a duplicate is only ever an event A had sent before it died')
  const bound = DELIVERY_DEFAULTS.concurrency * MAX_EVENTS
  t.ok(dups.length <= bound, `at most A's in-flight batches are delivered twice: ${dups.length} ≤ ${DELIVERY_DEFAULTS.concurrency} batches × ${MAX_EVENTS}`)
  t.notOk(existsSync(B.spoolFile) || existsSync(A.spoolFile), 'no spool file in Redis mode')
})

/**
 * Fire the chunks at the replica a millisecond apart and SIGKILL it at its first answer: the
 * others are then unread, mid-pipeline, queued in Redis but not yet answered, or answered; only
 * what the client fully received as a 202 counts as acknowledged. (All at once, the gateway
 * stores a whole burst in one script per tag and answers it in one go, before any kill lands.)
 * On a loaded machine the kill can land after every chunk was answered, so one id at a time
 * follows every 3 ms until the replica is gone, and one more after: some requests always find it
 * dying or dead.
 */
async function burstThenKill (r: Replica, all: string[][]): Promise<Answer[]> {
  let killed = false
  let gone = false
  const exited = r.p.closed.then(() => { gone = true })
  const started = Date.now()
  const send = async (ids: string[]): Promise<Answer> => await new Promise<Answer>(resolve => {
    const body = JSON.stringify(ids.map(id => JSON.parse(browserJson(id))))
    const failed = (err: Error): void => resolve({ ids, to: r.name, status: 0, error: err.message, ms: Date.now() - started })
    const req = http.request(r.base + '/collect', { method: 'POST', agent: false, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, res => {
      if (!killed) { killed = true; r.p.signal('SIGKILL') }
      const parts: Buffer[] = []
      res.on('data', (b: Buffer) => parts.push(b))
      res.on('error', failed)
      res.on('close', () => { if (!res.complete) failed(new Error('the answer was cut off')) })
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(Buffer.concat(parts).toString('utf8')) } catch {}
        resolve({ ids, to: r.name, status: res.statusCode ?? 0, json, ms: Date.now() - started })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', failed)
    req.end(body)
  })
  const sent = all.map(async (ids, i) => { await sleep(i); return await send(ids) })
  for (let n = 0; !gone && n < 5000; n++) {
    await sleep(3)
    sent.push(send([`tail-${n}`]))
  }
  await exited
  sent.push(send(['tail-after']))
  return await Promise.all(sent)
}

t.test('b. no stale dedup mark: every id A never answered, re-sent to B, is delivered as B\'s answer says', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  const sink = await startSink(t, slow(SINK_DELAY_MS))
  const prefix = uniquePrefix('b')
  const [A, B] = await Promise.all(['a', 'b'].map(async name => await replica(t, dir, name, { redis, prefix, sink })))

  // A load first, so that A also has batches in flight at the slow destination when it dies.
  const acked = new Set<string>()
  const failed: Answer[] = []
  await pool(chunks('b', 500, 5), 20, async ids => {
    const a = await post(A, ids)
    if (acknowledged(a)) for (const id of ids) acked.add(id)
    else failed.push(a)
  })
  t.same(failed.map(a => [a.status, a.json ?? a.error]), [], 'A acknowledged the first 500')
  const FIXED = 'B-FIXED-1'
  const burst = await burstThenKill(A, [...chunks('burst', 200, 5), [FIXED]])
  const unanswered = new Set<string>()
  for (const a of burst) for (const id of a.ids) (acknowledged(a) ? acked : unanswered).add(id)
  t.same(burst.filter(a => a.status !== 0 && !acknowledged(a)).map(a => [a.status, a.json]), [], 'whatever A answered before it died was a 202')
  t.same(await exitOf(A), { code: null, signal: 'SIGKILL' }, 'A died of SIGKILL at its first answer to the burst')
  t.ok(unanswered.size > 0, `${unanswered.size} ids got no answer from A (${FIXED} among them: ${unanswered.has(FIXED)})`)

  // Every id A did not acknowledge, again, one per request, to B.
  const resent = new Map<string, Answer>()
  await pool([...unanswered], 20, async id => { resent.set(id, await post(B, [id])) })
  const bad = [...resent.values()].filter(a => a.status !== 202 || a.json?.accepted !== 1 || ![0, 1].includes(a.json?.deduplicated))
  t.same(bad.map(a => [a.ids[0], a.status, a.json ?? a.error]), [], 'B answers each 202 {accepted: 1, deduplicated: 0 or 1}')
  const fresh = [...resent].filter(([, a]) => a.json?.deduplicated === 0).map(([id]) => id)
  const marked = [...resent].filter(([, a]) => a.json?.deduplicated === 1).map(([id]) => id)
  t.comment(`of ${unanswered.size} re-sent: ${fresh.length} never queued by A (deduplicated 0), ${marked.length} queued by A before it died (deduplicated 1); ${FIXED}: ${JSON.stringify(resent.get(FIXED)?.json)}`)

  await allDelivered(t, sink, [...acked, ...unanswered], [B], 60_000)
  const d = deliveries(sink)
  const aAttempted = new Set(idsIn(sink.requests.filter(r => r.query.get('replica') === 'a')))
  // deduplicated 0 says A never queued it: then A cannot have sent it, and only B's copy exists.
  t.same(fresh.filter(id => aAttempted.has(id)), [], 'no id B took as new had been queued (and sent) by A: no event without its mark')
  t.same(fresh.filter(id => d.get(id)?.count !== 1), [], 'each id B took as new is delivered exactly once')
  // deduplicated 1 says A queued it: A's entry is delivered, by A before the kill or by B after claimIdle.
  t.same(marked.filter(id => !d.has(id)), [], 'each id B called a repeat is delivered all the same: no mark without its event')
})

t.test('c. two replicas: the same purchase sent to each is delivered once per tag; a load spread over both is all delivered', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  const sink = await startSink(t)
  const prefix = uniquePrefix('c')
  const paths = ['/one', '/two']
  const [A, B] = await Promise.all(['a', 'b'].map(async name => await replica(t, dir, name, { redis, prefix, sink, paths })))

  const purchase = JSON.stringify({ event_name: 'purchase', event_id: 'P-1', transaction_id: 'P-1', currency: 'USD', value: 72.05, page_location: 'https://shop.example/thanks' })
  const send = async (r: Replica): Promise<any> => await request(r.base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json' }, body: purchase })
  const [pa, pb] = await Promise.all([send(A), send(B)])
  t.same([pa.status, pb.status], [202, 202], 'both replicas accept the purchase')
  t.comment(`answers: A ${JSON.stringify(pa.json)}, B ${JSON.stringify(pb.json)}`)

  const N = 1000
  const acked = new Set<string>()
  const failed: Answer[] = []
  await pool(chunks('c', N, 10), 20, async (ids, i) => {
    const a = await post(i % 2 === 0 ? A : B, ids)
    if (acknowledged(a)) for (const id of ids) acked.add(id)
    else failed.push(a)
  })
  t.same(failed.map(a => [a.to, a.status, a.json ?? a.error]), [], 'every request of the load is acknowledged')
  for (const path of paths) await allDelivered(t, sink, [...acked, 'P-1'], [A, B], 30_000, path)
  for (const path of paths) {
    const d = deliveries(sink, path)
    t.equal(d.get('P-1')?.count, 1, `${path}: the purchase delivered once`)
    t.same([...d].filter(([, v]) => v.count > 1).map(([id]) => id), [], `${path}: no event delivered twice`)
    t.equal(d.size, N + 1, `${path}: exactly the ${N} events and the purchase`)
  }
})

t.test('d. restart: a gateway killed with events waiting; the next one on the same Redis delivers every acknowledged id', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  // Slower than the others: the 1,000 are acknowledged long before they can all be delivered.
  const dest = slowCounting(2 * SINK_DELAY_MS)
  const sink = await startSink(t, dest.respond)
  const prefix = uniquePrefix('d')
  const first = await replica(t, dir, 'first', { redis, prefix, sink })

  const N = 1000
  const acked = new Set<string>()
  const failed: Answer[] = []
  await pool(chunks('d', N, 10), 20, async ids => {
    const a = await post(first, ids)
    if (acknowledged(a)) for (const id of ids) acked.add(id)
    else failed.push(a)
  })
  t.same(failed.map(a => [a.status, a.json ?? a.error]), [], `all ${N} acknowledged`)
  await within(sink.waitFor(reqs => reqs.some(r => r.status === 0), 'a batch in flight'), 10_000, 'a batch in flight')
  first.p.signal('SIGKILL')
  const inFlightAtKill = idsIn(sink.requests.filter(r => r.status === 0))
  t.same(await exitOf(first), { code: null, signal: 'SIGKILL' }, 'the first gateway died of SIGKILL')
  const deliveredAtKill = deliveries(sink).size
  t.ok(deliveredAtKill < N, `the kill left events undelivered (${N - deliveredAtKill} of ${N}, ${inFlightAtKill.length} in flight)`)

  const second = await replica(t, dir, 'second', { redis, prefix, sink })
  await allDelivered(t, sink, acked, [second], 60_000)
  const d = deliveries(sink)
  t.same(inFlightAtKill.filter(id => d.get(id)?.by.has('second') !== true), [], 'what the first held in flight was taken over and delivered by the second')
  const dups = [...d].filter(([, v]) => v.count > 1).length
  t.comment(`delivered twice or more: ${dups}; requests in flight at once, at most: first ${dest.peak('first')}, second ${dest.peak('second')}`)
  t.ok(dups <= DELIVERY_DEFAULTS.concurrency * MAX_EVENTS, `duplicates (${dups}) are at most the first's in-flight batches`)
})

t.test('e. Redis stopped for 5 s and started again mid-load: the local buffer keeps answering 202 (503 + Retry-After past it), /readyz stays 200, every acknowledged id delivered', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  const sink = await startSink(t, slow(100))
  const prefix = uniquePrefix('e')
  const gw = await replica(t, dir, 'gw', { redis, prefix, sink })

  const acked = new Set<string>()
  const answers: Answer[] = []
  let sending = true
  let n = 0
  // Four clients, five events a request, a short pause between requests: the load runs throughout.
  const clients = Array.from({ length: 4 }, async () => {
    while (sending) {
      const ids = Array.from({ length: 5 }, () => `e-${n++}`)
      const a = await post(gw, ids, 8000)
      answers.push(a)
      if (acknowledged(a)) for (const id of ids) acked.add(id)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })
  const readyz: Array<{ status: number, json: any, error?: string }> = []
  try {
    await until(() => acked.size >= 300, 20_000, '300 events acknowledged before the outage')
    const before = answers.length
    await redis.stop()
    const stoppedAt = Date.now()
    // The outage lasts 5 s: /readyz asked throughout.
    while (Date.now() - stoppedAt < 5000) {
      try {
        const r = await request(gw.base + '/readyz', { timeoutMs: 3000 })
        readyz.push({ status: r.status, json: r.json })
      } catch (err) {
        readyz.push({ status: 0, json: undefined, error: (err as Error).message })
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const during = answers.slice(before)
    await redis.start()
    const ackedAtRestart = acked.size
    await until(() => acked.size >= ackedAtRestart + 300, 30_000, '300 more events acknowledged after Redis came back')
    // delivery.localBuffer (10 000 per tag) holds the whole outage's load: every answer is a 202.
    t.ok(during.length > 0 && during.every(a => a.status === 202), `the edge kept accepting during the outage (${during.filter(a => a.status === 202).length} of ${during.length} answers 202)`)
    t.ok(gw.p.lines.some(l => /Redis unreachable: events kept in this process/.test(String(l.msg))), 'and logged that it keeps events in this process')
  } finally {
    sending = false
    await Promise.all(clients)
  }

  const byStatus: Record<string, number> = {}
  for (const a of answers) {
    const k = a.error !== undefined ? `error: ${a.error}` : String(a.status)
    byStatus[k] = (byStatus[k] ?? 0) + 1
  }
  t.comment(`answers: ${JSON.stringify(byStatus)}; slowest ${Math.max(...answers.map(a => a.ms))} ms`)
  t.same(answers.filter(a => a.status !== 202 && a.status !== 503).map(a => [a.status, a.error ?? a.json]), [], 'no answer but 202 or 503 (no 500, no dropped connection, no timeout)')
  t.same(answers.filter(a => a.status === 503 && (typeof a.json?.error !== 'string' || !/^\d+$/.test(a.retryAfter ?? ''))).map(a => [a.json, a.retryAfter]),
    [], 'each 503 carries a JSON error code and a Retry-After in seconds')
  t.comment(`503 error codes: ${JSON.stringify([...new Set(answers.filter(a => a.status === 503).map(a => a.json?.error))])}`)
  t.ok(answers.every(a => a.ms < 5000), 'no request hung (each answered within 5 s)')
  t.ok(readyz.length > 0, `/readyz asked ${readyz.length} times during the outage`)
  t.same(readyz.filter(r => r.status !== 200 || r.json?.status !== 'ready' || r.json?.store !== 'redis'), [], '/readyz answered 200 {status: ready, store: redis} throughout the outage')
  t.ok(readyz.some(r => r.json?.storeReachable === false), '/readyz said storeReachable: false while Redis was down')
  const after = await request(gw.base + '/readyz')
  t.match(after.json, { status: 'ready', store: 'redis' }, '/readyz after the outage')

  await allDelivered(t, sink, acked, [gw], 60_000)
  t.notOk(existsSync(gw.spoolFile), 'no spool file')
})

t.test('f. SIGTERM in Redis mode: exit 0, no spool file; the next gateway delivers what was waiting', async t => {
  const dir = tempDir(t)
  const redis = await startRedisServer(t)
  const sink = await startSink(t, 'hang')
  const prefix = uniquePrefix('f')
  const first = await replica(t, dir, 'first', { redis, prefix, sink, shutdownTimeoutMs: 1000 })

  const N = 200
  const acked = new Set<string>()
  const failed: Answer[] = []
  await pool(chunks('f', N, 10), 5, async ids => {
    const a = await post(first, ids)
    if (acknowledged(a)) for (const id of ids) acked.add(id)
    else failed.push(a)
  })
  t.same(failed.map(a => [a.status, a.json ?? a.error]), [], `all ${N} acknowledged`)
  await within(sink.arrived(1), 10_000, 'a batch in flight at the hanging sink')
  first.p.signal('SIGTERM')
  t.same(await exitOf(first), { code: 0, signal: null }, 'SIGTERM: exit 0')
  const stopped = first.p.lines.find(l => l.msg === 'tagline stopped')
  t.ok(stopped, `the stop is logged: ${JSON.stringify(stopped)}`)
  if (stopped?.spooled !== undefined) t.equal(stopped.spooled, 0, 'nothing spooled')
  t.notOk(existsSync(first.spoolFile), 'no spool file')
  t.equal(deliveries(sink).size, 0, 'nothing was delivered: the sink never answered')

  sink.respond = 200
  const second = await replica(t, dir, 'second', { redis, prefix, sink })
  await allDelivered(t, sink, acked, [first, second], 60_000)
  const d = deliveries(sink)
  t.same([...acked].filter(id => d.get(id)?.by.has('second') !== true), [], 'every event delivered by the second gateway')
  t.notOk(existsSync(second.spoolFile), 'still no spool file')
})
