// The collect routes: every one hands the snapshot to the same ordered client list.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ConfigHolder } from '../config-holder.js'
import type { Store } from '../store/types.js'
import type { Metrics } from '../metrics.js'
import type { IdSource } from '../ids.js'
import { claim } from '../../clients/index.js'
import { snapshotOf } from '../snapshot.js'
import { ContextWriter, runPipeline } from '../pipeline.js'
import { StoreFaults } from '../store/faults.js'
import type { Enqueuer } from '../delivery/index.js'
import { cookieDomain } from '../identity.js'
import { TaglineError, errors } from '../../common/errors.js'
import type { TraceHub } from '../debug/hub.js'
import { MARK_COOKIE, marking } from '../debug/marked.js'
import { EventBudget, visitorKey } from '../event-budget.js'

/** How often ended event-budget windows are forgotten when no request comes. */
const SWEEP_EVERY_MS = 60_000

export interface CollectOptions {
  holder: ConfigHolder
  store: Store
  delivery: Enqueuer
  metrics: Metrics
  ids: IdSource
  authenticate: (header: string | undefined) => boolean
  /** The live debug view's traces. */
  hub: TraceHub
  /** Events per visitor address per window for requests without an API key; undefined: no limit. */
  eventLimit: () => { events: number, windowMs: number } | undefined
}

export async function collectRoutes (app: FastifyInstance, opts: CollectOptions): Promise<void> {
  const { metrics } = opts
  const budget = new EventBudget()
  // Ended windows go even when no request comes to start a new one: the table holds addresses.
  const sweeper = setInterval(() => {
    const limit = opts.eventLimit()
    if (limit !== undefined) budget.sweep(Date.now(), limit.windowMs)
  }, SWEEP_EVERY_MS).unref()
  app.addHook('onClose', async () => { clearInterval(sweeper) })
  const faults = new StoreFaults(metrics.storeErrors, app.log.child({ component: 'store' }))
  // One ContextWriter, not one per request: it remembers what it wrote. Only a reload that changes
  // the stitch ttl replaces it, as its remembered writes carry the old ttl.
  let contexts: { ttlMs: number, writer: ContextWriter } | undefined
  // The pipeline's view of the config, rebuilt only after a reload: per request, one compare.
  const pipelineDeps = opts.holder.derived(config => {
    const ttlMs = config.identity.stitch.ttlMs
    if (contexts?.ttlMs !== ttlMs) contexts = { ttlMs, writer: new ContextWriter(opts.store, ttlMs, faults) }
    return { config, store: opts.store, delivery: opts.delivery, metrics, ids: opts.ids, contexts: contexts.writer, faults }
  })

  async function collect (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const receivedMs = opts.ids.now()
    let clientName = 'none'
    // One config for the whole request, even if a reload lands while it awaits the store.
    const deps = pipelineDeps()
    let tracer: ReturnType<TraceHub['trace']>
    let spent: { key: string, n: number } | undefined
    try {
      const trusted = opts.authenticate(req.headers.authorization)
      const snap = snapshotOf(req, trusted, receivedMs)
      // Only with the view on: an unwatched gateway pays one test here.
      const mark = deps.config.debug.token !== undefined ? marking(snap) : undefined
      if (mark?.marked === true) snap.debug = true
      if (mark !== undefined) tracer = opts.hub.trace(snap, mark.marked)
      const claimed = claim(snap)
      clientName = claimed.client
      if (claimed.error !== undefined) {
        // The pipeline tells the tracer which client claimed the request; a refused one never gets there.
        tracer?.claimed(claimed.client)
        throw claimed.error
      }
      const limit = snap.trusted ? undefined : opts.eventLimit()
      if (limit !== undefined) {
        const key = visitorKey(snap.ip)
        const wait = budget.take(key, claimed.events.length, limit.events, limit.windowMs, receivedMs)
        if (wait !== undefined) {
          const s = Math.ceil(wait / 1000)
          // The request limit's headers speak of requests, which this refusal is not about.
          for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) reply.removeHeader(h)
          void reply.header('retry-after', String(s))
          throw errors.tooManyEvents(`Too many events from this address (server.rateLimit.events: ${limit.events} per window); nothing was accepted. Try again in ${s} s.`)
        }
        spent = { key, n: claimed.events.length }
      }
      const result = await runPipeline(tracer === undefined ? deps : { ...deps, observer: tracer }, snap, claimed.client, claimed.events, claimed.consent)

      if (result.cookies.length > 0 || mark?.set !== undefined) {
        const domain = cookieDomain(snap.host, deps.config.identity.cookieDomain)
        const secure = snap.protocol === 'https'
        for (const c of result.cookies) {
          reply.setCookie(c.name, c.value, { domain, path: '/', maxAge: c.maxAgeS, httpOnly: c.httpOnly, secure, sameSite: 'lax' })
        }
        // A session cookie: the visitor stays marked until the browser closes or ?tagline_debug=0.
        if (mark?.set === 'on') reply.setCookie(MARK_COOKIE, '1', { domain, path: '/', httpOnly: true, secure, sameSite: 'lax' })
        else if (mark?.set === 'off') reply.clearCookie(MARK_COOKIE, { domain, path: '/' })
      }
      // gtag and MP senders expect Google's bare 204; everything else learns the event ids.
      if (claimed.client === 'gtag' || (claimed.client === 'mp' && snap.path.endsWith('/mp/collect'))) {
        tracer?.finish(204)
        reply.code(204).send()
        return
      }
      tracer?.finish(202)
      reply.code(202).send({ accepted: result.accepted, deduplicated: result.deduplicated, event_ids: result.event_ids })
    } catch (err) {
      // Not accepted, to be sent again: what it spent of the event budget is given back.
      if (spent !== undefined && err instanceof TaglineError && err.statusCode === 503) budget.refund(spent.key, spent.n)
      if (err instanceof TaglineError) {
        // 429s are counted by the error handler (client "edge"), with the request limit's.
        if (err.statusCode !== 429) metrics.eventsRejected.inc({ client: clientName, reason: err.code })
        tracer?.finish(err.statusCode, err.code)
      } else tracer?.finish(500, 'internal')
      throw err
    }
  }

  // No implicit HEAD: link checkers and monitors send HEAD, and it must not record an event.
  for (const url of ['/collect', '/g/collect']) app.route({ method: ['GET', 'POST'], url, exposeHeadRoute: false, handler: collect })
  app.route({ method: 'POST', url: '/mp/collect', handler: collect })
}
