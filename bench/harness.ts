// What bench/run.ts (`npm run bench`) and bench/redis.ts (`npm run bench -- --redis`) share: the
// settings read from the environment, child processes and their cleanup, the gateway's generated
// config and start, the load generator, CPU from /proc, the gateway's counters, delivery
// accounting against the sink, and the tables. See bench/README.md.
import autocannon, { type Result } from 'autocannon'
import { fork, spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { META_API_VERSION } from '../tags/meta.js'
import { CREDENTIALS, EXPECTED, TAGS as ALL_TAGS, type TagName } from './inputs.js'

export const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')

export function envInt (name: string, fallback: number, min = 1): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, not "${raw}"`)
  return n
}

export const DURATION = envInt('BENCH_DURATION', 10)
export const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50)
export const WARMUP = envInt('BENCH_WARMUP', 3, 0)
// Latency is only meaningful below saturation (at saturation it is queueing: connections ÷
// throughput). The fixed-rate run offers 0.6 × the 8–11k req/s bare-Fastify baseline of the
// feasibility measurement the targets were set from (bench/README.md, "Caveats"), i.e. the load the
// ≥ 0.6 target asks the gateway to carry.
export const RATE = envInt('BENCH_RATE', 5000)
// autocannon paces each connection in per-second bursts, so at a fixed rate over 50 connections
// even a route answering a constant (/healthz) shows a ~10 ms p99: fewer connections keep the
// arrivals closer to independent visitors. Bare Fastify runs at the same rate as the floor.
export const RATE_CONNECTIONS = envInt('BENCH_RATE_CONNECTIONS', 10)
export const JSON_DURATION = envInt('BENCH_JSON_DURATION', Math.max(2, Math.ceil(DURATION / 2)))
export const CPU_PROF = process.env.BENCH_CPU_PROF === '1'
// A subset of the five tags (comma-separated), to see what one destination costs; default all five.
export const TAGS: TagName[] = (() => {
  const raw = process.env.BENCH_TAGS
  if (raw === undefined || raw.trim() === '') return [...ALL_TAGS]
  const picked = raw.split(',').map(t => t.trim()).filter(t => t !== '')
  const unknown = picked.filter(t => !(ALL_TAGS as readonly string[]).includes(t))
  if (unknown.length > 0 || picked.length === 0) throw new Error(`BENCH_TAGS must list some of ${ALL_TAGS.join(', ')}, not "${raw}"`)
  return ALL_TAGS.filter(t => picked.includes(t))
})()
export const STRICT = process.env.BENCH_STRICT === '1'
const DRAIN_TIMEOUT_MS = 30_000
// Each tag batches up to its platform's usual size (the tag type's default maxEvents; 100 for the
// webhook, as before) and waits at most MAX_WAIT_MS, so the last partial batch of a load arrives
// soon after it stops. GA4 forwards each gtag hit as its own request whatever the batch size.
const MAX_WAIT_MS = 200
export const BATCH: Record<TagName, { maxEvents: number, maxWaitMs: number }> = {
  ga4: { maxEvents: 25, maxWaitMs: MAX_WAIT_MS },
  meta: { maxEvents: 1000, maxWaitMs: MAX_WAIT_MS },
  tiktok: { maxEvents: 1000, maxWaitMs: MAX_WAIT_MS },
  posthog: { maxEvents: 100, maxWaitMs: MAX_WAIT_MS },
  webhook: { maxEvents: 100, maxWaitMs: MAX_WAIT_MS }
}
// ---------------------------------------------------------------------------------------------
// Child processes, and cleaning them up whatever happens (error, Ctrl-C, SIGTERM).

export interface Child { name: string, proc: ChildProcess, output: string[] }
const children = new Set<Child>()
let currentLoad: { stop: () => void } | undefined
export const workDir = mkdtempSync(join(tmpdir(), 'tagline-bench-'))
// Outside workDir (which is removed at the end) and outside the repository.
export const profDir = join(tmpdir(), `tagline-bench-profiles-${Date.now()}`)

export function track (name: string, proc: ChildProcess): Child {
  const child: Child = { name, proc, output: [] }
  const keep = (chunk: Buffer): void => {
    child.output.push(chunk.toString('utf8'))
    if (child.output.length > 200) child.output.splice(0, child.output.length - 200)
  }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  children.add(child)
  proc.once('exit', () => children.delete(child))
  return child
}

export function tail (child: Child, lines = 30): string {
  return child.output.join('').split('\n').slice(-lines).join('\n')
}

/** SIGTERM (the gateway drains on it), then SIGKILL after `graceMs`. */
export async function stopChild (child: Child, graceMs = 8000): Promise<void> {
  const { proc } = child
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') }, graceMs)
  await exited
  clearTimeout(timer)
}

const cleanups: Array<() => Promise<void>> = []
/**
 * Something to undo once the children are stopped, whatever happens (e.g. the bench's Redis keys).
 * Undone last first, so that what was set up later (the keys) goes before what it needs (the
 * run's own Redis server).
 */
export function onCleanup (fn: () => Promise<void>): void { cleanups.push(fn) }

async function cleanup (): Promise<void> {
  currentLoad?.stop()
  await Promise.all([...children].map(async c => await stopChild(c, 3000)))
  for (const fn of cleanups.splice(0).reverse()) {
    await fn().catch(err => process.stderr.write(`cleanup: ${(err as Error).message}\n`))
  }
  rmSync(workDir, { recursive: true, force: true })
}

// Last resort: a synchronous kill of anything still running when this process exits.
process.on('exit', () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
  rmSync(workDir, { recursive: true, force: true })
})
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130)
    interrupted = true
    process.stderr.write(`\n${signal}: stopping the load and the servers…\n`)
    cleanup().finally(() => process.exit(130))
  })
}

/** Fork one of the bench's own TypeScript helpers; resolves with the port it reports. */
export async function forkHelper (name: string, file: string, env: Record<string, string> = {}): Promise<{ child: Child, port: number }> {
  const proc = fork(join(HERE, file), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  const child = track(name, proc)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${tail(child)}`)), 20_000)
    proc.on('message', (m: { type?: string, port?: number }) => {
      if (m.type === 'listening' && typeof m.port === 'number') { clearTimeout(timer); resolve(m.port) }
    })
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${name} exited (${String(code)}) before listening:\n${tail(child)}`)) })
  })
  return { child, port }
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// CPU used by each process during a load (Linux /proc; elsewhere only this process is known).

let clockTicks: number | undefined
function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { clockTicks = 100 }
  }
  return clockTicks
}

/** CPU seconds (user + system, all threads) a process has used so far, when /proc tells. */
export function cpuSeconds (pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  if (pid === process.pid) { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond() // utime, stime
  } catch { return undefined }
}

export type CpuShare = Record<string, number | null>

/** Start measuring; the returned function gives each process's CPU as % of one core. */
export function cpuMeter (procs: Record<string, number | undefined>): () => CpuShare {
  const t0 = performance.now()
  const start = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuSeconds(pid)]))
  return () => {
    const wall = (performance.now() - t0) / 1000
    const out: CpuShare = {}
    for (const [k, pid] of Object.entries(procs)) {
      const a = start[k]
      const b = cpuSeconds(pid)
      out[k] = a === undefined || b === undefined ? null : Math.round((b - a) / wall * 100)
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// The sink (over IPC).

interface SinkTagStats { events: number, batches: number, bytes: number, maxBatch: number, firstMs: number, lastMs: number, byEventName: Record<string, number>, byTransport: Record<string, number> }
export interface SinkStats { stats: Record<string, SinkTagStats>, problems: string[], signaturesChecked: number, deepChecks: Record<string, number>, badRequests: number, nowMs: number }

export function ask<T> (proc: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.off('message', on); reject(new Error(`sink did not answer "${type}"`)) }, 5000)
    const on = (m: { type?: string }): void => {
      if (m.type !== type) return
      clearTimeout(timer)
      proc.off('message', on)
      resolve(m as T)
    }
    proc.on('message', on)
    proc.send({ type })
  })
}

// ---------------------------------------------------------------------------------------------
// The gateway.

export interface GatewayOptions {
  /** Where every tag sends: `http://127.0.0.1:<port>/sink`; each tag adds its platform's path. */
  sinkBase: string
  /** The webhook tag's `whsec_` secret (the checking sink verifies signatures with it). */
  secret: string
  /** Names this gateway's spool and dead-letter files (several gateways can share workDir). */
  name?: string
  /** Redis mode: `store.redis` and `store.prefix`. Absent: embedded. */
  redis?: { url: string, prefix: string }
  /** `delivery.maxQueue` per tag; default 200,000. */
  maxQueue?: number
  /** `dedup.enabled`; default on. */
  dedup?: boolean
  /** YAML lines added to every tag (indented four spaces), e.g. `retry:` or `timeoutMs:`. */
  tagExtra?: string
}

export function gatewayConfig (opts: GatewayOptions): string {
  const { secret } = opts
  const base = opts.sinkBase
  const name = opts.name ?? 'gateway'
  const batch = (t: TagName): string => `{ maxEvents: ${BATCH[t].maxEvents}, maxWaitMs: ${BATCH[t].maxWaitMs} }`
  const c = CREDENTIALS
  const yaml: Record<TagName, string> = {
    ga4: `  - name: ga4
    type: ga4
    fireOn: [all]
    blockOn: [staging]
    measurementId: ${c.ga4.measurementId}
    apiSecret: ${c.ga4.apiSecret}
    endpoint: ${base}/ga4             # → /sink/ga4/g/collect and /sink/ga4/mp/collect
    batch: ${batch('ga4')}
`,
    meta: `  - name: meta
    type: meta
    fireOn: [all]                     # the tag itself declines events with no Meta name (counted as declined)
    blockOn: [staging]
    pixelId: "${c.meta.pixelId}"
    accessToken: ${c.meta.accessToken}
    endpoint: ${base}/meta/${META_API_VERSION}/${c.meta.pixelId}/events
    batch: ${batch('meta')}
`,
    tiktok: `  - name: tiktok
    type: tiktok
    fireOn: [all]                     # likewise: view_item → ViewContent, purchase → Purchase
    blockOn: [staging]
    pixelCode: ${c.tiktok.pixelCode}
    accessToken: ${c.tiktok.accessToken}
    endpoint: ${base}/tiktok/open_api/v1.3/event/track/
    batch: ${batch('tiktok')}
`,
    posthog: `  - name: posthog
    type: posthog
    fireOn: [all]
    blockOn: [staging]
    apiKey: ${c.posthog.apiKey}
    endpoint: ${base}/posthog/batch/
    batch: ${batch('posthog')}
`,
    webhook: `  - name: webhook
    type: webhook
    fireOn: [all]
    blockOn: [staging]
    url: ${base}/webhook
    secret: ${secret}
    headers: { X-Source: tagline-bench }
    batch: ${batch('webhook')}
`
  }
  const tagYaml = TAGS.map(t => yaml[t] + (opts.tagExtra ?? '')).join('')
  return `# Generated by bench/harness.ts (${name}${opts.redis !== undefined ? ', Redis mode' : ''}): ${TAGS.length === ALL_TAGS.length ? 'the five destination tags' : `tags ${TAGS.join(', ')}`}, all pointed at the local sink.
server:
  host: 127.0.0.1
  port: 8080                        # replaced by --port
  trustProxy: ["127.0.0.1"]         # the load generator plays the proxy: X-Forwarded-For is the visitor
  rateLimit: false                  # the bench measures the gateway, not the limiter
  cors: { origins: ["https://shop.example"] }
  shutdownTimeoutMs: 5000
  spoolFile: ${JSON.stringify(join(workDir, `${name}-spool.jsonl`))}
  deadLetterFile: ${JSON.stringify(join(workDir, `${name}-dead-letters.jsonl`))}
delivery:
  maxQueue: ${opts.maxQueue ?? 200000}
${opts.redis !== undefined ? `store: { redis: ${JSON.stringify(opts.redis.url)}, prefix: ${JSON.stringify(opts.redis.prefix)} }\n` : ''}${opts.dedup === false ? 'dedup: { enabled: false }\n' : ''}triggers:
  staging: { page_location: { matches: "^https://staging\\\\." } }
tags:
${tagYaml}`
}

/**
 * Pins a running process, every thread of it, to a set of CPUs (`taskset -a -p`; Linux only):
 * its children started afterwards inherit the set. "0-N" gives it every CPU back.
 */
export function pinProcess (pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' })
}

/** Whether CPUs can be pinned here: Linux's taskset and at least two CPUs. */
export function canPin (cpuCount: number): boolean {
  if (cpuCount < 2) return false
  try { execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }); return true } catch { return false }
}

/** `cpus`: start it under `taskset -c cpus` (threads and children included), e.g. "0". */
export async function startGatewayProcess (configFile: string, port: number, name = 'gateway', cpus?: string): Promise<Child> {
  const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
  const argv = [...nodeArgs, join(ROOT, 'bin', 'tagline.js'), 'start', '--config', configFile, '--port', String(port)]
  // taskset execs node in its own process: the pid is the gateway's, for its CPU from /proc.
  const proc = spawn(cpus !== undefined ? 'taskset' : process.execPath, cpus !== undefined ? ['-c', cpus, process.execPath, ...argv] : argv, {
    cwd: workDir,
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const child = track(name, proc)
  // At LOG_LEVEL=warn the "tagline is listening" line is not printed: poll /readyz instead.
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the gateway exited (${String(proc.exitCode ?? proc.signalCode)}) while starting:\n${tail(child)}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === 200) return child
    } catch { /* not listening yet */ }
    await sleep(100)
  }
  throw new Error(`the gateway was not ready within 30 s:\n${tail(child)}`)
}

export type Counters = Map<string, number>

/** The gateway's Prometheus counters, keyed by `name{labels}` as printed. */
export async function scrape (port: number): Promise<Counters> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  const out: Counters = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)))
  }
  return out
}

export function sumOf (c: Counters, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const [key, v] of c) {
    const brace = key.indexOf('{')
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue
    if (Object.entries(labels).every(([k, want]) => key.includes(`${k}="${want}"`))) total += v
  }
  return total
}

// ---------------------------------------------------------------------------------------------
// Load.

export interface LoadFigures {
  reqPerSec: number
  total: number
  latencyMs: { avg: number, p50: number, p90: number, p99: number, max: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  /** CPU used during the run, % of one core: the server under test, the sink, this process (autocannon). */
  cpuPercent?: CpuShare
}

export interface LoadSpec { url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string, duration: number, rate?: number, connections?: number, /** Requests to send instead of a duration. */ amount?: number }

export async function load (spec: LoadSpec): Promise<Result> {
  if (interrupted) throw new Error('interrupted')
  const instance = autocannon({
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    body: spec.body,
    connections: Math.min(spec.connections ?? CONNECTIONS, spec.amount ?? Infinity),
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration }),
    idReplacement: true,
    timeout: 10,
    ...(spec.rate !== undefined ? { overallRate: spec.rate } : {})
  })
  currentLoad = instance
  try {
    return await instance
  } finally {
    currentLoad = undefined
  }
}

export function figures (r: Result, cpuPercent?: CpuShare): LoadFigures {
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = count
  return {
    reqPerSec: Math.round(r.requests.average),
    total: r.requests.total,
    latencyMs: { avg: round2(r.latency.average), p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    ...(cpuPercent !== undefined ? { cpuPercent } : {})
  }
}

export function round2 (n: number): number { return Math.round(n * 100) / 100 }

// ---------------------------------------------------------------------------------------------
// Delivery accounting.

export interface DeliveryFigures {
  /** Seconds from the start of the load to the last batch the sink received. */
  windowS: number
  /** Milliseconds from the end of the load to the last delivery. */
  drainMs: number
  drained: boolean
  total: { events: number, perSec: number, expected: number }
  perTag: Record<string, { events: number, perSec: number, expected: number, requests: number, avgBatch: number, maxBatch: number, kbPerEvent: number, byEventName: Record<string, number>, byTransport: Record<string, number>, /** Mean duration of the gateway's outgoing requests (its histogram). */ gatewayRequestMs: number }>
  gateway: { eventsReceived: number, deduplicated: number, rejected: number, sent: number, retried: number, droppedOrDeadLettered: number, shed: number, blockedByConsent: number, notTriggered: number }
}

export async function waitForDelivery (sink: ChildProcess, gwPort: number, before: Counters, client: 'gtag' | 'json', loadStartMs: number, loadEndMs: number): Promise<DeliveryFigures> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  let after = await scrape(gwPort)
  let sinkStats = await ask<SinkStats>(sink, 'stats')
  let drained = false
  const delta = (name: string, labels: Record<string, string> = {}): number => sumOf(after, name, labels) - sumOf(before, name, labels)
  while (Date.now() < deadline) {
    after = await scrape(gwPort)
    sinkStats = await ask<SinkStats>(sink, 'stats')
    const depth = sumOf(after, 'tagline_queue_depth')
    // The sink counts a batch in the same tick as it answers it, so by the time the gateway has
    // counted a batch as sent, the sink has counted it too: equality (and empty queues) means done.
    const settled = TAGS.every(t => (sinkStats.stats[t]?.events ?? 0) >= delta('tagline_tag_events_total', { tag: t, outcome: 'sent' }))
    if (depth === 0 && settled) { drained = true; break }
    await sleep(100)
  }
  const eventsReceived = delta('tagline_events_received_total', { client })
  const dedup = delta('tagline_events_deduplicated_total')
  const perTag: DeliveryFigures['perTag'] = {}
  let totalEvents = 0
  let totalExpected = 0
  let lastMs = loadStartMs
  for (const tag of TAGS) {
    const s = sinkStats.stats[tag]
    const events = s?.events ?? 0
    const expected = (eventsReceived - dedup) * EXPECTED[client][tag].perRequest
    const windowMs = s !== undefined ? Math.max(1, s.lastMs - loadStartMs) : 0
    perTag[tag] = {
      events,
      perSec: windowMs > 0 ? Math.round(events / (windowMs / 1000)) : 0,
      expected,
      requests: s?.batches ?? 0,
      avgBatch: s !== undefined && s.batches > 0 ? round2(s.events / s.batches) : 0,
      maxBatch: s?.maxBatch ?? 0,
      kbPerEvent: s !== undefined && s.events > 0 ? round2(s.bytes / s.events / 1024) : 0,
      byEventName: s?.byEventName ?? {},
      byTransport: s?.byTransport ?? {},
      gatewayRequestMs: round2(1000 * delta('tagline_tag_request_duration_seconds_sum', { tag }) / Math.max(1, delta('tagline_tag_request_duration_seconds_count', { tag })))
    }
    totalEvents += events
    totalExpected += expected
    if (s !== undefined && s.lastMs > lastMs) lastMs = s.lastMs
  }
  const windowMs = Math.max(1, lastMs - loadStartMs)
  return {
    windowS: round2(windowMs / 1000),
    drainMs: Math.max(0, lastMs - loadEndMs),
    drained,
    total: { events: totalEvents, perSec: Math.round(totalEvents / (windowMs / 1000)), expected: totalExpected },
    perTag,
    gateway: {
      eventsReceived,
      deduplicated: dedup,
      rejected: delta('tagline_events_rejected_total'),
      sent: delta('tagline_tag_events_total', { outcome: 'sent' }),
      retried: delta('tagline_tag_events_total', { outcome: 'retried' }),
      droppedOrDeadLettered: delta('tagline_tag_events_total', { outcome: 'dropped' }) + delta('tagline_tag_events_total', { outcome: 'dead_lettered' }),
      shed: delta('tagline_tag_events_total', { outcome: 'shed' }),
      blockedByConsent: delta('tagline_tag_events_total', { outcome: 'blocked_by_consent' }),
      notTriggered: delta('tagline_tag_events_total', { outcome: 'not_triggered' }) + delta('tagline_tag_events_total', { outcome: 'blocked_by_trigger' }) +
        delta('tagline_tag_events_total', { outcome: 'declined' })
    }
  }
}

/** What makes a load fail the run: any non-2xx answer, socket error or timeout. */
export function loadFailures (name: string, f: LoadFigures): string[] {
  const failures: string[] = []
  if (f.non2xx > 0) failures.push(`${name}: ${f.non2xx} non-2xx responses (${JSON.stringify(f.statusCodes)})`)
  if (f.errors + f.timeouts > 0) failures.push(`${name}: ${f.errors} errors, ${f.timeouts} timeouts`)
  return failures
}

/**
 * What makes a delivery fail the run: not drained, a tag with more or fewer events than expected
 * or under another name or GA4 transport, a tag the sink checked no request of, no webhook
 * signature checked, a retry, drop, dead letter or shed, a consent block, a dedup hit, or a
 * problem the sink found.
 */
export function deliveryFailures (name: string, d: DeliveryFigures, s: SinkStats, client: 'gtag' | 'json'): string[] {
  const failures: string[] = []
  if (!d.drained) failures.push(`${name}: delivery did not drain within ${DRAIN_TIMEOUT_MS / 1000} s`)
  for (const tag of TAGS) {
    const t = d.perTag[tag]
    const want = EXPECTED[client][tag]
    if (t.events !== t.expected) failures.push(`${name}: tag ${tag} delivered ${t.events} events, expected ${t.expected}`)
    const got = Object.keys(t.byEventName)
    if (t.events > 0 && (got.length !== want.names.length || got.some(n => !want.names.includes(n)))) failures.push(`${name}: tag ${tag} received ${got.join(', ')}, expected only ${want.names.join(', ')}`)
    if (want.transport !== undefined && t.events > 0) {
      const via = Object.keys(t.byTransport)
      if (via.length !== 1 || via[0] !== want.transport) failures.push(`${name}: tag ${tag} sent via ${via.join(' + ')}, expected ${want.transport} only`)
    }
    if (want.perRequest > 0 && (s.deepChecks[tag] ?? 0) === 0) failures.push(`${name}: the sink checked no request of tag ${tag}`)
  }
  if (TAGS.includes('webhook') && s.signaturesChecked === 0) failures.push(`${name}: sink: no webhook signature was checked`)
  if (d.gateway.droppedOrDeadLettered > 0 || d.gateway.retried > 0 || d.gateway.shed > 0) failures.push(`${name}: ${d.gateway.retried} retried, ${d.gateway.droppedOrDeadLettered} dropped/dead-lettered, ${d.gateway.shed} shed`)
  if (d.gateway.blockedByConsent > 0) failures.push(`${name}: ${d.gateway.blockedByConsent} tag events blocked by consent or GPC (every event is consented and sends no Sec-GPC)`)
  if (d.gateway.deduplicated > 0) failures.push(`${name}: ${d.gateway.deduplicated} events deduplicated (ids should be unique)`)
  for (const p of s.problems) failures.push(`${name}: sink: ${p}`)
  if (s.badRequests > 0) failures.push(`${name}: sink: ${s.badRequests} malformed requests`)
  return failures
}

/** Let whatever the warm-up left in the queues reach the sink, then zero the sink. */
export async function settleAndReset (sink: ChildProcess, gwPort: number): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  let previous = -1
  while (Date.now() < deadline) {
    const depth = sumOf(await scrape(gwPort), 'tagline_queue_depth')
    const s = await ask<SinkStats>(sink, 'stats')
    const received = Object.values(s.stats).reduce((n, t) => n + t.events, 0)
    if (depth === 0 && received === previous) break
    previous = received
    await sleep(MAX_WAIT_MS + 100)
  }
  await ask(sink, 'reset')
}

// ---------------------------------------------------------------------------------------------
// Output.

export function pad (s: string | number, n: number, right = false): string {
  const t = String(s)
  return right ? t.padEnd(n) : t.padStart(n)
}

export function fmt (n: number): string { return n.toLocaleString('en-US') }

export function printTable (rows: Array<[string, LoadFigures, LoadFigures | undefined]>): void {
  const head = `${pad('endpoint', 40, true)}${pad('req/s', 9)}${pad('÷ bare', 8)}${pad('p50', 6)}${pad('p90', 6)}${pad('p99', 6)}${pad('max', 7)}${pad('non-2xx', 9)}${pad('errors', 8)}  ${pad('CPU% server/sink/loadgen', 24, true)}`
  console.log(head)
  console.log('-'.repeat(head.length))
  const pct = (v: number | null | undefined): string => v === null || v === undefined ? '-' : String(v)
  for (const [name, f, bare] of rows) {
    const c = f.cpuPercent
    const cpu = c === undefined ? '' : `${pct(c.server)} / ${pct(c.sink)} / ${pct(c.loadgen)}`
    const ratio = bare === undefined ? '' : String(round2(f.reqPerSec / Math.max(1, bare.reqPerSec)))
    console.log(`${pad(name, 40, true)}${pad(fmt(f.reqPerSec), 9)}${pad(ratio, 8)}${pad(f.latencyMs.p50, 6)}${pad(f.latencyMs.p90, 6)}${pad(f.latencyMs.p99, 6)}${pad(f.latencyMs.max, 7)}${pad(f.non2xx, 9)}${pad(f.errors + f.timeouts, 8)}  ${cpu}`)
  }
  console.log('(latency in ms; ÷ bare = gateway req/s ÷ bare Fastify req/s on the same endpoint and load; CPU as % of one core during the measured run, sink idle for bare Fastify)')
}

export function printDelivery (title: string, d: DeliveryFigures): void {
  console.log(`\n${title}: events delivered to the sink (window: load start → last delivery, ${d.windowS} s; last delivery ${d.drainMs} ms after the load stopped${d.drained ? '' : '; NOT DRAINED within the timeout'})`)
  console.log(`${pad('tag', 10, true)}${pad('events', 10)}${pad('expected', 10)}${pad('events/s', 10)}${pad('requests', 10)}${pad('ev/req', 8)}${pad('KB/ev', 7)}${pad('req ms', 8)}  as`)
  for (const [tag, t] of Object.entries(d.perTag)) {
    const as = Object.entries(t.byEventName).map(([n, c]) => `${n}${Object.keys(t.byEventName).length > 1 ? ` ×${fmt(c)}` : ''}`).join(', ') +
      (Object.keys(t.byTransport).length > 0 ? ` via ${Object.keys(t.byTransport).join(' + ')}` : '')
    console.log(`${pad(tag, 10, true)}${pad(fmt(t.events), 10)}${pad(fmt(t.expected), 10)}${pad(fmt(t.perSec), 10)}${pad(fmt(t.requests), 10)}${pad(t.avgBatch, 8)}${pad(t.kbPerEvent, 7)}${pad(t.gatewayRequestMs, 8)}  ${as}`)
  }
  console.log(`${pad('total', 10, true)}${pad(fmt(d.total.events), 10)}${pad(fmt(d.total.expected), 10)}${pad(fmt(d.total.perSec), 10)}`)
  const g = d.gateway
  console.log(`gateway counters: ${fmt(g.eventsReceived)} events received, ${g.deduplicated} deduplicated, ${g.rejected} rejected, ${fmt(g.sent)} sent, ${g.retried} retried, ${g.droppedOrDeadLettered} dropped/dead-lettered, ${g.shed} shed, ${g.blockedByConsent} blocked by consent/GPC, ${g.notTriggered} not triggered/declined`)
  console.log('(requests: HTTP requests the sink received; ev/req: events per request; req ms: mean duration of the gateway\'s outgoing requests to that tag)')
}

/** One line per load: delivered events/s per tag. */
export function printDeliverySummary (rows: Array<[string, DeliveryFigures]>): void {
  const head = `${pad('events delivered/s', 34, true)}${TAGS.map(t => pad(t, 9)).join('')}${pad('total', 10)}`
  console.log(`\n${head}`)
  console.log('-'.repeat(head.length))
  for (const [name, d] of rows) {
    console.log(`${pad(name, 34, true)}${TAGS.map(t => pad(fmt(d.perTag[t]?.perSec ?? 0), 9)).join('')}${pad(fmt(d.total.perSec), 10)}`)
  }
}

/** What `bin/tagline.js` runs: the compiled build when dist/ has one (which may be stale), else the sources through tsx. */
export function gatewayCode (): string {
  const built = join(ROOT, 'dist', 'server', 'main.js')
  return existsSync(built) ? `dist build of ${statSync(built).mtime.toISOString()}` : 'sources through tsx'
}

export function gitCommit (): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch { return undefined }
}

/** True when tracked files other than bench results differ from the commit (read-only `git status`). */
export function gitDirty (): boolean | undefined {
  try {
    const out = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return out.trim() !== ''
  } catch { return undefined }
}

/** Runs a bench's main: its exit code, after every child is stopped and every cleanup has run. */
export function runMain (main: () => Promise<number>): void {
  main().then(
    async code => {
      await cleanup()
      process.exit(code)
    },
    async err => {
      if (interrupted) return // the signal handler is cleaning up and exits with 130
      console.error(`\nbench failed: ${(err as Error).stack ?? String(err)}`)
      for (const c of children) if (c.output.length > 0) console.error(`--- last output of ${c.name} ---\n${tail(c)}`)
      await cleanup()
      process.exit(1)
    }
  )
}
