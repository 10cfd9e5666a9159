// Liveness, readiness and Prometheus metrics: never rate limited. On the public port, or on the
// private ops port (server.opsPort; the public one then keeps /healthz and /readyz, not /metrics).
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/types.js'
import type { Metrics } from '../metrics.js'
import type { ForwardedForWatch } from '../forwarded-for.js'
import { errors } from '../../common/errors.js'

export interface OpsOptions {
  store: Store
  metrics: Metrics
  isReady: () => boolean
  /** Serve /metrics here (false on the public port when an ops port serves it). */
  serveMetrics: boolean
  /** Its finding shows in /readyz; never makes it unready. */
  forwardedFor?: ForwardedForWatch
}

export async function opsRoutes (app: FastifyInstance, opts: OpsOptions): Promise<void> {
  const noLimit = { rateLimit: false }
  app.get('/healthz', { config: noLimit }, async () => ({ status: 'ok' }))
  // Ready means "this process takes traffic": not while it starts or drains. A shared Redis that
  // cannot be reached does not make it unready: every replica shares that Redis, so all of them
  // would leave the load balancer at once and senders would get connection errors instead of
  // our 503 with Retry-After. The outage shows in the body, in the 503s and in the logs.
  app.get('/readyz', { config: noLimit }, async (req, reply) => {
    if (!opts.isReady()) return await reply.code(503).send(errors.notReady('The gateway is starting or draining.').toJSON())
    return { status: 'ready', store: opts.store.kind, storeReachable: await opts.store.ping(), ...opts.forwardedFor?.report() }
  })
  if (!opts.serveMetrics) return
  app.get('/metrics', { config: noLimit }, async (req, reply) => {
    reply.type(opts.metrics.registry.contentType)
    return opts.metrics.registry.metrics()
  })
}
