// Runs a gateway: store, delivery (with the spool of the last run replayed), HTTP app, and a
// stop() that drains. Used by the `tagline` command, the end-to-end tests and the benchmark.
import { resolve } from 'node:path'
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { CompiledConfig } from '../config/types.js'
import { createStore, type Store } from './store/index.js'
import { Delivery } from './delivery/index.js'
import { embeddedQueues, redisQueues, type QueueFactory } from './delivery/factory.js'
import { createMetrics, type Metrics } from './metrics.js'
import { buildApp } from './app.js'
import { ConfigHolder, type SwapReport } from './config-holder.js'
import { createLogger } from './logger.js'
import { expireSpool, sweepDeadLetters } from './delivery/retention.js'
import { ForwardedForWatch } from './forwarded-for.js'
import { buildOpsApp, listenOps, type OpsListener } from './ops-app.js'
import { TraceHub } from './debug/hub.js'
import { RedisTraceBus } from './debug/redis-bus.js'
import { watchRedisRisks } from './store/redis-risks.js'
import { consentNotices } from '../config/notices.js'

/** This process among the replicas: its consumer name in the groups, its name in the debug view. */
const REPLICA = `${hostname()}:${process.pid}`
/** How often the shared Redis's eviction and persistence settings are read again. */
const RISK_CHECK_EVERY_MS = 5 * 60_000

export interface Gateway {
  app: FastifyInstance
  delivery: Delivery
  store: Store
  metrics: Metrics
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  url: string
  /** The private ops listener's address (server.opsPort), when there is one. */
  opsUrl?: string
  /**
   * Apply a new config from the next request on: tags that keep their name keep their queue,
   * and settings that need a restart keep their running value (listed in the report).
   */
  reload (next: CompiledConfig): SwapReport
  /** Stop taking requests, drain delivery within the shutdown timeout, spool the rest. */
  stop (): Promise<{ delivered: number, spooled: number }>
}

export interface StartOptions {
  config: CompiledConfig
  logger?: Logger
  /** Overrides config.server.port/host (tests pass 0 for a free port). */
  port?: number
  host?: string
}

export async function startGateway (opts: StartOptions): Promise<Gateway> {
  const { config } = opts
  const logger = opts.logger ?? createLogger()
  const metrics = createMetrics()
  const store = await createStore(config.store)
  const deliveryLogger = logger.child({ component: 'delivery' })
  const spoolFile = resolve(config.server.spoolFile)
  const queues = sharedQueues(store, config, metrics, deliveryLogger) ??
    await embeddedQueues({ logger: deliveryLogger, deadLetterFile: resolve(config.server.deadLetterFile), deadLetterMax: config.delivery.deadLetterMax })
      .catch(async err => { await store.close().catch(() => {}); throw err })
  const holder = new ConfigHolder(config)
  // With Redis, a view open on any replica sees every replica's traces.
  const bus = store.redis === undefined
    ? undefined
    : new RedisTraceBus({ ...store.redis, enabled: () => holder.current().debug.token !== undefined, logger })
  const hub = new TraceHub({ replica: REPLICA, ringSize: () => holder.current().debug.ringSize, bus, logger })
  const delivery = new Delivery({
    tags: config.tags,
    metrics,
    logger: deliveryLogger,
    maxQueue: config.delivery.maxQueue,
    deadLetterMax: config.delivery.deadLetterMax,
    queues,
    spoolFile,
    observer: hub.deliveryObserver()
  })
  let ready = false
  let app: FastifyInstance | undefined
  let address: string
  let ops: OpsListener | undefined
  let risks: { stop: () => void } | undefined
  try {
    // A Redis that evicts or keeps nothing on disk loses acknowledged events without an error.
    if (store.redis !== undefined) risks = await watchRedisRisks({ client: store.redis.client, gauge: metrics.storeRisk, logger: logger.child({ component: 'store' }), everyMs: RISK_CHECK_EVERY_MS })
    const forget = { store, queues: queues.eraser, deadLetters: queues.deadLetters, spoolFile }
    const forwardedFor = new ForwardedForWatch(logger)
    app = await buildApp({ holder, store, delivery, metrics, logger, isReady: () => ready, forget, forwardedFor, hub })
    // Listen before the spool is replayed: a start that fails (port in use, bad host) must leave
    // the previous run's spool on disk, not load it into queues that die with this process.
    address = await app.listen({ port: opts.port ?? config.server.port, host: opts.host ?? config.server.host })
    if (config.server.ops !== undefined) {
      ops = await listenOps(await buildOpsApp({ store, metrics, logger, isReady: () => ready, forwardedFor, debug: { holder, hub } }), config.server.ops)
    }
    const expired = await expireSpool(spoolFile, config.server.spoolMaxAgeMs, Date.now())
    if (expired > 0) logger.warn({ file: spoolFile, events: expired, maxAgeMs: config.server.spoolMaxAgeMs }, 'spool: events past server.spoolMaxAge dropped, not replayed')
    const replayed = await delivery.replaySpool()
    if (replayed > 0) logger.info({ replayed }, 'replayed events spooled by the previous run')
  } catch (err) {
    // Whatever was loaded goes back to the spool; nothing is left holding the event loop open.
    await app?.close().catch(() => {})
    await ops?.app.close().catch(() => {})
    await delivery.close(0).catch(() => {})
    await bus?.close().catch(() => {})
    risks?.stop()
    await store.close().catch(() => {})
    throw err
  }
  ready = true
  const sweep = sweepDeadLetters({ store: queues.deadLetters, maxAgeMs: config.delivery.deadLetterMaxAgeMs, logger: deliveryLogger })
  logger.info({ address, ...(ops !== undefined ? { opsAddress: ops.url } : {}), tags: config.tags.map(t => `${t.name}:${t.type}`), store: store.kind }, 'tagline is listening')
  for (const { message, ...fields } of consentNotices(config)) logger.warn(fields, message)

  let stopping: Promise<{ delivered: number, spooled: number }> | undefined
  const server = app
  return {
    app: server, delivery, store, metrics,
    url: address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1'),
    opsUrl: ops?.url,
    reload (next) {
      // Queues first, then the config, in one tick: no request routes an event to a tag whose
      // queue does not exist yet. (Tags are never restart-only, so next.tags is what will run.)
      delivery.reload(next.tags)
      return holder.swap(next)
    },
    stop () {
      stopping ??= (async () => {
        ready = false
        // shutdownTimeoutMs bounds the whole stop. A client that never finishes its request (a
        // stalled body, a slowloris) must not hold app.close() past it: the drain and the spool
        // would never run, and the orchestrator's SIGKILL would lose every queued event. Cutting
        // such a request loses nothing: it was not acknowledged, so its sender retries.
        const budgetMs = holder.current().server.shutdownTimeoutMs
        const startedMs = Date.now()
        const closing = server.close()
        if (!await settlesWithin(closing, budgetMs)) {
          logger.warn({ afterMs: budgetMs }, 'requests still open at the shutdown deadline: closing their connections')
          server.server.closeAllConnections()
          await settlesWithin(closing, 1000)
        }
        await sweep.stop()
        const result = await delivery.close(Math.max(0, budgetMs - (Date.now() - startedMs)))
        // The ops port stays through the drain (/readyz says 503, /metrics shows the drain), and
        // goes before the store its /readyz pings. Its requests are short: a second is plenty.
        if (ops !== undefined) {
          const closingOps = ops.app.close()
          if (!await settlesWithin(closingOps, 1000)) ops.app.server.closeAllConnections()
        }
        await bus?.close()
        risks?.stop()
        await store.close()
        logger.info(result, 'tagline stopped')
        return result
      })()
      return stopping
    }
  }
}

/**
 * Redis mode: every tag's queue and the dead letters live in the shared Redis, read by every
 * replica through one consumer group, this process one consumer in it. Embedded: undefined
 * (delivery's own memory queues).
 */
export function sharedQueues (store: Store, config: CompiledConfig, metrics: Metrics, logger: Logger): QueueFactory | undefined {
  if (store.redis === undefined) return undefined
  return redisQueues({
    ...store.redis,
    consumer: REPLICA,
    claimIdleMs: config.delivery.claimIdleMs,
    localBuffer: config.delivery.localBuffer,
    deadLetterMax: config.delivery.deadLetterMax,
    logger,
    onClaim: (tag, events) => metrics.queueClaimed.inc({ tag }, events)
  })
}

/** True when `p` settles within `ms`; the timer never outlives the wait. */
async function settlesWithin (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>(resolve => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}
