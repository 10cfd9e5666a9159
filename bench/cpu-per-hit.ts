// CPU time per GA4 hit through the whole gateway, in one process: inject() → pipeline → five tags →
// undici → a sink in a child process. CPU time varies less than req/s on a shared machine, so two
// checkouts can be compared by running this in each, interleaved (A B B A …): see bench/README.md,
// "Comparing two checkouts". With --redis the queues and dedup marks are in Redis (as `tagline
// start` does with store.redis, under a throwaway key prefix deleted at the end), and the Redis
// server's own CPU per hit is reported beside the gateway's when it runs on this machine.
// With --json each hit is a JSON purchase (POST /collect, bench/inputs.ts PURCHASE_BODY) instead.
// With --json --gzip each purchase is sent gzipped (Content-Encoding: gzip), compressed before the
// timed run so that only the gateway's decoding is measured.
// With --debug the live debug view is on (debug.token set) and nobody watches it: the cost an
// operator pays for leaving it enabled; --watched adds a viewer that takes every entry's JSON as the
// stream does (bench/debug-cost.ts compares the three).
// Usage: npx tsx bench/cpu-per-hit.ts [hits, default 15000] [--redis] [--json [--gzip]] [--debug]   (BENCH_REDIS_URL, default redis://127.0.0.1:6379)
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { loadConfig } from '../config/load.js'
import { buildApp } from '../server/app.js'
import { Delivery } from '../server/delivery/index.js'
import { createMetrics } from '../server/metrics.js'
import { sharedQueues } from '../server/start.js'
import { createStore } from '../server/store/index.js'
import { TraceHub } from '../server/debug/hub.js'
import { BROWSER_HEADERS, GTAG_QUERY, PURCHASE_BODY } from './inputs.js'

const N = Number(process.argv.slice(2).find(a => /^\d+$/.test(a)) ?? 15_000)
const REDIS = process.argv.includes('--redis') ? (process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined
const PREFIX = `tagline-bench-cpu:${process.pid}-${randomBytes(3).toString('hex')}:`
const CONCURRENCY = 50
const JSON_HITS = process.argv.includes('--json')
const GZIP = JSON_HITS && process.argv.includes('--gzip')
const WATCHED = process.argv.includes('--watched')
const DEBUG = WATCHED || process.argv.includes('--debug')

const sink = fork(fileURLToPath(new URL('./cpu-sink.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] })
const port: number = await new Promise(resolve => sink.once('message', m => resolve(m as number)))
const base = `http://127.0.0.1:${port}`
const config = loadConfig({
  text: `server: { rateLimit: false, trustProxy: ["127.0.0.1"], cors: { origins: ["https://shop.example"] } }
delivery: { maxQueue: 200000 }
${REDIS !== undefined ? `store: { redis: "${REDIS}", prefix: "${PREFIX}" }` : ''}
${DEBUG ? 'debug: { token: bench_debug_token_0123456789 }' : ''}
triggers:
  staging: { page_location: { matches: "^https://staging\\\\." } }
tags:
  - { name: ga4, type: ga4, measurementId: G-ABC123XYZ9, apiSecret: s3cr3t_api, endpoint: "${base}/ga4", blockOn: [staging], batch: { maxWaitMs: 200 } }
  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok_meta_1234, endpoint: "${base}/meta", blockOn: [staging], consent: [], batch: { maxWaitMs: 200 } }
  - { name: tiktok, type: tiktok, pixelCode: C1ABCDEF, accessToken: tok_tt_1234, endpoint: "${base}/tt", blockOn: [staging], consent: [], batch: { maxWaitMs: 200 } }
  - { name: posthog, type: posthog, apiKey: phc_abcdef123456, endpoint: "${base}/ph", blockOn: [staging], batch: { maxWaitMs: 200 } }
  - { name: webhook, type: webhook, url: "${base}/hook", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, blockOn: [staging], batch: { maxWaitMs: 200 } }
`
}, {})
const metrics = createMetrics({ defaultMetrics: false })
const logger = pino({ level: 'silent' })
const store = await createStore(config.store)
// As server/start.ts wires it: delivery always reports to the hub, which traces nothing unwatched.
const hub = new TraceHub({ replica: 'bench', ringSize: () => config.debug.ringSize })
const delivery = new Delivery({ tags: config.tags, metrics, logger, maxQueue: 200_000, queues: sharedQueues(store, config, metrics, logger), observer: hub.deliveryObserver() })
const app = await buildApp({ config, store, delivery, metrics, logger, hub })
let streamed = 0
if (WATCHED) await hub.watch((_entry, json) => { streamed += json.length })

/** The Redis server's CPU seconds so far, when it runs here (/proc). */
async function redisCpu (): Promise<number | undefined> {
  if (store.redis === undefined) return undefined
  try {
    const pid = /process_id:(\d+)/.exec(await store.redis.client.info('server'))?.[1]
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, in clock ticks of 1/100 s
  } catch { return undefined }
}

const purchase = (i: number): string => PURCHASE_BODY.replaceAll('[<id>]', `ev-${i}`)

/** The gzipped purchases of load(from, n), made before it runs (--gzip). */
const gzipBodies = (from: number, n: number): Buffer[] => GZIP ? Array.from({ length: n }, (_, k) => gzipSync(purchase(from + k))) : []

async function load (from: number, n: number, gzipped: Buffer[]): Promise<void> {
  let next = from
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < from + n) {
      const i = next++
      const res = GZIP
        ? await app.inject({ method: 'POST', url: '/collect', headers: { ...BROWSER_HEADERS, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipped[i - from], remoteAddress: '127.0.0.1' })
        : JSON_HITS
        ? await app.inject({ method: 'POST', url: '/collect', headers: { ...BROWSER_HEADERS, 'content-type': 'application/json' }, payload: purchase(i), remoteAddress: '127.0.0.1' })
        : await app.inject({ method: 'GET', url: `/g/collect?${GTAG_QUERY.replace('[<id>]', `ev-${i}`)}`, headers: BROWSER_HEADERS, remoteAddress: '127.0.0.1' })
      if (res.statusCode !== (JSON_HITS ? 202 : 204)) throw new Error(`status ${res.statusCode}: ${res.body}`)
    }
  }))
  while (config.tags.some(t => delivery.depth(t.name) > 0)) await new Promise(resolve => setTimeout(resolve, 5))
}

try {
  await load(0, 3000, gzipBodies(0, 3000)) // warm-up: JIT, connections
  const bodies = gzipBodies(10_000_000, N)
  const before = process.cpuUsage()
  const redisBefore = await redisCpu()
  await load(10_000_000, N, bodies)
  const cpu = process.cpuUsage(before)
  const redisAfter = await redisCpu()
  const redis = redisBefore !== undefined && redisAfter !== undefined ? { redisCpuUsPerHit: Math.round((redisAfter - redisBefore) * 1e6 / N) } : {}
  console.log(JSON.stringify({ hits: N, input: GZIP ? 'json purchase, gzipped' : JSON_HITS ? 'json purchase' : 'gtag hit', mode: REDIS !== undefined ? 'redis' : 'embedded', debug: WATCHED ? 'watched' : DEBUG ? 'enabled, unwatched' : 'off', traced: hub.recent().length, streamedBytesPerHit: Math.round(streamed / (N + 3000)), cpuUsPerHit: Math.round((cpu.user + cpu.system) / N), userUs: Math.round(cpu.user / N), systemUs: Math.round(cpu.system / N), ...redis }))
} finally {
  await app.close()
  await delivery.close(100)
  if (store.redis !== undefined) {
    const { client } = store.redis
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 2000)
      cursor = next
      if (keys.length > 0) await client.unlink(...keys)
    } while (cursor !== '0')
  }
  await store.close()
  sink.kill()
}
