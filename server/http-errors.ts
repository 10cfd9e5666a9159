// One way every listener (the public port, the ops port) answers an error: a TaglineError, or one
// of Fastify's own client errors mapped to one, goes out as our JSON ({ error, message, details })
// with its 4xx/503; anything else is logged and answered 500 without its details.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { errors, isTaglineError, type TaglineError } from '../common/errors.js'
import type { Metrics } from './metrics.js'

// Fastify's own error codes that mean "the client sent something wrong".
const FASTIFY_CLIENT_ERRORS: Record<string, (msg?: string) => TaglineError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => errors.bodyTooLarge(),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => errors.unsupportedMediaType(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: msg => errors.badRequest(msg),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => errors.badJson(),
  FST_ERR_BAD_URL: () => errors.badRequest('The URL is malformed.'),
  FST_ERR_ASYNC_CONSTRAINT: msg => errors.badRequest(msg)
}

/** What a 503 (store unreachable, queue full, starting or draining) asks the sender to wait. */
const RETRY_AFTER_S = 2

/**
 * Fastify's `frameworkErrors`: a malformed URL (`/%zz`) is rejected by the router before any hook
 * or error handler runs; without this it gets Fastify's own body, which also echoes the query (MP
 * api_secret).
 */
export function frameworkErrors (err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const e = (err.code !== undefined ? FASTIFY_CLIENT_ERRORS[err.code]?.(err.message) : undefined) ?? errors.badRequest('The URL is malformed.')
  void reply.code(e.statusCode).type('application/json').send(e.toJSON())
}

/** The listener's error handler; refusals that protect the edge (429, 413) are counted. */
export function errorHandler (metrics: Metrics): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return function handle (err, req, reply) {
    let e: TaglineError | undefined
    if (isTaglineError(err)) e = err
    else if (err.code !== undefined && FASTIFY_CLIENT_ERRORS[err.code] !== undefined) e = FASTIFY_CLIENT_ERRORS[err.code](err.message)
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = errors.badRequest(err.message)
    if (e !== undefined) {
      if (e.statusCode === 429 || e.statusCode === 413) metrics.eventsRejected.inc({ client: 'edge', reason: e.code })
      // Nothing was accepted: a sender (sendBeacon aside) should come back soon, not hammer us.
      if (e.statusCode === 503) void reply.header('retry-after', String(RETRY_AFTER_S))
      return reply.code(e.statusCode).type('application/json').send(e.toJSON())
    }
    req.log.error({ err }, 'unexpected error')
    return reply.code(500).type('application/json').send({ error: 'internal', message: 'Something went wrong on our side; the request was not accepted.', details: [] })
  }
}
