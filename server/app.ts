// Builds the Fastify app from a compiled config and its collaborators. No listening, no globals:
// tests build as many apps as they like and talk to them with inject() or a loopback port.
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import cookie from '@fastify/cookie'
import rateLimit from '@fastify/rate-limit'
import type { Logger } from 'pino'
import type { CompiledConfig } from '../config/types.js'
import type { Store } from './store/types.js'
import { createMetrics, type Metrics } from './metrics.js'
import { systemIds, type IdSource } from './ids.js'
import { errors } from '../common/errors.js'
import { errorHandler, frameworkErrors } from './http-errors.js'
import { registerBodyParser } from './body.js'
import { makeAuthenticator } from './auth.js'
import { collectRoutes } from './routes/collect.js'
import { opsRoutes } from './routes/ops.js'
import { adminRoutes } from './routes/admin.js'
import type { Enqueuer, QueueAdmin } from './delivery/index.js'
import { ConfigHolder } from './config-holder.js'
import type { ForgetTargets } from './forget.js'
import { ForwardedForWatch } from './forwarded-for.js'
import { TraceHub } from './debug/hub.js'
import { debugRoutes } from './routes/debug.js'
import { visitorKey } from './event-budget.js'
import { TIME_WINDOW_PATTERN, TIME_WINDOW_UNITS } from '../schemas/config.js'

interface AppCollaborators {
  store: Store
  /** Takes the events; also answers the operator routes (/admin/*). */
  delivery: Enqueuer & QueueAdmin
  metrics?: Metrics
  logger?: Logger
  ids?: IdSource
  /** False while starting or draining: /readyz answers 503. */
  isReady?: () => boolean
  /** What POST /admin/forget erases from (the store, the queues, the dead letters, the spool). */
  forget?: ForgetTargets
  /**
   * Notes X-Forwarded-For from untrusted peers for /readyz; shared with the ops listener's
   * /readyz (server/ops-app.ts). Default: one of the app's own, logging to `logger`.
   */
  forwardedFor?: ForwardedForWatch
  /** The live debug view's traces; shared with delivery and the ops listener. Default: the app's own. */
  hub?: TraceHub
}

/**
 * The config comes as a holder (the gateway, which reloads it) or as a plain config (tests; it is
 * wrapped in a holder of its own). Requests read it through the holder only.
 */
export type AppDeps = AppCollaborators & ({ holder: ConfigHolder } | { config: CompiledConfig })

const ROUTE_METHODS = ['GET', 'POST']

const MINUTE = 60_000
const TIME_WINDOW = new RegExp(TIME_WINDOW_PATTERN)

/** A rate-limit timeWindow in milliseconds (the config schema only lets readable ones through). */
function windowMs (w: number | string): number {
  if (typeof w === 'number') return w
  const m = TIME_WINDOW.exec(w)
  return m === null || Number(m[1]) <= 0 ? MINUTE : Math.round(Number(m[1]) * (TIME_WINDOW_UNITS[m[2] ?? 'ms'] ?? 1))
}

export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const holder = 'holder' in deps ? deps.holder : new ConfigHolder(deps.config)
  // Read once: what Fastify and the plugins are built with (the holder keeps these restart-only).
  const config = holder.current()
  const metrics = deps.metrics ?? createMetrics()
  const ids = deps.ids ?? systemIds

  const app = Fastify({
    loggerInstance: deps.logger,
    // One log line per beacon would cost more than the beacon; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimit,
    // The rate limit keys on req.ip, so with trusted proxies it counts each visitor, not the proxy.
    // A hop count is accepted by the schema but Fastify 5 trusts no peer with it (a visitor could
    // send the hops itself); ForwardedForWatch says so once X-Forwarded-For arrives.
    trustProxy: config.server.trustProxy as boolean | string[],
    // GA4 hits carry ~40 parameters; Fastify's default parser was measured to halve /g/collect
    // throughput. Clients parse the raw query once with URLSearchParams instead.
    routerOptions: { querystringParser: () => ({}) },
    requestIdHeader: false,
    // A client that never finishes its request must not hold a connection (or shutdown) forever.
    requestTimeout: 30_000,
    return503OnClosing: true,
    // A malformed URL never reaches a hook or the error handler (http-errors.ts).
    frameworkErrors
  })

  registerBodyParser(app, config.server.bodyLimit)

  app.setErrorHandler(errorHandler(metrics))
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]
    // A known path asked with a method it does not take: 405 naming the ones it does.
    const allowed = ROUTE_METHODS.filter(method => app.findRoute({ method, url: path }) !== null)
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', ')).type('application/json')
        .send(errors.methodNotAllowed(`${path} takes ${allowed.join(', ')}, not ${req.method}.`).toJSON())
    }
    return reply.code(404).type('application/json').send(errors.notFound(`No route ${req.method} ${path}.`).toJSON())
  })
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode })
  })
  // An app-level hook runs before the rate limit's route-level one, so a limited request is seen too.
  const forwardedFor = deps.forwardedFor ?? new ForwardedForWatch(deps.logger)
  const trustProxy = config.server.trustProxy
  app.addHook('onRequest', async req => { forwardedFor.check(req, trustProxy) })

  // After the error handler: a route takes the handler set when it is added, and CORS adds OPTIONS *.
  await app.register(cookie)
  // Always installed, as CORS may be turned on by a reload; with no origins configured the origin
  // check answers false and no CORS header is sent (responses carry Vary: Origin either way).
  const corsOrigins = holder.derived(c => c.server.corsOrigins.includes('*') ? true : new Set(c.server.corsOrigins))
  await app.register(cors, {
    origin: (origin, cb) => {
      const allowed = corsOrigins()
      cb(null, allowed === true || (origin !== undefined && allowed.has(origin)))
    },
    credentials: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization'],
    maxAge: 86400
  })
  const authenticator = holder.derived(c => makeAuthenticator(c.apiKeys))
  const authenticate = (header: string | undefined): boolean => authenticator()(header)
  // Installed or not at startup (a reload cannot turn it on or off); max and timeWindow are read
  // per request, so a reload changes them. A reload does not reset the counts. The limit is for
  // anonymous visitors: a backend with an API key is neither counted nor limited (an order
  // backend posts each purchase from one address, busier than any visitor); a wrong key counts.
  const limit = holder.derived(c => c.server.rateLimit === false ? undefined : { max: c.server.rateLimit.max, windowMs: windowMs(c.server.rateLimit.timeWindow), events: c.server.rateLimit.events })
  if (config.server.rateLimit !== false) {
    await app.register(rateLimit, {
      max: () => limit()?.max ?? Number.MAX_SAFE_INTEGER,
      timeWindow: () => limit()?.windowMs ?? MINUTE,
      ...deps.store.rateLimit,
      skipOnError: true,
      // A visitor is its address, or for IPv6 its /64, as for the event budget.
      keyGenerator: req => visitorKey(req.ip),
      // authenticate throws on a wrong key (the route answers 401): here that only means "count it".
      allowList: req => { try { return authenticate(req.headers.authorization) } catch { return false } },
      errorResponseBuilder: () => errors.rateLimited()
    })
  }

  const hub = deps.hub ?? new TraceHub({ replica: 'local', ringSize: () => holder.current().debug.ringSize })
  // The events of a request count too (server/event-budget.ts), where requests are limited: the
  // holder keeps rateLimit as it was at start when a reload would turn it on or off, so `limit` is
  // undefined exactly when the plugin is not installed.
  await app.register(collectRoutes, { holder, store: deps.store, delivery: deps.delivery, metrics, ids, authenticate, hub, eventLimit: limit })
  // With an ops port, /metrics is served there only; /healthz and /readyz stay here for the load balancer.
  await app.register(opsRoutes, { store: deps.store, metrics, isReady: deps.isReady ?? (() => true), serveMetrics: config.server.ops === undefined, forwardedFor })
  await app.register(adminRoutes, { holder, admin: deps.delivery, authenticate, forget: deps.forget })
  await app.register(debugRoutes, { holder, hub, listener: 'public' })
  return app as unknown as FastifyInstance
}
