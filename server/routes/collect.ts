// The collect routes: every one hands the snapshot to the same ordered client list.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ConfigHolder } from '../config-holder.js'
import type { Store } from '../store/types.js'
import type { Metrics } from '../metrics.js'
import type { IdSource } from '../ids.js'
import { claim } from '../../clients/index.js'
import { snapshotOf } from '../snapshot.js'
import { ContextWriter, runPipeline } from '../pipeline.js'
import type { Enqueuer } from '../delivery/index.js'
import { cookieDomain } from '../identity.js'
import { TaglineError } from '../../common/errors.js'

export interface CollectOptions {
  holder: ConfigHolder
  store: Store
  delivery: Enqueuer
  metrics: Metrics
  ids: IdSource
  authenticate: (header: string | undefined) => boolean
}

export async function collectRoutes (app: FastifyInstance, opts: CollectOptions): Promise<void> {
  const { metrics } = opts
  // One ContextWriter, not one per request: it remembers what it wrote. Only a reload that changes
  // the stitch ttl replaces it, as its remembered writes carry the old ttl.
  let contexts: { ttlMs: number, writer: ContextWriter } | undefined
  // The pipeline's view of the config, rebuilt only after a reload: per request, one compare.
  const pipelineDeps = opts.holder.derived(config => {
    const ttlMs = config.identity.stitch.ttlMs
    if (contexts?.ttlMs !== ttlMs) contexts = { ttlMs, writer: new ContextWriter(opts.store, ttlMs) }
    return { config, store: opts.store, delivery: opts.delivery, metrics, ids: opts.ids, contexts: contexts.writer }
  })

  async function collect (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const receivedMs = opts.ids.now()
    let clientName = 'none'
    // One config for the whole request, even if a reload lands while it awaits the store.
    const deps = pipelineDeps()
    try {
      const trusted = opts.authenticate(req.headers.authorization)
      const snap = snapshotOf(req, trusted, receivedMs)
      const claimed = claim(snap)
      clientName = claimed.client
      if (claimed.error !== undefined) throw claimed.error
      const result = await runPipeline(deps, snap, claimed.client, claimed.events)

      if (result.cookies.length > 0) {
        const domain = cookieDomain(snap.host, deps.config.identity.cookieDomain)
        const secure = snap.protocol === 'https'
        for (const c of result.cookies) {
          reply.setCookie(c.name, c.value, { domain, path: '/', maxAge: c.maxAgeS, httpOnly: c.httpOnly, secure, sameSite: 'lax' })
        }
      }
      // gtag and MP senders expect Google's bare 204; everything else learns the event ids.
      if (claimed.client === 'gtag' || (claimed.client === 'mp' && snap.path.endsWith('/mp/collect'))) {
        reply.code(204).send()
        return
      }
      reply.code(202).send({ accepted: result.accepted, deduplicated: result.deduplicated, event_ids: result.event_ids })
    } catch (err) {
      if (err instanceof TaglineError) metrics.eventsRejected.inc({ client: clientName, reason: err.code })
      throw err
    }
  }

  // No implicit HEAD: link checkers and monitors send HEAD, and it must not record an event.
  for (const url of ['/collect', '/g/collect']) app.route({ method: ['GET', 'POST'], url, exposeHeadRoute: false, handler: collect })
  app.route({ method: 'POST', url: '/mp/collect', handler: collect })
}
