// Turns a Fastify request into the RequestSnapshot clients parse. JSON is parsed here once,
// refusing prototype-poisoning keys, so no client ever sees `__proto__`.
import sjson from 'secure-json-parse'
import type { FastifyRequest } from 'fastify'
import type { RequestSnapshot } from '../clients/types.js'
import { errors } from '../common/errors.js'
import { isWellFormed } from '../common/guards.js'

function mediaType (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const t = header.split(';')[0].trim().toLowerCase()
  return t === '' ? undefined : t
}

function looksJson (body: string, type: string | undefined): boolean {
  if (type !== undefined && (type === 'application/json' || type.endsWith('+json'))) return true
  const c = body.trimStart()[0]
  return c === '{' || c === '['
}

/** Deeper than any event needs; far below what JSON.stringify (delivery, spool) can take. */
const MAX_JSON_DEPTH = 64

/**
 * What no client may be given: nesting deeper than `max`, a number JSON.parse made Infinity
 * (1e309), or, with `escapes` (the body has a `\u` escape), a key or string with a lone surrogate.
 */
function unfit (root: unknown, max: number, escapes: boolean): 'deep' | 'infinite' | 'surrogate' | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number]
    if (depth > max) return 'deep'
    for (const [key, child] of Object.entries(node as object)) {
      if (escapes && !isWellFormed(key)) return 'surrogate'
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
      else if (typeof child === 'number' && !Number.isFinite(child)) return 'infinite'
      else if (escapes && typeof child === 'string' && !isWellFormed(child)) return 'surrogate'
    }
  }
  return undefined
}

export function parseJsonBody (body: string, type: string | undefined): unknown {
  if (body.trim() === '' || !looksJson(body, type)) return undefined
  let parsed: unknown
  try {
    parsed = sjson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const msg = (err as Error).message
    if (/prototype|constructor/i.test(msg)) throw errors.forbiddenKey()
    // The parser quotes the body around the error: printable characters only, and not much of it.
    throw errors.badJson(`The body is not valid JSON: ${msg.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}`)
  }
  // Accepting it would acknowledge events that no destination, dead letter or spool can serialise
  // (JSON.stringify writes Infinity as null).
  const why = parsed !== null && typeof parsed === 'object' ? unfit(parsed, MAX_JSON_DEPTH, body.includes('\\u')) : undefined
  if (why === 'deep') throw errors.badJson(`The body is nested more than ${MAX_JSON_DEPTH} levels deep.`)
  if (why === 'infinite') throw errors.badJson('The body holds a number beyond ±1.8e308, which no destination can take.')
  // No URL, cookie or header can carry one: a destination would be sent a broken request.
  if (why === 'surrogate') throw errors.badJson('The body holds a string with a lone surrogate escape (such as "\\ud800"), which is not text: no destination can take it.')
  return parsed
}

export function snapshotOf (req: FastifyRequest, trusted: boolean, receivedMs: number): RequestSnapshot {
  const q = req.url.indexOf('?')
  const body = typeof req.body === 'string' ? req.body : ''
  const contentType = mediaType(req.headers['content-type'])
  return {
    method: req.method,
    path: q === -1 ? req.url : req.url.slice(0, q),
    query: q === -1 ? '' : req.url.slice(q + 1),
    body,
    json: parseJsonBody(body, contentType),
    contentType,
    headers: req.headers as Record<string, string | undefined>,
    ip: req.ip,
    cookies: (req.cookies ?? {}) as Record<string, string>,
    trusted,
    requestId: req.id,
    receivedMs,
    host: req.host,
    protocol: req.protocol
  }
}
