// `npm run bench -- --redis` (also `npm run bench:redis`, or BENCH_MODE=redis): Redis mode (issue 8),
// every figure beside its baseline from the same run, on the local Redis under a unique key prefix
// that is deleted at the end (also on failure and Ctrl-C).
//
//   A. Ingest. An embedded gateway and a Redis-mode gateway run side by side, both sending to the
//      checking sink (bench/sink.ts). They take the same loads in turn (E R R E …): GA4 hits at
//      saturation, JSON purchases, GA4 hits at a fixed rate below saturation. req/s, p50/p99, CPU
//      per request, Redis commands per request, and the ratio Redis ÷ embedded (the bar: ≥ 0.8).
//      Every run must deliver exactly what it accepted, as in `npm run bench`.
//   C. Idle. Right after, with every queue empty: the CPU of both gateways and of Redis over
//      BENCH_IDLE seconds, in ms of CPU per second.
//   B. Drain. A gateway whose destination never answers stores BENCH_REDIS_PRELOAD GA4 hits (five
//      tag copies each) in its streams and is killed; the streams, reset to "never read", are the
//      template. Each drain run copies them under a fresh prefix and starts one or two replicas
//      against the fast sink (bench/cpu-sink.ts), which holds their first requests until every
//      replica is up, then lets go: delivered events/s = copies ÷ (last request − release).
//      Runs in the order BENCH_REDIS_DRAINS (1,2,2,1).
//   D. Memory. Two gateways whose destination refuses connections (retries an hour away; after five
//      failures in a row each tag's breaker pauses it, so what it took sits in its retry set and
//      the rest waits in its stream), one with dedup off and one with dedup on. Each takes
//      BENCH_REDIS_EVENTS page views, then as many purchases (in arrays of 50), in turn;
//      INFO used_memory before and after each, ÷ events. The difference between the two gateways
//      on the same input is what the dedup marks cost.
//
// Environment (besides BENCH_DURATION, BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_JSON_DURATION,
// BENCH_RATE_CONNECTIONS, BENCH_TAGS, BENCH_CPU_PROF of `npm run bench`): BENCH_REDIS_URL
// (redis://127.0.0.1:6379), BENCH_REDIS_ROUNDS (2: E R R E), BENCH_REDIS_RATE (1000),
// BENCH_IDLE (20), BENCH_REDIS_PRELOAD (10000), BENCH_REDIS_DRAINS (1,2,2,1),
// BENCH_REDIS_EVENTS (5000), BENCH_STRICT=1 (exit 1 when the 0.8 bar is missed).
//
// --pin (or BENCH_PIN=1), Linux with two or more CPUs: A and C run with each gateway under test
// pinned to CPU 0 and everything else (this process, which is the load generator, the sink, and a
// private redis-server started for the run on a free port) on CPU 1, so each gateway has one whole
// core in both modes and Redis's own CPU is not taken from it: a gateway's ingest per core, as in
// a deployment where Redis runs on another machine. B and D run unpinned on the private Redis.
import { Redis } from 'ioredis'
import { fork, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DELIVERY_DEFAULTS } from '../schemas/defaults.js'
import { BROWSER_HEADERS, EXPECTED, GTAG_QUERY, PAGE_VIEW_QUERY, PURCHASE_BODY } from './inputs.js'
import {
  BATCH, CONNECTIONS, DURATION, HERE, JSON_DURATION, RATE_CONNECTIONS, STRICT, TAGS, WARMUP, workDir, profDir, CPU_PROF,
  ask, canPin, cpuMeter, envInt, cpuSeconds, deliveryFailures, figures, fmt, forkHelper, freePort, gatewayCode, gatewayConfig, gitCommit, gitDirty,
  load, loadFailures, onCleanup, pad, pinProcess, round2, scrape, settleAndReset, startGatewayProcess, stopChild, sumOf, track, waitForDelivery,
  type Child, type Counters, type CpuShare, type DeliveryFigures, type GatewayOptions, type LoadFigures, type LoadSpec, type SinkStats
} from './harness.js'

let REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PIN = process.argv.includes('--pin') || process.env.BENCH_PIN === '1'
const ROUNDS = envInt('BENCH_REDIS_ROUNDS', 2)
/** Rounds of each load with both gateways loaded at the same time (A2); 0: none. */
const SIDE_ROUNDS = envInt('BENCH_REDIS_SIDE', 3, 0)
const FIXED_RATE = envInt('BENCH_REDIS_RATE', 1000)
const IDLE_S = envInt('BENCH_IDLE', 20)
const PRELOAD = envInt('BENCH_REDIS_PRELOAD', 10_000)
const DRAINS = (process.env.BENCH_REDIS_DRAINS ?? '1,2,2,1').split(',').map(s => Number(s.trim()))
const MEMORY_EVENTS = envInt('BENCH_REDIS_EVENTS', 5_000)
const PURCHASES_PER_REQUEST = 50 // 50 purchases of 1,067 bytes stay under the default 64 KB bodyLimit
const TARGET_RATIO = 0.8
/** Every key of this run starts with it; all are deleted at the end. */
const PREFIX = `tagline-bench:${process.pid}-${randomBytes(3).toString('hex')}:`

if (DRAINS.some(n => n !== 1 && n !== 2)) throw new Error(`BENCH_REDIS_DRAINS must list 1s and 2s (replicas per run), not "${process.env.BENCH_REDIS_DRAINS ?? ''}"`)

// ---------------------------------------------------------------------------------------------
// Redis, seen from the bench (its own connection).

const adminOf = (url: string): Redis => {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  r.on('error', () => { /* surfaced through the failed command */ })
  return r
}
let admin = adminOf(REDIS_URL)

/** --pin: a redis-server of the run's own on CPU 1 (no persistence), stopped at the end. */
async function startPinnedRedis (): Promise<string> {
  const port = await freePort()
  const proc = spawn('taskset', ['-c', '1', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', workDir], { stdio: 'ignore' })
  process.on('exit', () => proc.kill('SIGKILL'))
  onCleanup(async () => { proc.kill('SIGTERM') })
  const url = `redis://127.0.0.1:${port}`
  // A PING per try: connect() refuses a second call while the client is already reconnecting,
  // so a server not yet listening at the first try would never be seen ready.
  const probe = adminOf(url)
  await until('the pinned redis-server', 10_000, async () => await probe.ping().then(() => true, () => false), 100)
  probe.disconnect()
  return url
}

async function info (section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const line of (await admin.info(section)).split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

async function usedMemory (): Promise<number> { return Number((await info('memory')).used_memory) }

/** Calls and µs per command since Redis started (commands run by scripts are counted too). */
async function commandStats (): Promise<Map<string, { calls: number, usec: number }>> {
  const out = new Map<string, { calls: number, usec: number }>()
  for (const [k, v] of Object.entries(await info('commandstats'))) {
    if (!k.startsWith('cmdstat_')) continue
    out.set(k.slice('cmdstat_'.length), { calls: Number(/calls=(\d+)/.exec(v)?.[1] ?? 0), usec: Number(/usec=(\d+)/.exec(v)?.[1] ?? 0) })
  }
  return out
}

/** The Redis server's pid when it runs on this machine (for its CPU from /proc). */
async function localRedisPid (): Promise<number | undefined> {
  const host = new URL(REDIS_URL).hostname
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) return undefined
  const pid = Number((await info('server')).process_id)
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').includes('redis') ? pid : undefined
  } catch { return undefined }
}

async function keysUnder (prefix: string, match = '*'): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', prefix.replace(/[*?[\]\\]/g, c => `\\${c}`) + match, 'COUNT', 2000)
    cursor = next
    out.push(...keys)
  } while (cursor !== '0')
  return out
}

async function deleteUnder (prefix: string): Promise<number> {
  const keys = await keysUnder(prefix)
  for (let i = 0; i < keys.length; i += 1000) await admin.unlink(...keys.slice(i, i + 1000))
  return keys.length
}

const qKey = (prefix: string, tag: string, part: 'q' | 'retrying' | 'retry' | 'counts'): string => `${prefix}{${tag}}:${part}`

interface QueueState { q: number, retrying: number, scheduled: number }
/** Per tag, in events: in the stream (waiting + in flight), in retry batches being taken, in the retry set. */
async function queueState (prefix: string): Promise<Record<string, QueueState>> {
  const p = admin.pipeline()
  for (const t of TAGS) {
    p.xlen(qKey(prefix, t, 'q'))
    p.hmget(qKey(prefix, t, 'counts'), 'retrying', 'scheduled')
  }
  const res = (await p.exec()) ?? []
  const out: Record<string, QueueState> = {}
  TAGS.forEach((t, i) => {
    const [retrying, scheduled] = (res[i * 2 + 1]?.[1] ?? []) as Array<string | null>
    out[t] = { q: Number(res[i * 2]?.[1] ?? 0), retrying: Number(retrying ?? 0), scheduled: Number(scheduled ?? 0) }
  })
  return out
}
const stored = (s: QueueState): number => s.q + s.retrying + s.scheduled
const total = (s: Record<string, QueueState>, f: keyof QueueState): number => Object.values(s).reduce((n, x) => n + x[f], 0)

interface KeyBytes { perTag: Record<string, number>, marks: number, markCount: number, bytesPerMark: number, markTtlH?: number, records: number, bytesPerRecord: number }
/**
 * MEMORY USAGE (every element counted) of each tag's queue keys; of a sample of the dedup marks ×
 * their number; and the stitching contexts the gateway keeps beside them (`rec:ctx:…`, counted
 * and sampled the same way).
 */
async function keyBytes (prefix: string, marks: boolean): Promise<KeyBytes> {
  const perTag: Record<string, number> = {}
  for (const t of TAGS) {
    let n = 0
    for (const part of ['q', 'retrying', 'retry', 'counts'] as const) n += Number(await admin.call('MEMORY', 'USAGE', qKey(prefix, t, part), 'SAMPLES', '0') ?? 0)
    perTag[t] = n
  }
  const sampled = async (keys: string[]): Promise<number> => {
    const sample = keys.slice(0, 1000)
    let n = 0
    for (const k of sample) n += Number(await admin.call('MEMORY', 'USAGE', k) ?? 0)
    return sample.length > 0 ? n / sample.length : 0
  }
  const recs = await keysUnder(prefix, 'rec:*')
  const bytesPerRecord = await sampled(recs)
  const out: KeyBytes = { perTag, marks: 0, markCount: 0, bytesPerMark: 0, records: recs.length, bytesPerRecord: Math.round(bytesPerRecord) }
  if (!marks) return out
  const keys = await keysUnder(prefix, '{*}:seen:*')
  const bytesPerMark = await sampled(keys)
  const ttl = keys.length > 0 ? Number(await admin.pttl(keys[0])) : -1
  return { ...out, marks: Math.round(bytesPerMark * keys.length), markCount: keys.length, bytesPerMark: Math.round(bytesPerMark), ...(ttl > 0 ? { markTtlH: round2(ttl / 3_600_000) } : {}) }
}

// ---------------------------------------------------------------------------------------------
// Gateways and sinks.

interface Gw { name: string, child: Child, port: number, url: string, prefix?: string }

async function startGw (name: string, opts: Omit<GatewayOptions, 'name'>, cpus?: string): Promise<Gw> {
  const file = join(workDir, `${name}.yaml`)
  writeFileSync(file, gatewayConfig({ ...opts, name }))
  const port = await freePort()
  const child = await startGatewayProcess(file, port, name, cpus)
  return { name, child, port, url: `http://127.0.0.1:${port}`, prefix: opts.redis?.prefix }
}

/** bench/cpu-sink.ts: answers everything at once (or holds it), counts requests, parses nothing. */
async function forkFastSink (): Promise<{ child: Child, port: number }> {
  const proc = fork(join(HERE, 'cpu-sink.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  const child = track('fast-sink', proc)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fast sink did not start within 20 s')), 20_000)
    proc.once('message', m => { clearTimeout(timer); resolve(m as number) })
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`the fast sink exited (${String(code)}) before listening`)) })
  })
  return { child, port }
}
interface FastSinkStats { requests: number, firstMs: number, lastMs: number, held: number }

async function until (what: string, timeoutMs: number, check: () => Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await sleep(everyMs)
  }
}

const pidOf = (c: Child): number | undefined => c.proc.pid

/** Redis's CPU (ms per second, when local) and commands per second (all clients) over `seconds`. */
async function redisLoad (seconds: number, pid?: number): Promise<{ cpuMsPerS: number | null, commandsPerS: number }> {
  pid ??= await localRedisPid()
  const cmds0 = Number((await info('stats')).total_commands_processed)
  const cpu0 = cpuSeconds(pid)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const wall = (performance.now() - t0) / 1000
  const cpu1 = cpuSeconds(pid)
  const cmds1 = Number((await info('stats')).total_commands_processed)
  return { cpuMsPerS: cpu0 === undefined || cpu1 === undefined ? null : round2((cpu1 - cpu0) * 1000 / wall), commandsPerS: Math.round((cmds1 - cmds0 - 1) / wall) }
}

// ---------------------------------------------------------------------------------------------
// A. Ingest.

type Mode = 'embedded' | 'redis'
interface RunSpec { label: string, path: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string, duration: number, rate?: number, connections?: number, client: 'gtag' | 'json' }
interface IngestRun {
  mode: Mode
  load: string
  figures: LoadFigures
  /** Gateway CPU µs per request (its CPU % ÷ req/s). */
  gatewayUsPerRequest: number | null
  redisUsPerRequest: number | null
  /** Redis mode: calls per request of the commands Redis ran during the load (scripts and what they call), all clients. */
  redisCallsPerRequest?: Record<string, number>
  delivery: DeliveryFigures
  sink: SinkStats
}

async function ingestRun (gw: Gw, mode: Mode, sink: Child, spec: RunSpec, warmup: boolean, redisPid: number | undefined): Promise<IngestRun> {
  const loadSpec: LoadSpec = { url: gw.url + spec.path, method: spec.method, headers: spec.headers, body: spec.body, duration: spec.duration, rate: spec.rate, connections: spec.connections }
  process.stdout.write(`  ${pad(mode, 8, true)} ${spec.label}: `)
  if (warmup && WARMUP > 0) {
    process.stdout.write(`warm-up ${WARMUP} s… `)
    await load({ ...loadSpec, duration: WARMUP, rate: undefined, connections: undefined })
  }
  await settleAndReset(sink.proc, gw.port)
  const before = await scrape(gw.port)
  process.stdout.write(`run ${spec.duration} s… `)
  const stats0 = mode === 'redis' ? await commandStats() : undefined
  const loadStart = Date.now()
  const meter = cpuMeter({ server: pidOf(gw.child), sink: pidOf(sink), loadgen: process.pid, redis: redisPid })
  const raw = await load(loadSpec)
  const f = figures(raw, meter())
  const loadEnd = Date.now()
  const stats1 = stats0 !== undefined ? await commandStats() : undefined
  process.stdout.write('draining… ')
  const delivery = await waitForDelivery(sink.proc, gw.port, before, spec.client, loadStart, loadEnd)
  const sinkStats = await ask<SinkStats>(sink.proc, 'stats')
  let calls: Record<string, number> | undefined
  if (stats0 !== undefined && stats1 !== undefined && f.total > 0) {
    calls = {}
    for (const [cmd, s] of stats1) {
      const n = (s.calls - (stats0.get(cmd)?.calls ?? 0)) / f.total
      if (n >= 0.01) calls[cmd] = round2(n)
    }
    calls = Object.fromEntries(Object.entries(calls).sort((a, b) => b[1] - a[1]))
  }
  console.log(`${fmt(f.reqPerSec)} req/s, p99 ${f.latencyMs.p99} ms`)
  return {
    mode,
    load: spec.label,
    figures: f,
    gatewayUsPerRequest: usPerRequest(f.cpuPercent?.server, f.reqPerSec),
    redisUsPerRequest: mode === 'redis' ? usPerRequest(f.cpuPercent?.redis, f.reqPerSec) : null,
    ...(calls !== undefined ? { redisCallsPerRequest: calls } : {}),
    delivery,
    sink: sinkStats
  }
}

const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
const median = (xs: number[]): number | null => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? null : round2((s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2)
}
/** A process's CPU per request in µs, from its CPU % of one core over the load and the load's req/s. */
const usPerRequest = (pct: number | null | undefined, reqPerSec: number): number | null => typeof pct === 'number' && reqPerSec > 0 ? Math.round(pct * 1e4 / reqPerSec) : null

/** A2: one round of a load on both gateways at the same time. */
interface SideRun {
  load: string
  embedded: { reqPerSec: number, gatewayUsPerRequest: number | null, p99: number }
  redis: { reqPerSec: number, gatewayUsPerRequest: number | null, p99: number }
  ratio: number
}

/**
 * Both gateways take the same load at the same time, each from its own autocannon. Pinned, they
 * share CPU 0, so whatever the machine does to one it does to the other within the same seconds:
 * the ratio of their req/s is the ratio of their work per request, free of the drift between two
 * runs that follow each other (the E R pairs above). Every accepted event must reach the sink:
 * per tag, the sink counts exactly what both gateways accepted.
 */
async function sideBySide (gws: Record<Mode, Gw>, sink: Child, spec: RunSpec, warmup: boolean, failures: string[]): Promise<SideRun> {
  const modes = ['embedded', 'redis'] as const
  const loadSpec = (gw: Gw): LoadSpec => ({ url: gw.url + spec.path, method: spec.method, headers: spec.headers, body: spec.body, duration: spec.duration })
  process.stdout.write(`  both     ${spec.label}: `)
  if (warmup && WARMUP > 0) {
    process.stdout.write(`warm-up ${WARMUP} s… `)
    await Promise.all(modes.map(async m => await load({ ...loadSpec(gws[m]), duration: WARMUP })))
  }
  for (const m of modes) await settleAndReset(sink.proc, gws[m].port)
  const before = await Promise.all(modes.map(async m => await scrape(gws[m].port)))
  process.stdout.write(`run ${spec.duration} s… `)
  const meter = cpuMeter({ embedded: pidOf(gws.embedded.child), redis: pidOf(gws.redis.child) })
  const raws = await Promise.all(modes.map(async m => await load(loadSpec(gws[m]))))
  const cpu = meter()
  const f = raws.map(r => figures(r))
  modes.forEach((m, i) => failures.push(...loadFailures(`both at once, ${m} ${spec.label}`, f[i])))
  process.stdout.write('draining… ')
  // What the gateways accepted (autocannon leaves out the answers that came after its last second).
  let accepted = 0
  const expected = (tag: typeof TAGS[number]): number => accepted * EXPECTED[spec.client][tag].perRequest
  const deadline = Date.now() + 30_000
  let short: string[] = []
  for (;;) {
    const [stats, now] = await Promise.all([ask<SinkStats>(sink.proc, 'stats'), Promise.all(modes.map(async m => await scrape(gws[m].port)))])
    const depths = now.map(c => sumOf(c, 'tagline_queue_depth'))
    accepted = now.reduce((n, c, i) => n + sumOf(c, 'tagline_events_received_total', { client: spec.client }) - sumOf(before[i], 'tagline_events_received_total', { client: spec.client }), 0)
    short = TAGS.filter(t => (stats.stats[t]?.events ?? 0) !== expected(t)).map(t => `${t} ${stats.stats[t]?.events ?? 0} of ${expected(t)}`)
    if ((short.length === 0 && depths.every(d => d === 0)) || Date.now() > deadline) {
      if (stats.problems.length > 0) failures.push(`both at once, ${spec.label}: the sink found ${stats.problems.slice(0, 3).join('; ')}`)
      break
    }
    await sleep(200)
  }
  if (short.length > 0) failures.push(`both at once, ${spec.label}: delivered ${short.join(', ')}`)
  const after = await Promise.all(modes.map(async m => await scrape(gws[m].port)))
  modes.forEach((m, i) => {
    for (const outcome of ['retried', 'dropped', 'dead_lettered', 'shed', 'deduplicated']) {
      const n = sumOf(after[i], 'tagline_tag_events_total', { outcome }) - sumOf(before[i], 'tagline_tag_events_total', { outcome })
      if (n > 0) failures.push(`both at once, ${m} ${spec.label}: ${n} events ${outcome}`)
    }
  })
  const side = (i: number): SideRun['embedded'] => ({ reqPerSec: f[i].reqPerSec, gatewayUsPerRequest: usPerRequest(cpu[modes[i]], f[i].reqPerSec), p99: f[i].latencyMs.p99 })
  const run: SideRun = { load: spec.label, embedded: side(0), redis: side(1), ratio: round2(f[1].reqPerSec / Math.max(1, f[0].reqPerSec)) }
  console.log(`${fmt(run.embedded.reqPerSec)} embedded + ${fmt(run.redis.reqPerSec)} Redis req/s: ${run.ratio}`)
  return run
}

// ---------------------------------------------------------------------------------------------

export async function main (): Promise<number> {
  const startedAt = new Date()
  const loadBefore = loadavg().map(round2)
  if (PIN) {
    if (!canPin(cpus().length)) throw new Error('--pin needs Linux\'s taskset and at least two CPUs')
    if (process.env.BENCH_REDIS_URL !== undefined) throw new Error('--pin starts a Redis of its own: leave BENCH_REDIS_URL unset')
    REDIS_URL = await startPinnedRedis()
    admin = adminOf(REDIS_URL)
  }
  await admin.connect()
  onCleanup(async () => {
    const n = await deleteUnder(PREFIX)
    if (n > 0) process.stdout.write(`deleted the bench's ${fmt(n)} Redis keys (${PREFIX}*)\n`)
    await admin.quit().catch(() => admin.disconnect())
  })
  const server = await info('server')
  const redisVersion = server.redis_version
  const redisPid = await localRedisPid()
  const cpuModel = cpus()[0]?.model
  console.log(`tagline bench, Redis mode: ${cpus().length} CPUs (${cpuModel ?? '?'}), Node ${process.version}, Redis ${redisVersion} at ${REDIS_URL}${redisPid !== undefined ? ` (pid ${redisPid})` : ' (not local: no Redis CPU)'}, load average ${loadBefore.join(' ')}`)
  console.log(`key prefix ${PREFIX} (deleted at the end); gateway code: ${gatewayCode()}`)
  if (PIN) console.log('pinned (A and C): each gateway on CPU 0; the load generator, the sink and the run\'s own Redis on CPU 1')
  if (loadBefore[0] > cpus().length * 0.5) console.log(`warning: the machine is busy (1-min load ${loadBefore[0]}): expect noisy figures`)
  const failures: string[] = []
  // Redis on its own (before any gateway of this run), for the idle figures: other clients use it too.
  const redisQuiet = await redisLoad(5)
  const secret = `whsec_${randomBytes(32).toString('base64')}`

  // A. Ingest, embedded vs Redis, interleaved. Pinned: this process (autocannon) and the sink it
  // forks on CPU 1, the gateways on CPU 0.
  if (PIN) pinProcess(process.pid, '1')
  const { child: sink, port: sinkPort } = await forkHelper('sink', 'sink.ts', { SINK_SECRETS: JSON.stringify({ webhook: secret }) })
  const sinkBase = `http://127.0.0.1:${sinkPort}/sink`
  const ingestPrefix = `${PREFIX}ingest:`
  const [embedded, redisGw] = await Promise.all([
    startGw('embedded', { sinkBase, secret }, PIN ? '0' : undefined),
    startGw('redis', { sinkBase, secret, redis: { url: REDIS_URL, prefix: ingestPrefix } }, PIN ? '0' : undefined)
  ])
  const gws: Record<Mode, Gw> = { embedded, redis: redisGw }
  console.log(`\nA. ingest: embedded gateway on :${embedded.port}, Redis-mode gateway on :${redisGw.port}, checking sink on :${sinkPort}; tags ${TAGS.join(', ')}`)
  const gtagHeaders = { ...BROWSER_HEADERS }
  const jsonHeaders = { ...BROWSER_HEADERS, 'content-type': 'application/json' }
  const gtag: RunSpec = { label: 'GET /g/collect (GA4 hit)', path: `/g/collect?${GTAG_QUERY}`, method: 'GET', headers: gtagHeaders, duration: DURATION, client: 'gtag' }
  const json: RunSpec = { label: 'POST /collect (JSON purchase)', path: '/collect', method: 'POST', headers: jsonHeaders, body: PURCHASE_BODY, duration: JSON_DURATION, client: 'json' }
  const fixed: RunSpec = { ...gtag, label: `GET /g/collect @ ${FIXED_RATE}/s`, duration: JSON_DURATION, rate: FIXED_RATE, connections: RATE_CONNECTIONS }
  const order: Mode[] = []
  for (let r = 0; r < ROUNDS; r++) order.push(...(r % 2 === 0 ? ['embedded', 'redis'] as const : ['redis', 'embedded'] as const))
  const warmed = new Set<string>()
  const runs: IngestRun[] = []
  const ingest = async (mode: Mode, spec: RunSpec, warm: boolean): Promise<void> => {
    const key = `${mode} ${spec.client}`
    const run = await ingestRun(gws[mode], mode, sink, spec, warm && !warmed.has(key), redisPid)
    warmed.add(key)
    runs.push(run)
    failures.push(...loadFailures(`${mode} ${spec.label}`, run.figures), ...deliveryFailures(`${mode} ${spec.label}`, run.delivery, run.sink, spec.client))
  }
  for (const mode of order) await ingest(mode, gtag, true)
  for (const mode of ['redis', 'embedded'] as const) await ingest(mode, json, true)
  for (const mode of ['embedded', 'redis'] as const) await ingest(mode, fixed, false)
  const sideRuns: SideRun[] = []
  if (SIDE_ROUNDS > 0) {
    console.log(`\nA2. ingest, both gateways loaded at the same time${PIN ? ', both on CPU 0' : ''} (${CONNECTIONS} connections each)`)
    for (const spec of [gtag, json]) {
      for (let r = 0; r < SIDE_ROUNDS; r++) sideRuns.push(await sideBySide(gws, sink, spec, r === 0, failures))
    }
  }

  // C. Idle, both gateways at once, queues empty.
  console.log(`\nC. idle: both gateways, queues empty, ${IDLE_S} s (after 5 s of quiet)…`)
  await sleep(5000)
  const idleProcs: Record<string, number | undefined> = { embedded: pidOf(embedded.child), redis: pidOf(redisGw.child), 'redis-server': redisPid }
  const idle0 = Object.fromEntries(Object.entries(idleProcs).map(([k, pid]) => [k, cpuSeconds(pid)]))
  const cmds0 = Number((await info('stats')).total_commands_processed)
  const idleT0 = performance.now()
  await sleep(IDLE_S * 1000)
  const idleWall = (performance.now() - idleT0) / 1000
  const cmds1 = Number((await info('stats')).total_commands_processed)
  const idleMsPerS: Record<string, number | null> = {}
  for (const [k, pid] of Object.entries(idleProcs)) {
    const a = idle0[k]
    const b = cpuSeconds(pid)
    idleMsPerS[k] = a === undefined || b === undefined ? null : round2((b - a) * 1000 / idleWall)
  }
  const idleRedisCommandsPerS = Math.round((cmds1 - cmds0 - 2) / idleWall)
  await Promise.all([stopChild(embedded.child, 15_000), stopChild(redisGw.child, 15_000)])
  await stopChild(sink)
  await deleteUnder(ingestPrefix)
  if (PIN) pinProcess(process.pid, `0-${cpus().length - 1}`)

  // B. Drain a preloaded queue with one replica and with two.
  const { child: fast, port: fastPort } = await forkFastSink()
  const fastBase = `http://127.0.0.1:${fastPort}/sink`
  const tpl = `${PREFIX}template:`
  const copiesPerHit = TAGS.reduce((n, t) => n + EXPECTED.gtag[t].perRequest, 0)
  const preloadCopies = PRELOAD * copiesPerHit
  console.log(`\nB. drain: preloading ${fmt(PRELOAD)} GA4 hits (${fmt(preloadCopies)} tag copies) through a gateway whose destination holds every request…`)
  await ask(fast.proc, 'hold')
  const preloader = await startGw('preload', { sinkBase: fastBase, secret, redis: { url: REDIS_URL, prefix: tpl }, dedup: false, tagExtra: '    timeoutMs: 120000\n' })
  await sleep(500)
  const streamMem0 = await usedMemory()
  const preloadStart = Date.now()
  const preloadLoad = figures(await load({ url: preloader.url + gtag.path, method: 'GET', headers: gtagHeaders, duration: 0, amount: PRELOAD }))
  failures.push(...loadFailures('preload', preloadLoad))
  await until('the preloaded events in Redis', 60_000, async () => total(await queueState(tpl), 'q') >= preloadCopies)
  const preloadS = (Date.now() - preloadStart) / 1000
  const streamMem1 = await usedMemory()
  const streamBytes = await keyBytes(tpl, false)
  preloader.child.proc.kill('SIGKILL')
  await stopChild(preloader.child, 1000)
  // What the killed gateway had taken is pending under its name: start the group over, as if
  // nothing had been read (COPY carries the group along).
  for (const t of TAGS) {
    await admin.xgroup('DESTROY', qKey(tpl, t, 'q'), 'delivery')
    await admin.xgroup('CREATE', qKey(tpl, t, 'q'), 'delivery', '0')
  }
  await ask(fast.proc, 'release')
  console.log(`  stored in ${preloadS.toFixed(1)} s (${fmt(Math.round(PRELOAD / preloadS))} hits/s); used_memory +${fmt(streamMem1 - streamMem0)} B`)

  interface DrainRun { replicas: number, copies: number, seconds: number, eventsPerSec: number, requests: number, perReplica: number[], cpuPercent: CpuShare, redisUsPerEvent: number | null, gatewayUsPerEvent: number | null }
  const drains: DrainRun[] = []
  for (const [i, replicas] of DRAINS.entries()) {
    const prefix = `${PREFIX}drain${i}:`
    for (const t of TAGS) await admin.copy(qKey(tpl, t, 'q'), qKey(prefix, t, 'q'))
    await ask(fast.proc, 'reset')
    await ask(fast.proc, 'hold')
    process.stdout.write(`  ${replicas} replica${replicas > 1 ? 's' : ''}: starting… `)
    // timeoutMs: a held request must not time out while the other replica starts.
    const reps = await Promise.all(Array.from({ length: replicas }, async (_, j) => await startGw(`drain${i}-replica${j + 1}`, { sinkBase: fastBase, secret, redis: { url: REDIS_URL, prefix }, dedup: false, tagExtra: '    timeoutMs: 120000\n' })))
    // Every replica is up: wait until each has its first batches out (concurrency × one request
    // per batch, GA4: one per hit), all held by the sink, so that all start at the release.
    const wanted = TAGS.reduce((n, t) => {
      const batches = Math.min(replicas * DELIVERY_DEFAULTS.concurrency, Math.ceil(PRELOAD / BATCH[t].maxEvents))
      return n + (t === 'ga4' ? Math.min(PRELOAD, batches * BATCH.ga4.maxEvents) : batches)
    }, 0)
    let lastHeld = 0
    await until(`${wanted} held requests`, 60_000, async () => {
      lastHeld = (await ask<FastSinkStats>(fast.proc, 'stats')).held
      return lastHeld >= wanted
    }, 50)
    const before: Counters[] = await Promise.all(reps.map(async r => await scrape(r.port)))
    process.stdout.write(`draining (${lastHeld} requests held at the start)… `)
    const procs: Record<string, number | undefined> = { sink: pidOf(fast), redis: redisPid }
    reps.forEach((r, j) => { procs[`replica${j + 1}`] = pidOf(r.child) })
    const meter = cpuMeter(procs)
    const t0 = Date.now()
    await ask(fast.proc, 'release')
    await until('the drain', 120_000, async () => total(await queueState(prefix), 'q') === 0, 20)
    const cpu = meter()
    const s = await ask<FastSinkStats>(fast.proc, 'stats')
    const after = await Promise.all(reps.map(async r => await scrape(r.port)))
    const d = (j: number, outcome: string): number => sumOf(after[j], 'tagline_tag_events_total', { outcome }) - sumOf(before[j], 'tagline_tag_events_total', { outcome })
    const perReplica = reps.map((_, j) => d(j, 'sent'))
    const sent = perReplica.reduce((a, b) => a + b, 0)
    const bad = reps.reduce((n, _, j) => n + d(j, 'retried') + d(j, 'dropped') + d(j, 'dead_lettered'), 0)
    const claimed = reps.reduce((n, _, j) => n + sumOf(after[j], 'tagline_queue_claimed_total'), 0)
    if (sent !== preloadCopies) failures.push(`drain ${i + 1} (${replicas} replicas): ${sent} tag events sent, expected ${preloadCopies}`)
    if (bad > 0 || claimed > 0) failures.push(`drain ${i + 1}: ${bad} retried/dropped/dead-lettered, ${claimed} claimed`)
    const seconds = Math.max(0.001, (s.lastMs - t0) / 1000)
    const cpuSum = reps.reduce((n, _, j) => n + (cpu[`replica${j + 1}`] ?? 0), 0)
    const eventsPerSec = Math.round(sent / seconds)
    drains.push({
      replicas,
      copies: sent,
      seconds: round2(seconds),
      eventsPerSec,
      requests: s.requests,
      perReplica,
      cpuPercent: cpu,
      gatewayUsPerEvent: round2(cpuSum * 1e4 / eventsPerSec),
      redisUsPerEvent: typeof cpu.redis === 'number' ? round2(cpu.redis * 1e4 / eventsPerSec) : null
    })
    console.log(`${fmt(eventsPerSec)} events/s (${perReplica.map(fmt).join(' + ')})`)
    await Promise.all(reps.map(async r => await stopChild(r.child, 15_000)))
    await deleteUnder(prefix)
  }
  await ask(fast.proc, 'release')
  await stopChild(fast)
  await deleteUnder(tpl)

  // D. Memory per queued event, destination down.
  const closedPort = await freePort() // nothing listens there: every send is refused at once
  const downBase = `http://127.0.0.1:${closedPort}/sink`
  const later = '    retry: { initialDelayMs: 3600000 }   # a failed batch waits an hour in the retry set\n'
  const memNo = `${PREFIX}mem-nomarks:`
  const memYes = `${PREFIX}mem-marks:`
  console.log(`\nD. memory: ${fmt(MEMORY_EVENTS)} page views, then ${fmt(MEMORY_EVENTS)} purchases, to two gateways whose destination refuses connections (dedup off / on)…`)
  const [gwNo, gwYes] = await Promise.all([
    startGw('memory-nomarks', { sinkBase: downBase, secret, redis: { url: REDIS_URL, prefix: memNo }, dedup: false, maxQueue: 1_000_000, tagExtra: later }),
    startGw('memory-marks', { sinkBase: downBase, secret, redis: { url: REDIS_URL, prefix: memYes }, dedup: true, maxQueue: 1_000_000, tagExtra: later })
  ])
  const purchases = `[${Array.from({ length: PURCHASES_PER_REQUEST }, (_, k) => PURCHASE_BODY.replaceAll('[<id>]', `[<id>]-${k}`)).join(',')}]`
  interface MemoryPhase { input: 'page_view' | 'purchase', dedup: boolean, events: number, copies: number, copiesPerTag: Record<string, number>, heldInStreams: number, heldInRetrySets: number, usedMemoryDelta: number, bytesPerEvent: number, bytesPerCopy: number, keyBytesDelta: number, keyBytesPerTagCopy: Record<string, number>, marks: number, bytesPerMark: number, markTtlH?: number, stitchingRecords: number, bytesPerStitchingRecord: number, seconds: number }
  const phases: MemoryPhase[] = []
  let lastKeys: Record<string, KeyBytes> = {
    [memNo]: await keyBytes(memNo, false),
    [memYes]: await keyBytes(memYes, true)
  }
  const lastStored: Record<string, Record<string, number>> = { [memNo]: {}, [memYes]: {} }
  for (const [input, gw, dedup] of [['page_view', gwNo, false], ['page_view', gwYes, true], ['purchase', gwNo, false], ['purchase', gwYes, true]] as const) {
    const prefix = gw.prefix as string
    process.stdout.write(`  ${input} → dedup ${dedup ? 'on ' : 'off'}: `)
    const m0 = await usedMemory()
    const t0 = Date.now()
    const spec: LoadSpec = input === 'page_view'
      ? { url: `${gw.url}/g/collect?${PAGE_VIEW_QUERY}`, method: 'GET', headers: gtagHeaders, duration: 0, amount: MEMORY_EVENTS }
      : { url: `${gw.url}/collect`, method: 'POST', headers: jsonHeaders, body: purchases, duration: 0, amount: Math.ceil(MEMORY_EVENTS / PURCHASES_PER_REQUEST), connections: 4 }
    const events = input === 'page_view' ? MEMORY_EVENTS : Math.ceil(MEMORY_EVENTS / PURCHASES_PER_REQUEST) * PURCHASES_PER_REQUEST
    failures.push(...loadFailures(`memory ${input} dedup ${dedup ? 'on' : 'off'}`, figures(await load(spec))))
    // Stored: every tag copy is in its stream (the tag paused by its breaker, or not taken yet) or
    // in its retry set (failed, due in an hour), and the counts hold still.
    const expectedCopies = events * TAGS.filter(t => input === 'purchase' || t !== 'tiktok').length
    const want = Object.values(lastStored[prefix]).reduce((a, b) => a + b, 0) + expectedCopies
    let previous = ''
    let state: Record<string, QueueState> = {}
    try {
      await until(`the ${input} events in Redis`, 60_000, async () => {
        state = await queueState(prefix)
        const reading = JSON.stringify(state)
        const done = TAGS.reduce((n, t) => n + stored(state[t]), 0) >= want && reading === previous
        previous = reading
        return done
      }, 300)
    } catch (err) {
      failures.push(`memory ${input} dedup ${dedup ? 'on' : 'off'}: ${(err as Error).message} (${JSON.stringify(state)})`)
    }
    const seconds = (Date.now() - t0) / 1000
    const m1 = await usedMemory()
    const copiesPerTag: Record<string, number> = {}
    for (const t of TAGS) copiesPerTag[t] = stored(state[t]) - (lastStored[prefix][t] ?? 0)
    lastStored[prefix] = Object.fromEntries(TAGS.map(t => [t, stored(state[t])]))
    const copies = Object.values(copiesPerTag).reduce((a, b) => a + b, 0)
    const inStreams = total(state, 'q')
    const kb = await keyBytes(prefix, dedup)
    const prev = lastKeys[prefix]
    const keyBytesPerTagCopy: Record<string, number> = {}
    let keyDelta = kb.marks - prev.marks + kb.records * kb.bytesPerRecord - prev.records * prev.bytesPerRecord
    for (const t of TAGS) {
      keyDelta += kb.perTag[t] - prev.perTag[t]
      if (copiesPerTag[t] > 0) keyBytesPerTagCopy[t] = Math.round((kb.perTag[t] - prev.perTag[t]) / copiesPerTag[t])
    }
    lastKeys = { ...lastKeys, [prefix]: kb }
    const delta = m1 - m0
    phases.push({
      input, dedup, events, copies, copiesPerTag,
      heldInStreams: inStreams,
      heldInRetrySets: total(state, 'scheduled') + total(state, 'retrying'),
      usedMemoryDelta: delta,
      bytesPerEvent: Math.round(delta / events),
      bytesPerCopy: Math.round(delta / Math.max(1, copies)),
      keyBytesDelta: keyDelta,
      keyBytesPerTagCopy,
      marks: kb.markCount,
      bytesPerMark: kb.bytesPerMark,
      ...(kb.markTtlH !== undefined ? { markTtlH: kb.markTtlH } : {}),
      stitchingRecords: kb.records - prev.records,
      bytesPerStitchingRecord: kb.bytesPerRecord,
      seconds: round2(seconds)
    })
    if (copies !== expectedCopies) failures.push(`memory ${input} dedup ${dedup ? 'on' : 'off'}: ${copies} tag copies stored, expected ${expectedCopies}`)
    console.log(`${fmt(copies)} tag copies in ${seconds.toFixed(1)} s (of all the gateway holds: ${fmt(inStreams)} in the streams, ${fmt(total(state, 'scheduled') + total(state, 'retrying'))} in retry sets); used_memory +${fmt(delta)} B = ${fmt(Math.round(delta / events))} B per event`)
  }
  await Promise.all([stopChild(gwNo.child, 15_000), stopChild(gwYes.child, 15_000)])
  await deleteUnder(memNo)
  await deleteUnder(memYes)

  // Report.
  const byMode = (mode: Mode, label: string): IngestRun[] => runs.filter(r => r.mode === mode && r.load === label)
  const ratioOf = (label: string): number => round2(mean(byMode('redis', label).map(r => r.figures.reqPerSec)) / Math.max(1, mean(byMode('embedded', label).map(r => r.figures.reqPerSec))))
  const gtagRatio = ratioOf(gtag.label)
  const jsonRatio = ratioOf(json.label)
  // Each neighbouring E/R pair of GA4 runs (E R, R E, …) on its own: how far the machine's drift
  // moves the ratio from one pair to the next, which the mean ratio above hides.
  const gtagRuns = runs.filter(r => r.load === gtag.label)
  const pairRatios: number[] = []
  for (let i = 0; i + 1 < gtagRuns.length; i += 2) {
    const [a, b] = [gtagRuns[i], gtagRuns[i + 1]]
    const [e, r] = a.mode === 'embedded' ? [a, b] : [b, a]
    pairRatios.push(round2(r.figures.reqPerSec / Math.max(1, e.figures.reqPerSec)))
  }
  const sortedPairs = [...pairRatios].sort((x, y) => x - y)
  const pairMedian = median(pairRatios)
  const cpuRatio = round2(mean(byMode('redis', gtag.label).map(r => r.gatewayUsPerRequest ?? 0)) / Math.max(1, mean(byMode('embedded', gtag.label).map(r => r.gatewayUsPerRequest ?? 0))))
  console.log('\nA. ingest, in the order run (latency ms; CPU % of one core: gateway / sink / autocannon / Redis; µs/req: gateway CPU per request, Redis CPU per request)')
  const head = `${pad('mode', 9, true)}${pad('load', 32, true)}${pad('req/s', 8)}${pad('p50', 6)}${pad('p99', 6)}${pad('max', 7)}  ${pad('CPU %', 19, true)}${pad('µs/req', 8)}${pad('Redis', 7)}  delivered/s`
  console.log(head)
  console.log('-'.repeat(head.length + 4))
  for (const r of runs) {
    const c = r.figures.cpuPercent ?? {}
    const cpu = ['server', 'sink', 'loadgen', 'redis'].map(k => c[k] ?? '-').join('/')
    console.log(`${pad(r.mode, 9, true)}${pad(r.load, 32, true)}${pad(fmt(r.figures.reqPerSec), 8)}${pad(r.figures.latencyMs.p50, 6)}${pad(r.figures.latencyMs.p99, 6)}${pad(r.figures.latencyMs.max, 7)}  ${pad(cpu, 19, true)}${pad(r.gatewayUsPerRequest ?? '-', 8)}${pad(r.redisUsPerRequest ?? '-', 7)}  ${fmt(r.delivery.total.perSec)}`)
  }
  for (const r of runs.filter(x => x.redisCallsPerRequest !== undefined && x.load === gtag.label).slice(0, 1)) {
    console.log(`Redis commands per GA4 hit (all clients, incl. those run by scripts): ${Object.entries(r.redisCallsPerRequest ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }
  for (const r of runs.filter(x => x.redisCallsPerRequest !== undefined && x.load === json.label).slice(0, 1)) {
    console.log(`Redis commands per JSON purchase: ${Object.entries(r.redisCallsPerRequest ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }
  console.log(`Redis ÷ embedded, GA4 hits: ${gtagRatio} (bar ≥ ${TARGET_RATIO}: ${gtagRatio >= TARGET_RATIO ? 'met' : 'MISSED'}); JSON purchases: ${jsonRatio}; gateway CPU per GA4 hit: ×${cpuRatio}`)
  console.log(`  per E/R pair, in order: ${pairRatios.join(', ')} (median ${pairMedian ?? '-'}, range ${sortedPairs[0] ?? '-'}–${sortedPairs[sortedPairs.length - 1] ?? '-'})`)
  const sideGtag = median(sideRuns.filter(r => r.load === gtag.label).map(r => r.ratio))
  const sideJson = median(sideRuns.filter(r => r.load === json.label).map(r => r.ratio))
  if (sideRuns.length > 0) {
    console.log(`both at once (A2), Redis ÷ embedded per round: GA4 ${sideRuns.filter(r => r.load === gtag.label).map(r => r.ratio).join(', ')} (median ${sideGtag ?? '-'}); JSON ${sideRuns.filter(r => r.load === json.label).map(r => r.ratio).join(', ')} (median ${sideJson ?? '-'}); gateway µs per request, E / R: ${sideRuns.map(r => `${r.embedded.gatewayUsPerRequest ?? '-'} / ${r.redis.gatewayUsPerRequest ?? '-'}`).join(', ')}`)
  }
  const fixedRuns = runs.filter(r => r.load === fixed.label)
  console.log(`at ${FIXED_RATE} req/s: ${fixedRuns.map(r => `${r.mode} p50 ${r.figures.latencyMs.p50} / p99 ${r.figures.latencyMs.p99} ms (${fmt(r.figures.reqPerSec)} req/s carried)`).join('; ')}`)

  console.log(`\nC. idle, ${IDLE_S} s, queues empty (ms of CPU per second): embedded gateway ${idleMsPerS.embedded ?? '-'}, Redis-mode gateway ${idleMsPerS.redis ?? '-'}, redis-server ${idleMsPerS['redis-server'] ?? '-'} (${idleRedisCommandsPerS} commands/s from all its clients; before any gateway of this run: ${redisQuiet.cpuMsPerS ?? '-'} ms/s, ${redisQuiet.commandsPerS} commands/s)`)

  console.log(`\nB. drain of ${fmt(preloadCopies)} tag copies (${fmt(PRELOAD)} GA4 hits) into the fast sink (CPU %: replicas / sink / Redis; µs per event: replicas' CPU, Redis CPU)`)
  for (const d of drains) {
    const c = d.cpuPercent
    const reps = Array.from({ length: d.replicas }, (_, j) => c[`replica${j + 1}`] ?? '-').join('+')
    console.log(`  ${d.replicas} replica${d.replicas > 1 ? 's' : ' '}: ${pad(fmt(d.eventsPerSec), 7)} events/s in ${d.seconds} s, ${fmt(d.requests)} requests; split ${d.perReplica.map(fmt).join(' / ')}; CPU ${reps} / ${c.sink ?? '-'} / ${c.redis ?? '-'}; µs/event ${d.gatewayUsPerEvent ?? '-'} + Redis ${d.redisUsPerEvent ?? '-'}`)
  }
  const one = mean(drains.filter(d => d.replicas === 1).map(d => d.eventsPerSec))
  const two = mean(drains.filter(d => d.replicas === 2).map(d => d.eventsPerSec))
  const drainRatio = one > 0 && two > 0 ? round2(two / one) : null
  console.log(`  two replicas ÷ one: ${drainRatio ?? '-'} (means ${fmt(Math.round(two))} and ${fmt(Math.round(one))} events/s)`)
  const streamPerCopy = Math.round((streamMem1 - streamMem0) / preloadCopies)
  console.log(`  waiting in the streams (view_item, no marks): used_memory +${fmt(streamMem1 - streamMem0)} B = ${fmt(Math.round((streamMem1 - streamMem0) / PRELOAD))} B per hit, ${fmt(streamPerCopy)} B per tag copy (MEMORY USAGE per copy: ${TAGS.map(t => `${t} ${fmt(Math.round(streamBytes.perTag[t] / PRELOAD))}`).join(', ')})`)

  console.log(`\nD. memory with the destination down (events held in streams and retry sets; INFO used_memory delta ÷ events)`)
  for (const p of phases) {
    console.log(`  ${pad(p.input, 10, true)} dedup ${p.dedup ? 'on ' : 'off'}: ${pad(fmt(p.bytesPerEvent), 6)} B per event (${fmt(p.copies)} tag copies: ${fmt(p.bytesPerCopy)} B per copy; our keys' MEMORY USAGE +${fmt(p.keyBytesDelta)} B, per copy ${Object.entries(p.keyBytesPerTagCopy).map(([t, b]) => `${t} ${fmt(b)}`).join(', ')}; ${fmt(p.stitchingRecords)} new stitching contexts of ${p.bytesPerStitchingRecord} B)${p.dedup ? `; ${fmt(p.marks)} marks so far, ${p.bytesPerMark} B each by MEMORY USAGE, time to live ${p.markTtlH ?? '?'} h` : ''}`)
  }
  const markCost: Record<string, { perEvent: number, perMark: number }> = {}
  for (const input of ['page_view', 'purchase'] as const) {
    const off = phases.find(p => p.input === input && !p.dedup)
    const on = phases.find(p => p.input === input && p.dedup)
    if (off === undefined || on === undefined) continue
    const perEvent = on.bytesPerEvent - off.bytesPerEvent
    markCost[input] = { perEvent, perMark: Math.round(perEvent * off.events / Math.max(1, off.copies)) }
    console.log(`  dedup marks on ${input}: +${fmt(perEvent)} B per event, ${fmt(markCost[input].perMark)} B per mark (one per tag copy; they live for the dedup window, 48 h by default, delivered or not)`)
  }

  const results = {
    date: startedAt.toISOString(),
    commit: gitCommit(),
    uncommittedChanges: gitDirty(),
    gatewayCode: gatewayCode(),
    machine: {
      cpus: cpus().length,
      cpuModel,
      memoryGB: round2(totalmem() / 2 ** 30),
      node: process.version,
      redis: redisVersion,
      os: `${platform()} ${release()}`,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map(round2),
      note: PIN ? 'A and C pinned: gateways on CPU 0; load generator, sink and a private Redis on CPU 1' : 'gateways, sinks, Redis and the load generator share the machine',
      pinned: PIN
    },
    settings: { tags: TAGS, connections: CONNECTIONS, durationS: DURATION, jsonDurationS: JSON_DURATION, warmupS: WARMUP, rounds: ROUNDS, sideRounds: SIDE_ROUNDS, fixedRate: FIXED_RATE, fixedRateConnections: RATE_CONNECTIONS, idleS: IDLE_S, preloadHits: PRELOAD, drains: DRAINS, memoryEvents: MEMORY_EVENTS, purchasesPerRequest: PURCHASES_PER_REQUEST },
    ingest: {
      runs: runs.map(r => ({ mode: r.mode, load: r.load, figures: r.figures, gatewayUsPerRequest: r.gatewayUsPerRequest, redisUsPerRequest: r.redisUsPerRequest, redisCallsPerRequest: r.redisCallsPerRequest, delivered: { perSec: r.delivery.total.perSec, events: r.delivery.total.events, expected: r.delivery.total.expected, drainMs: r.delivery.drainMs } })),
      ratioGtag: gtagRatio,
      ratioGtagPairs: pairRatios,
      ratioGtagPairMedian: pairMedian,
      ratioJson: jsonRatio,
      gatewayCpuPerGtagHitRatio: cpuRatio,
      bothAtOnce: { runs: sideRuns, ratioGtagMedian: sideGtag, ratioJsonMedian: sideJson },
      target: { ratioAtLeast: TARGET_RATIO, met: gtagRatio >= TARGET_RATIO }
    },
    idle: { seconds: IDLE_S, cpuMsPerSecond: idleMsPerS, redisCommandsPerSecondAllClients: idleRedisCommandsPerS, redisBeforeAnyGateway: redisQuiet },
    drain: { preloadHits: PRELOAD, copies: preloadCopies, preloadHitsPerSec: Math.round(PRELOAD / preloadS), runs: drains, twoOverOne: drainRatio },
    memory: {
      waitingInStream: { input: 'view_item', dedup: false, usedMemoryDelta: streamMem1 - streamMem0, bytesPerHit: Math.round((streamMem1 - streamMem0) / PRELOAD), bytesPerCopy: streamPerCopy, memoryUsagePerTagPerHit: Object.fromEntries(TAGS.map(t => [t, Math.round(streamBytes.perTag[t] / PRELOAD)])) },
      destinationDown: phases,
      markCost
    },
    failures
  }
  mkdirSync(join(HERE, 'results'), { recursive: true })
  const out = join(HERE, 'results', PIN ? 'redis-pinned-latest.json' : 'redis-latest.json')
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nresults written to ${out}`)
  if (CPU_PROF && existsSync(profDir)) console.log(`CPU profiles in ${profDir} (one per gateway process, named by pid)`)

  if (failures.length > 0) {
    console.log(`\nFAILED checks:\n  - ${failures.join('\n  - ')}`)
    return 1
  }
  if (gtagRatio < TARGET_RATIO) {
    console.log(`\nbar missed: Redis-mode ingest is ${gtagRatio} × embedded (≥ ${TARGET_RATIO} asked)${STRICT ? '' : ' (reported only; BENCH_STRICT=1 makes this fail)'}`)
    if (STRICT) return 1
  }
  return 0
}

