// Liveness, readiness and Prometheus metrics: never rate limited.
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/types.js'
import type { Metrics } from '../metrics.js'
import { errors } from '../../common/errors.js'

export interface OpsOptions {
  store: Store
  metrics: Metrics
  isReady: () => boolean
}

export async function opsRoutes (app: FastifyInstance, opts: OpsOptions): Promise<void> {
  const noLimit = { rateLimit: false }
  app.get('/healthz', { config: noLimit }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config: noLimit }, async (req, reply) => {
    const storeOk = await opts.store.ping()
    if (!storeOk || !opts.isReady()) {
      const e = errors.notReady(storeOk ? 'The gateway is starting or draining.' : `The ${opts.store.kind} store is not reachable.`)
      return reply.code(503).send(e.toJSON())
    }
    return { status: 'ready', store: opts.store.kind }
  })
  app.get('/metrics', { config: noLimit }, async (req, reply) => {
    reply.type(opts.metrics.registry.contentType)
    return opts.metrics.registry.metrics()
  })
}
