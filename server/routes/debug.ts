// The live debug view: GET /debug (the page), GET /debug/stream (Server-Sent Events: the ring of
// recent trace entries, then live ones), GET /debug/traces (the ring as JSON, for scripts). Off
// (404) unless debug.token is set; served on the public port or, with debug.onOpsPort and an ops
// port, on the ops port only. The token arrives once as ?token= and then lives in an HttpOnly
// cookie, or comes with every request as the X-Tagline-Debug-Token header.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ConfigHolder } from '../config-holder.js'
import type { TraceHub } from '../debug/hub.js'
import type { TraceEntry } from '../debug/trace.js'
import { DEBUG_PAGE } from '../debug/page.js'
import { errors, TaglineError } from '../../common/errors.js'

export interface DebugRouteOptions {
  holder: ConfigHolder
  hub: TraceHub
  /** Which listener this is: the view answers on one of them only. */
  listener: 'public' | 'ops'
}

const COOKIE = 'tagline_debug_view'
const TOKEN_HEADER = 'x-tagline-debug-token'
const KEEPALIVE_MS = 15_000

/** Compared as digests, so neither the length nor the content of the token leaks through timing. */
function sameSecret (a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/** The cookie holds a MAC of the token, not the token: a new token signs every view out. */
function cookieValue (token: string): string {
  return createHmac('sha256', token).update('tagline debug view').digest('base64url')
}

// Scripts run only if they are the page's own (by hash); data reach it only from this origin.
const SCRIPT_HASHES = [...DEBUG_PAGE.matchAll(/<script>([\s\S]*?)<\/script>/g)]
  .map(m => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`).join(' ')
const PAGE_HEADERS = {
  'content-security-policy': `default-src 'none'; script-src ${SCRIPT_HASHES}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff'
}

function refused (): TaglineError {
  return errors.unauthorized('The debug view needs its token: open /debug?token=<debug.token> once, or send the X-Tagline-Debug-Token header.')
}

export async function debugRoutes (app: FastifyInstance, opts: DebugRouteOptions): Promise<void> {
  const { holder, hub } = opts
  const streams = new Set<ServerResponse>()

  /** The token when the view answers on this listener, else undefined (the routes say 404). */
  function activeToken (): string | undefined {
    const c = holder.current()
    if (c.debug.token === undefined) return undefined
    const onOps = c.debug.onOpsPort && c.server.ops !== undefined
    return (opts.listener === 'ops') === onOps ? c.debug.token : undefined
  }

  function authorised (req: FastifyRequest, token: string): boolean {
    const header = req.headers[TOKEN_HEADER]
    if (typeof header === 'string') return sameSecret(header, token)
    const cookie = req.cookies?.[COOKIE]
    return cookie !== undefined && sameSecret(cookie, cookieValue(token))
  }

  /** The token, or a thrown 404 (view off here) or 401 (not signed in). */
  function gate (req: FastifyRequest): string {
    const token = activeToken()
    if (token === undefined) throw errors.notFound(`No route ${req.method} ${req.url.split('?')[0]}.`)
    if (!authorised(req, token)) throw refused()
    return token
  }

  // No CORS answer for the view: a script on an allowed shop origin must not read it with the
  // operator's cookie (the shop and the collector are the same site, so SameSite does not help).
  app.addHook('onSend', async (req, reply) => {
    if (!req.url.startsWith('/debug')) return
    reply.removeHeader('access-control-allow-origin')
    reply.removeHeader('access-control-allow-credentials')
  })

  app.get('/debug', async (req, reply) => {
    const token = activeToken()
    if (token === undefined) throw errors.notFound(`No route GET ${req.url.split('?')[0]}.`)
    const q = req.url.indexOf('?')
    const given = q < 0 ? null : new URLSearchParams(req.url.slice(q + 1)).get('token')
    if (given !== null) {
      if (!sameSecret(given, token)) throw refused()
      // Out of the address bar and the history as soon as it is used.
      void reply.setCookie(COOKIE, cookieValue(token), { path: '/debug', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' })
      return await reply.code(303).header('location', '/debug').header('cache-control', 'no-store').send()
    }
    if (!authorised(req, token)) throw refused()
    return await reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(DEBUG_PAGE)
  })

  app.get('/debug/traces', async (req, reply) => {
    gate(req)
    return await reply.header('cache-control', 'no-store').send({ replica: hub.replica, fleet: hub.fleet, entries: hub.recent() })
  })

  app.get('/debug/stream', async (req, reply) => {
    gate(req)
    reply.hijack()
    openStream(reply, hub, streams)
  })

  // Open streams would hold the server's close (and a deploy's drain) forever.
  app.addHook('preClose', async () => {
    for (const s of streams) s.end()
    streams.clear()
  })
}

function openStream (reply: FastifyReply, hub: TraceHub, streams: Set<ServerResponse>): void {
  const raw = reply.raw
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // Proxies (nginx ingress) would otherwise hold the events back in a buffer.
    'x-accel-buffering': 'no'
  })
  streams.add(raw)
  // A viewer that reads slower than the gateway traces skips entries rather than fill memory.
  let skipped = 0
  /** `json`: the data as JSON already (the hub makes each entry's once, for every view). */
  const send = (event: string, data: unknown, json?: string): void => {
    if (raw.writableNeedDrain) { skipped++; return }
    if (skipped > 0) { raw.write(`event: skipped\ndata: ${JSON.stringify({ entries: skipped })}\n\n`); skipped = 0 }
    raw.write(`event: ${event}\ndata: ${json ?? JSON.stringify(data)}\n\n`)
  }
  const recent = hub.recent()
  send('hello', { replica: hub.replica, fleet: hub.fleet, ring: recent.length })
  for (const e of recent) send('trace', e)
  const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS).unref()
  let stop: (() => void) | undefined
  let closed = false
  raw.on('close', () => {
    closed = true
    clearInterval(keepalive)
    streams.delete(raw)
    stop?.()
  })
  void hub.watch((e: TraceEntry, json: string) => { send('trace', e, json) }).then(s => {
    if (closed) s()
    else stop = s
  })
}
