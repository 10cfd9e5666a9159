// The operator routes, what `tagline queues`, `tagline replay` and `tagline forget` call in embedded
// mode (where the queues live in this process): GET /admin/queues, POST /admin/replay and POST
// /admin/forget. They need an API key of auth.apiKeys (with none configured they are off: 404), and
// are never rate limited.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Ajv } from 'ajv'
import type { ConfigHolder } from '../config-holder.js'
import type { QueueAdmin } from '../delivery/index.js'
import { errors, type ErrorDetail } from '../../common/errors.js'
import { ForgetRequest, ReplayRequest } from '../../schemas/admin.js'
import { forget, type ForgetTargets } from '../forget.js'
import { parseDuration } from '../../config/duration.js'
import { parseJsonBody } from '../snapshot.js'

export interface AdminOptions {
  holder: ConfigHolder
  admin: QueueAdmin
  /** The edge's API-key check: false without a header, throws 401 for a wrong one. */
  authenticate: (header: string | undefined) => boolean
  /** What POST /admin/forget erases from; without it the route answers 404. */
  forget?: ForgetTargets
}

const ajv = new Ajv({ allErrors: true, strict: false })
const validateReplay = ajv.compile<ReplayRequest>(ReplayRequest)
const validateForget = ajv.compile<ForgetRequest>(ForgetRequest)

const REPLAY_SHAPE = '{ "tag": "<name>", "since": "2h", "limit": 100, "dryRun": true } (only tag is required)'

/** One sentence per key in trouble, whatever Ajv said about it (a union fails once per branch). */
const SENTENCES: Readonly<Record<string, string>> = {
  tag: 'tag must be the name of a tag (a non-empty string).',
  since: 'since must be a duration: milliseconds, or a string like "30m", "2h", "2d".',
  limit: 'limit must be a whole number, 1 or more.',
  dryRun: 'dryRun must be true or false.'
}

function replayProblems (): ErrorDetail[] {
  const out = new Map<string, ErrorDetail>()
  for (const e of validateReplay.errors ?? []) {
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'required') {
      const key = String(params.missingProperty)
      out.set(key, { path: key, message: `${key} is required.` })
    } else if (e.keyword === 'additionalProperties') {
      const key = String(params.additionalProperty)
      out.set(key, { path: key, message: `Unknown key "${key}": the body takes tag, since, limit and dryRun.` })
    } else {
      const key = e.instancePath.split('/')[1] ?? ''
      out.set(key, { path: key, message: SENTENCES[key] ?? `The body must be a JSON object: ${REPLAY_SHAPE}.` })
    }
  }
  return [...out.values()]
}

export async function adminRoutes (app: FastifyInstance, opts: AdminOptions): Promise<void> {
  const noLimit = { rateLimit: false }

  function authorize (req: FastifyRequest): void {
    if (opts.holder.current().apiKeys.length === 0) {
      throw errors.notFound('The admin routes are off: they need an API key, and auth.apiKeys is empty. Add one to the config, then reload (SIGHUP) or restart the gateway.')
    }
    if (!opts.authenticate(req.headers.authorization)) {
      throw errors.unauthorized('The admin routes need an API key: send Authorization: Bearer <one of auth.apiKeys>.')
    }
  }

  app.get('/admin/queues', { config: noLimit }, async req => {
    authorize(req)
    return { queues: await opts.admin.stats() }
  })

  app.post('/admin/replay', { config: noLimit }, async req => {
    authorize(req)
    const text = typeof req.body === 'string' ? req.body : ''
    const body = parseJsonBody(text, req.headers['content-type']?.split(';')[0].trim().toLowerCase())
    if (body === undefined) throw errors.badRequest(`The body must be a JSON object: ${REPLAY_SHAPE}.`)
    if (!validateReplay(body)) throw errors.badRequest('The replay request is not valid.', replayProblems())
    let withinMs: number | undefined
    if (body.since !== undefined) {
      try { withinMs = parseDuration(body.since) } catch { throw errors.badRequest('The replay request is not valid.', [{ path: 'since', message: SENTENCES.since }]) }
    }
    const dryRun = body.dryRun === true
    const result = await opts.admin.replay({ tag: body.tag, withinMs, limit: body.limit, dryRun })
    req.log.info({ tag: result.tag, matched: result.matched, replayed: result.replayed, dryRun }, dryRun ? 'dead letters counted for a replay (dry run)' : 'dead letters replayed')
    return { ...result, dryRun }
  })

  app.post('/admin/forget', { config: noLimit }, async req => {
    authorize(req)
    if (opts.forget === undefined) throw errors.notFound('Erasure is not set up in this app.')
    const text = typeof req.body === 'string' ? req.body : ''
    const body = parseJsonBody(text, req.headers['content-type']?.split(';')[0].trim().toLowerCase())
    if (body === undefined) throw errors.badRequest(`The body must be a JSON object naming the person: ${FORGET_SHAPE}.`)
    if (!validateForget(body)) throw errors.badRequest('The forget request is not valid.', forgetProblems())
    const report = await forget(body, opts.forget)
    // Counts only: the identifiers are the person's data, which this request is removing.
    const sum = (k: 'queued' | 'deadLetters' | 'inFlight'): number => report.tags.reduce((n, r) => n + r[k], 0)
    req.log.info({
      contexts: report.contexts.userId + report.contexts.clientId + report.contexts.orderId,
      queued: sum('queued'), deadLetters: sum('deadLetters'), inFlight: sum('inFlight'), spool: report.spool?.removed ?? 0
    }, 'person erased')
    return report
  })
}

const FORGET_SHAPE = '{ "userId": "…" }, { "clientId": "…" } or { "email": "…" } (one or more of them)'

function forgetProblems (): ErrorDetail[] {
  const out = new Map<string, ErrorDetail>()
  for (const e of validateForget.errors ?? []) {
    const params = e.params as Record<string, unknown>
    const key = e.keyword === 'additionalProperties' ? String(params.additionalProperty) : e.instancePath.split('/')[1] ?? ''
    const message = e.keyword === 'additionalProperties'
      ? `Unknown key "${key}": the body takes userId, clientId and email.`
      : key === '' ? `The body must be a JSON object naming the person: ${FORGET_SHAPE}.` : `${key} must be a non-empty string of at most 512 characters.`
    out.set(key, { path: key, message })
  }
  return [...out.values()]
}
