// The private ops listener (server.opsPort): /metrics, /healthz and /readyz on a second port, so
// the public first-party subdomain does not show the gateway's metrics to the internet. A small
// Fastify of its own: no body parsing, no CORS, no rate limit, JSON errors like the public port.
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import cookie from '@fastify/cookie'
import type { Logger } from 'pino'
import { errors } from '../common/errors.js'
import { errorHandler } from './http-errors.js'
import { opsRoutes, type OpsOptions } from './routes/ops.js'
import { debugRoutes, type DebugRouteOptions } from './routes/debug.js'

export interface OpsListener {
  app: FastifyInstance
  /** e.g. http://127.0.0.1:9464 */
  url: string
}

/** Build the ops app (tests inject into it); `listenOps` also binds it. */
export async function buildOpsApp (opts: Omit<OpsOptions, 'serveMetrics'> & { logger?: Logger, debug?: Omit<DebugRouteOptions, 'listener'> }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: 30_000,
    return503OnClosing: true
  })
  app.removeAllContentTypeParsers()
  // The same JSON errors as the public port (the debug view's 401s answer here with debug.onOpsPort).
  app.setErrorHandler(errorHandler(opts.metrics))
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]
    return reply.code(404).type('application/json').send(errors.notFound(`No route ${req.method} ${path} on the ops port.`).toJSON())
  })
  app.addHook('onResponse', async (req, reply) => {
    opts.metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode })
  })
  await app.register(opsRoutes, { ...opts, serveMetrics: true })
  // The debug view answers here when debug.onOpsPort is set (it reads the cookie its login sets).
  if (opts.debug !== undefined) {
    await app.register(cookie)
    await app.register(debugRoutes, { ...opts.debug, listener: 'ops' })
  }
  return app as unknown as FastifyInstance
}

/**
 * Bind the ops app to host:port. A port in use (or a bad host) fails the start with an error that
 * names the setting; the app is closed first, so nothing is left holding the event loop.
 */
export async function listenOps (app: FastifyInstance, ops: { port: number, host: string }): Promise<OpsListener> {
  try {
    const address = await app.listen({ port: ops.port, host: ops.host })
    return { app, url: address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1') }
  } catch (err) {
    await app.close().catch(() => {})
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message
    throw Object.assign(new Error(`the ops listener (server.opsPort) cannot listen on ${ops.host}:${ops.port}: ${why} (${code ?? 'error'})`), { code, cause: err })
  }
}
