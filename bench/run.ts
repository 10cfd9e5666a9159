// `npm run bench`: the gateway under load, end to end, next to a bare Fastify baseline.
//
//   sink (child: plays GA4, Meta, TikTok, PostHog, webhook)  ←─ 5 tags ─  gateway (child: `tagline start`)  ←─ autocannon (this process)
//                                                                        bare Fastify (child)              ←─ autocannon (this process)
//
// 1. a local sink answers like each platform on success and counts what each tag delivers;
// 2. the gateway runs as a real `tagline start --config <generated yaml>` with the five
//    destination tags (ga4, meta, tiktok, posthog, webhook), each pointed at the sink;
// 3. GET /g/collect with a real 40-parameter GA4 hit, then POST /collect with a 1 KB JSON purchase,
//    then GET /g/collect at a fixed rate;
// 4. after each load the run waits until every accepted event reached the sink, and computes
//    events delivered per second per tag (sink count ÷ time from load start to the last delivery);
// 5. a bare Fastify 5 server (one 204 route per endpoint) takes the same loads;
// 6. prints the tables and writes bench/results/latest.json.
// Environment: BENCH_DURATION (s, 10), BENCH_CONNECTIONS (50), BENCH_WARMUP (s, 3),
// BENCH_JSON_DURATION (s, half of BENCH_DURATION), BENCH_RATE (5000), BENCH_RATE_CONNECTIONS (10),
// BENCH_TAGS (a subset of ga4,meta,tiktok,posthog,webhook), BENCH_CPU_PROF=1 (profile the gateway),
// BENCH_STRICT=1 (also exit 1 when a target is missed).
// `npm run bench -- --redis` (or BENCH_MODE=redis) runs bench/redis.ts instead: embedded vs Redis mode.
// `npm run bench -- --debug` (or BENCH_MODE=debug, or `npm run bench:debug`) runs bench/debug-cost.ts:
// the debug view off, enabled but unwatched, and watched.
// See bench/README.md.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { BROWSER_HEADERS, GTAG_QUERY, PURCHASE_BODY } from './inputs.js'
import {
  BATCH, CONNECTIONS, CPU_PROF, DURATION, HERE, JSON_DURATION, RATE, RATE_CONNECTIONS, STRICT, TAGS, WARMUP, workDir, profDir,
  ask, cpuMeter, deliveryFailures, figures, loadFailures, fmt, forkHelper, freePort, gatewayCode, gatewayConfig, gitCommit, gitDirty, load, printDelivery,
  printDeliverySummary, printTable, round2, runMain, scrape, settleAndReset, startGatewayProcess, stopChild, sumOf, tail, waitForDelivery,
  type DeliveryFigures, type LoadFigures, type LoadSpec, type SinkStats
} from './harness.js'

const TARGET_RATIO = 0.6
const TARGET_P99_MS = 10

// ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  const startedAt = new Date()
  const loadBefore = loadavg().map(round2)
  console.log(`tagline bench: ${CONNECTIONS} connections, ${DURATION} s per GA4 run (${JSON_DURATION} s for JSON), ${WARMUP} s warm-up; ${cpus().length} CPUs, Node ${process.version}, load average ${loadBefore.join(' ')}`)
  if (loadBefore[0] > cpus().length * 0.5) console.log(`warning: the machine is busy (1-min load ${loadBefore[0]}): expect noisy figures`)
  const gtagUrlPath = `/g/collect?${GTAG_QUERY}`
  const gtagHeaders = { ...BROWSER_HEADERS }
  const jsonHeaders = { ...BROWSER_HEADERS, 'content-type': 'application/json' }
  interface RunSpec { path: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string, duration: number, rate?: number, connections?: number }
  const gtagSpec: RunSpec = { path: gtagUrlPath, method: 'GET', headers: gtagHeaders, duration: DURATION }
  const jsonSpec: RunSpec = { path: '/collect', method: 'POST', headers: jsonHeaders, body: PURCHASE_BODY, duration: JSON_DURATION }
  const rateSpec: RunSpec = { ...gtagSpec, rate: RATE, connections: RATE_CONNECTIONS }

  // 1. Sink.
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const { child: sink, port: sinkPort } = await forkHelper('sink', 'sink.ts', { SINK_SECRETS: JSON.stringify({ webhook: secret }) })

  // 2. Gateway.
  const configFile = join(workDir, 'bench.yaml')
  writeFileSync(configFile, gatewayConfig({ sinkBase: `http://127.0.0.1:${sinkPort}/sink`, secret }))
  const gwPort = await freePort()
  const gateway = await startGatewayProcess(configFile, gwPort)
  const gw = `http://127.0.0.1:${gwPort}`
  const code = gatewayCode()
  console.log(`sink on :${sinkPort}, gateway on :${gwPort} (${code}; config ${configFile})`)
  console.log(`tags: ${TAGS.map(t => `${t} (batch ≤ ${BATCH[t].maxEvents})`).join(', ')}, all pointed at the sink`)

  /** Warm-up, settle, measured load, then wait for every accepted event to reach the sink. */
  async function gatewayRun (label: string, spec: RunSpec, client: 'gtag' | 'json', warmup: boolean): Promise<{ load: LoadFigures, delivery: DeliveryFigures, sink: SinkStats }> {
    const loadSpec: LoadSpec = { url: gw + spec.path, method: spec.method, headers: spec.headers, body: spec.body, duration: spec.duration, rate: spec.rate, connections: spec.connections }
    if (warmup && WARMUP > 0) {
      process.stdout.write(`${label}: warm-up ${WARMUP} s… `)
      await load({ ...loadSpec, duration: WARMUP, rate: undefined, connections: undefined })
    } else process.stdout.write(`${label}: `)
    await settleAndReset(sink.proc, gwPort)
    const before = await scrape(gwPort)
    process.stdout.write(`run ${spec.duration} s… `)
    const loadStart = Date.now()
    const meter = cpuMeter({ server: gateway.proc.pid, sink: sink.proc.pid, loadgen: process.pid })
    const raw = await load(loadSpec)
    const loadFigures = figures(raw, meter())
    const loadEnd = Date.now()
    process.stdout.write('draining… ')
    const delivery = await waitForDelivery(sink.proc, gwPort, before, client, loadStart, loadEnd)
    const sinkStats = await ask<SinkStats>(sink.proc, 'stats')
    console.log('done')
    return { load: loadFigures, delivery, sink: sinkStats }
  }

  // 3–4. GA4 load, JSON load, GA4 at a fixed rate; each followed by its delivery.
  const gtag = await gatewayRun('gateway GET /g/collect', gtagSpec, 'gtag', true)
  const json = await gatewayRun('gateway POST /collect', jsonSpec, 'json', true)
  const fixed = await gatewayRun(`gateway GET /g/collect at ${RATE} req/s`, rateSpec, 'gtag', false)
  const gwRss = sumOf(await scrape(gwPort), 'tagline_process_resident_memory_bytes')

  const stopStarted = Date.now()
  await stopChild(gateway, 15_000)
  const gatewayExit = { code: gateway.proc.exitCode, signal: gateway.proc.signalCode, ms: Date.now() - stopStarted }
  if (gatewayExit.code !== 0) console.log(`warning: the gateway did not exit cleanly on SIGTERM (${JSON.stringify(gatewayExit)}):\n${tail(gateway)}`)
  if (CPU_PROF) console.log(`gateway CPU profile written to ${profDir} (open it in Chrome DevTools or speedscope)`)

  // 5. Bare Fastify, same loads.
  const { child: bare, port: barePort } = await forkHelper('bare-fastify', 'bare-fastify.ts')
  const bareUrl = `http://127.0.0.1:${barePort}`
  async function bareRun (label: string, spec: RunSpec, warmup: boolean): Promise<LoadFigures> {
    const loadSpec: LoadSpec = { url: bareUrl + spec.path, method: spec.method, headers: spec.headers, body: spec.body, duration: spec.duration, rate: spec.rate, connections: spec.connections }
    if (warmup && WARMUP > 0) {
      process.stdout.write(`${label}: warm-up ${WARMUP} s… `)
      await load({ ...loadSpec, duration: WARMUP, rate: undefined, connections: undefined })
    } else process.stdout.write(`${label}: `)
    process.stdout.write(`run ${spec.duration} s… `)
    const meter = cpuMeter({ server: bare.proc.pid, sink: sink.proc.pid, loadgen: process.pid })
    const raw = await load(loadSpec)
    console.log('done')
    return figures(raw, meter())
  }
  const bareGtag = await bareRun('bare Fastify GET /g/collect', gtagSpec, true)
  const bareJson = await bareRun('bare Fastify POST /collect', jsonSpec, true)
  const bareFixed = await bareRun(`bare Fastify GET /g/collect at ${RATE} req/s`, rateSpec, false)
  await stopChild(bare)

  // 6. Report.
  const ratio = round2(gtag.load.reqPerSec / Math.max(1, bareGtag.reqPerSec))
  const jsonRatio = round2(json.load.reqPerSec / Math.max(1, bareJson.reqPerSec))
  const p99ok = fixed.load.latencyMs.p99 < TARGET_P99_MS
  console.log('')
  printTable([
    ['gateway  GET /g/collect (GA4 hit)', gtag.load, bareGtag],
    ['gateway  POST /collect (JSON 1 KB)', json.load, bareJson],
    [`gateway  GET /g/collect @ ${RATE}/s`, fixed.load, bareFixed],
    ['bare Fastify GET /g/collect', bareGtag, undefined],
    ['bare Fastify POST /collect', bareJson, undefined],
    [`bare Fastify GET /g/collect @ ${RATE}/s`, bareFixed, undefined]
  ])
  printDeliverySummary([
    ['during GET /g/collect (view_item)', gtag.delivery],
    ['during POST /collect (purchase)', json.delivery],
    [`during GET /g/collect @ ${RATE}/s`, fixed.delivery]
  ])
  printDelivery('GET /g/collect (view_item: all five tags fire)', gtag.delivery)
  printDelivery('POST /collect (purchase: all five tags fire)', json.delivery)
  printDelivery(`GET /g/collect @ ${RATE}/s`, fixed.delivery)
  console.log('')
  console.log(`gateway / bare Fastify on /g/collect: ${ratio} (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'yes' : 'NO'}); on POST /collect: ${jsonRatio}`)
  console.log(`gateway /g/collect p99 at ${RATE} req/s over ${RATE_CONNECTIONS} connections: ${fixed.load.latencyMs.p99} ms (bare Fastify ${bareFixed.latencyMs.p99} ms) (target < ${TARGET_P99_MS} ms: ${p99ok ? 'yes' : 'NO'}); at saturation ${gtag.load.latencyMs.p99} ms`)
  console.log(`gateway RSS after the loads: ${Math.round(gwRss / 1048576)} MB`)
  // A server under saturating load should use about one core; much less means it was waiting for a CPU.
  for (const [name, f] of [['gateway /g/collect', gtag.load], ['gateway /collect', json.load], ['bare Fastify /g/collect', bareGtag], ['bare Fastify /collect', bareJson]] as const) {
    const used = f.cpuPercent?.server
    if (typeof used === 'number' && used < 85) console.log(`note: ${name} used only ${used}% of a core during its run: other processes held the CPUs, so its figures understate it`)
  }
  if (fixed.load.reqPerSec < RATE * 0.95) console.log(`note: the fixed-rate run reached only ${fmt(fixed.load.reqPerSec)} of ${fmt(RATE)} req/s: the gateway (or the machine) could not carry that rate, so its latency is saturation latency`)

  const failures: string[] = []
  for (const [name, f] of [['gateway /g/collect', gtag.load], ['gateway /collect', json.load], [`gateway /g/collect @ ${RATE}/s`, fixed.load],
    ['bare Fastify /g/collect', bareGtag], ['bare Fastify /collect', bareJson], [`bare Fastify /g/collect @ ${RATE}/s`, bareFixed]] as const) {
    failures.push(...loadFailures(name, f))
  }
  for (const [name, run, client] of [['/g/collect', gtag, 'gtag'], ['/collect', json, 'json'], [`/g/collect @ ${RATE}/s`, fixed, 'gtag']] as const) {
    failures.push(...deliveryFailures(name, run.delivery, run.sink, client))
  }
  const missed: string[] = []
  if (ratio < TARGET_RATIO) missed.push(`ratio ${ratio} < ${TARGET_RATIO}`)
  if (!p99ok) missed.push(`p99 at ${RATE} req/s ${fixed.load.latencyMs.p99} ms ≥ ${TARGET_P99_MS} ms`)

  const sinkChecks = (s: SinkStats): { signaturesChecked: number, deepChecks: Record<string, number> } => ({ signaturesChecked: s.signaturesChecked, deepChecks: s.deepChecks })
  const results = {
    date: startedAt.toISOString(),
    commit: gitCommit(),
    uncommittedChanges: gitDirty(),
    gatewayCode: code,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGB: round2(totalmem() / 2 ** 30),
      node: process.version,
      os: `${platform()} ${release()}`,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map(round2),
      note: 'gateway, sink and load generator share the machine'
    },
    settings: {
      tags: TAGS,
      connections: CONNECTIONS,
      durationS: DURATION,
      jsonDurationS: JSON_DURATION,
      warmupS: WARMUP,
      fixedRate: RATE,
      fixedRateConnections: RATE_CONNECTIONS,
      batch: BATCH,
      gtagQueryBytes: GTAG_QUERY.replace('[<id>]', 'x'.repeat(33)).length,
      gtagQueryParams: GTAG_QUERY.split('&').length,
      jsonBodyBytes: PURCHASE_BODY.replaceAll('[<id>]', 'x'.repeat(33)).length
    },
    gatewayGtag: { load: gtag.load, delivery: gtag.delivery, sinkChecks: sinkChecks(gtag.sink) },
    gatewayJson: { load: json.load, delivery: json.delivery, sinkChecks: sinkChecks(json.sink) },
    gatewayGtagFixedRate: { rate: RATE, load: fixed.load, delivery: fixed.delivery, sinkChecks: sinkChecks(fixed.sink) },
    bareFastifyGtag: { load: bareGtag },
    bareFastifyJson: { load: bareJson },
    bareFastifyGtagFixedRate: { rate: RATE, load: bareFixed },
    ratioGatewayToBare: ratio,
    ratioGatewayToBareJson: jsonRatio,
    targets: { ratioAtLeast: TARGET_RATIO, ratioMet: ratio >= TARGET_RATIO, p99BelowMs: TARGET_P99_MS, p99Met: p99ok },
    gatewayRssMB: Math.round(gwRss / 1048576),
    gatewayExit,
    failures
  }
  mkdirSync(join(HERE, 'results'), { recursive: true })
  const out = join(HERE, 'results', 'latest.json')
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nresults written to ${out}`)

  if (failures.length > 0) {
    console.log(`\nFAILED checks:\n  - ${failures.join('\n  - ')}`)
    return 1
  }
  if (missed.length > 0) {
    console.log(`\ntargets missed: ${missed.join('; ')}${STRICT ? '' : ' (reported only; BENCH_STRICT=1 makes this fail)'}`)
    if (STRICT) return 1
  }
  return 0
}

if (process.argv.includes('--redis') || process.env.BENCH_MODE === 'redis') {
  const { main: redisMain } = await import('./redis.js')
  runMain(redisMain)
} else if (process.argv.includes('--debug') || process.env.BENCH_MODE === 'debug') {
  await import('./debug-cost.js')
} else runMain(main)
