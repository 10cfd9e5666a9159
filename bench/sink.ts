// The benchmark's destination stand-in, run as a child process (bench/run.ts forks it). One
// node:http server plays all five platforms, one path prefix per tag, and answers each the way the
// platform answers a success:
//
//   /sink/ga4/g/collect?<hit>      forwarded gtag hit    → 204; one event per body line, or one for a query-only hit
//   /sink/ga4/mp/collect?…         Measurement Protocol  → 204; events[]
//   /sink/meta/…                   Conversions API       → 200 {"events_received": N, …}; data[]
//   /sink/tiktok/…                 Events API 2.0        → 200 {"code":0,"message":"OK", …}; data[]
//   /sink/posthog/…                /batch/               → 200 {"status":1}; batch[]
//   /sink/webhook                  Standard Webhooks     → 200; events[]
//
// It counts events per tag (and per event name and GA4 transport) by parsing each body, and checks
// what arrives so that a fast but wrong gateway fails the run:
//  - every request: the body parses, it carries the platform's array, the credentials are where
//    the platform wants them (Meta access_token in the body and never in the URL, TikTok
//    Access-Token header, PostHog api_key, MP measurement_id + api_secret);
//  - the first DEEP_CHECKS requests of each tag after a reset: the webhook signature, and the
//    visitor IP and user agent reaching each platform in its own field.
// Talks to the parent over IPC: { type: 'stats' } → counters, { type: 'reset' } → zero them.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { createHmac, randomBytes } from 'node:crypto'
import { CREDENTIALS, VISITOR_IP, BROWSER_HEADERS } from './inputs.js'

interface TagStats {
  events: number
  /** HTTP requests received (one batch each; GA4 forwarded hits are one request per hit). */
  batches: number
  bytes: number
  maxBatch: number
  firstMs: number
  lastMs: number
  byEventName: Record<string, number>
  /** GA4 only: events per transport (g/collect, mp/collect). */
  byTransport: Record<string, number>
}

const secrets: Record<string, string> = JSON.parse(process.env.SINK_SECRETS ?? '{}')
const DEEP_CHECKS = 5
const UA = BROWSER_HEADERS['user-agent']

let stats: Record<string, TagStats> = {}
let problems: string[] = []
let deepChecks: Record<string, number> = {}
let signaturesChecked = 0
let badRequests = 0

type Obj = Record<string, unknown>

function problem (msg: string): void {
  if (problems.length < 20) problems.push(msg)
}

/** True for the first DEEP_CHECKS requests of a tag since the last reset. */
function deep (tag: string): boolean {
  const n = deepChecks[tag] ?? 0
  if (n >= DEEP_CHECKS) return false
  deepChecks[tag] = n + 1
  return true
}

function verifySignature (tag: string, headers: IncomingHttpHeaders, body: string): void {
  const secret = secrets[tag]
  if (secret === undefined) return
  signaturesChecked++
  const id = String(headers['webhook-id'])
  const ts = String(headers['webhook-timestamp'])
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  const want = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`
  const got = String(headers['webhook-signature'] ?? '').split(' ')
  if (!got.includes(want)) problem(`${tag}: bad webhook-signature on batch ${id}`)
}

function record (tag: string, names: string[], bytes: number, transport?: string): void {
  const now = Date.now()
  const s = stats[tag] ??= { events: 0, batches: 0, bytes: 0, maxBatch: 0, firstMs: now, lastMs: now, byEventName: {}, byTransport: {} }
  s.events += names.length
  s.batches++
  s.bytes += bytes
  s.lastMs = now
  if (names.length > s.maxBatch) s.maxBatch = names.length
  for (const name of names) s.byEventName[name] = (s.byEventName[name] ?? 0) + 1
  if (transport !== undefined) s.byTransport[transport] = (s.byTransport[transport] ?? 0) + names.length
}

/** An answer, or undefined to reply 400 (the request was counted as bad). */
interface Answer { status: number, body?: string }
const ok204: Answer = { status: 204 }
const ok200: Answer = { status: 200 }

function bad (tag: string, msg: string): undefined {
  badRequests++
  problem(`${tag}: ${msg}`)
  return undefined
}

function parseJson (tag: string, body: string): Obj | undefined {
  try {
    const v = JSON.parse(body) as unknown
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Obj
  } catch { /* below */ }
  return bad(tag, 'body is not a JSON object')
}

function array (tag: string, o: Obj, key: string): Obj[] | undefined {
  const a = o[key]
  if (!Array.isArray(a) || a.length === 0) return bad(tag, `body has no ${key}[] (or it is empty)`)
  return a as Obj[]
}

function names (items: Obj[], key: string): string[] {
  return items.map(i => String(i[key]))
}

// ---- one handler per platform ----

function ga4 (url: URL, body: string): Answer | undefined {
  const path = url.pathname.slice('/sink/ga4'.length)
  if (path === '/g/collect') {
    // A forwarded hit: the query holds the shared parameters (and the event itself when there is
    // no body); each body line is one more event.
    const q = url.searchParams
    const lines = body === '' ? [] : body.split('\n').filter(l => l !== '')
    const events = lines.length === 0 ? [q.get('en') ?? '(none)'] : lines.map(l => new URLSearchParams(l).get('en') ?? '(none)')
    if (q.get('v') !== '2' || q.get('tid') === null) return bad('ga4', `forwarded hit without v=2 / tid: ${url.search.slice(0, 80)}`)
    if (deep('ga4')) {
      if (q.get('_uip') !== VISITOR_IP) problem(`ga4: forwarded hit has _uip=${String(q.get('_uip'))}, expected the visitor IP ${VISITOR_IP}`)
      if (q.getAll('_uip').length !== 1) problem('ga4: forwarded hit carries _uip more than once')
    }
    record('ga4', events, body.length + url.search.length, 'g/collect')
    return ok204
  }
  if (path === '/mp/collect') {
    const q = url.searchParams
    if (q.get('measurement_id') !== CREDENTIALS.ga4.measurementId || q.get('api_secret') !== CREDENTIALS.ga4.apiSecret) {
      return bad('ga4', 'Measurement Protocol request without the measurement_id / api_secret query')
    }
    const o = parseJson('ga4', body)
    if (o === undefined) return undefined
    const events = array('ga4', o, 'events')
    if (events === undefined) return undefined
    if (events.length > 25) problem(`ga4: Measurement Protocol request with ${events.length} events (limit 25)`)
    if (typeof o.client_id !== 'string') problem('ga4: Measurement Protocol request without client_id')
    if (deep('ga4')) {
      if (o.ip_override !== VISITOR_IP) problem(`ga4: MP ip_override is ${String(o.ip_override)}, expected ${VISITOR_IP}`)
      if (o.user_agent !== UA) problem('ga4: MP user_agent is not the visitor\'s')
    }
    record('ga4', names(events, 'name'), body.length, 'mp/collect')
    return ok204
  }
  return bad('ga4', `unexpected path ${url.pathname}`)
}

function meta (url: URL, body: string): Answer | undefined {
  // In the body, never in the URL: URLs end up in access logs.
  if (url.search.includes('access_token')) problem('meta: access_token is in the URL')
  const o = parseJson('meta', body)
  if (o === undefined) return undefined
  if (o.access_token !== CREDENTIALS.meta.accessToken) return bad('meta', 'body has no (or the wrong) access_token')
  const data = array('meta', o, 'data')
  if (data === undefined) return undefined
  if (data.length > 1000) problem(`meta: request with ${data.length} events (limit 1,000)`)
  if (deep('meta')) {
    const e = data[0]
    const ud = (e.user_data ?? {}) as Obj
    if (ud.client_ip_address !== VISITOR_IP) problem(`meta: client_ip_address is ${String(ud.client_ip_address)}, expected ${VISITOR_IP}`)
    if (ud.client_user_agent !== UA) problem('meta: client_user_agent is not the visitor\'s')
    if (e.action_source !== 'website' || typeof e.event_source_url !== 'string') problem('meta: a website event without action_source / event_source_url')
    if (typeof e.event_id !== 'string') problem('meta: event without event_id (pixel dedup needs it)')
  }
  record('meta', names(data, 'event_name'), body.length)
  return { status: 200, body: JSON.stringify({ events_received: data.length, messages: [], fbtrace_id: randomBytes(8).toString('base64url') }) }
}

function tiktok (headers: IncomingHttpHeaders, body: string): Answer | undefined {
  if (headers['access-token'] !== CREDENTIALS.tiktok.accessToken) return bad('tiktok', 'no (or the wrong) Access-Token header')
  const o = parseJson('tiktok', body)
  if (o === undefined) return undefined
  if (o.event_source !== 'web' || o.event_source_id !== CREDENTIALS.tiktok.pixelCode) return bad('tiktok', 'body without event_source web / the pixel code')
  const data = array('tiktok', o, 'data')
  if (data === undefined) return undefined
  if (data.length > 1000) problem(`tiktok: request with ${data.length} events (limit 1,000)`)
  if (deep('tiktok')) {
    const u = (data[0].user ?? {}) as Obj
    if (u.ip !== VISITOR_IP) problem(`tiktok: user.ip is ${String(u.ip)}, expected ${VISITOR_IP}`)
    if (u.user_agent !== UA) problem('tiktok: user.user_agent is not the visitor\'s')
    if (typeof data[0].event_id !== 'string') problem('tiktok: event without event_id (pixel dedup needs it)')
  }
  record('tiktok', names(data, 'event'), body.length)
  return { status: 200, body: JSON.stringify({ code: 0, message: 'OK', request_id: randomBytes(12).toString('hex'), data: {} }) }
}

function posthog (body: string): Answer | undefined {
  const o = parseJson('posthog', body)
  if (o === undefined) return undefined
  if (o.api_key !== CREDENTIALS.posthog.apiKey) return bad('posthog', 'body has no (or the wrong) api_key')
  const batch = array('posthog', o, 'batch')
  if (batch === undefined) return undefined
  for (const e of batch) {
    // PostHog answers 200 and silently drops these: count them as problems here.
    if (typeof e.distinct_id !== 'string' || e.distinct_id === '' || typeof e.event !== 'string') { problem('posthog: an event without event name or distinct_id'); break }
  }
  if (deep('posthog')) {
    const p = (batch[0].properties ?? {}) as Obj
    if (p.$ip !== VISITOR_IP) problem(`posthog: $ip is ${String(p.$ip)}, expected ${VISITOR_IP}`)
    if (typeof batch[0].uuid !== 'string') problem('posthog: event without uuid (dedup of retries needs it)')
  }
  record('posthog', names(batch, 'event'), body.length)
  return { status: 200, body: '{"status":1}' }
}

function webhook (headers: IncomingHttpHeaders, body: string): Answer | undefined {
  const o = parseJson('webhook', body)
  if (o === undefined) return undefined
  const events = array('webhook', o, 'events')
  if (events === undefined) return undefined
  if (deep('webhook')) {
    verifySignature('webhook', headers, body)
    if (events[0].ip_override !== VISITOR_IP) problem(`webhook: ip_override is ${String(events[0].ip_override)}, expected ${VISITOR_IP}`)
  }
  record('webhook', names(events, 'event_name'), body.length)
  return ok200
}

function handle (method: string | undefined, rawUrl: string, headers: IncomingHttpHeaders, body: string): Answer | undefined {
  const url = new URL(rawUrl, 'http://sink')
  const tag = /^\/sink\/([^/]+)/.exec(url.pathname)?.[1]
  if (method !== 'POST' || tag === undefined) return bad('sink', `unexpected ${String(method)} ${rawUrl.slice(0, 80)}`)
  switch (tag) {
    case 'ga4': return ga4(url, body)
    case 'meta': return meta(url, body)
    case 'tiktok': return tiktok(headers, body)
    case 'posthog': return posthog(body)
    case 'webhook': return webhook(headers, body)
    default: return bad(tag, `unknown tag path ${url.pathname}`)
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')
    let answer: Answer | undefined
    try {
      answer = handle(req.method, req.url ?? '/', req.headers, body)
    } catch (err) {
      answer = bad('sink', `handler threw: ${(err as Error).message}`)
    }
    // Counted before answering: by the time the gateway counts a batch as sent, so has the sink.
    if (answer === undefined) {
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': '2' })
      res.end('{}')
    } else if (answer.body === undefined) {
      res.writeHead(answer.status, { 'content-length': '0' })
      res.end()
    } else {
      res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(answer.body)) })
      res.end(answer.body)
    }
  })
})
server.headersTimeout = 60_000

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stats') process.send?.({ type: 'stats', stats, problems, signaturesChecked, deepChecks, badRequests, nowMs: Date.now() })
  else if (msg.type === 'reset') {
    stats = {}
    problems = []
    deepChecks = {}
    signaturesChecked = 0
    badRequests = 0
    process.send?.({ type: 'reset' })
  }
})
// Exit with the parent, whatever happens to it.
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  process.send?.({ type: 'listening', port: typeof addr === 'object' && addr !== null ? addr.port : 0 })
})
