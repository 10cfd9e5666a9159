// The benchmark's webhook receiver, run as a child process (bench/run.ts forks it). Answers every
// POST /sink/<tag> with 200 at once, parses the `{ events: [...] }` body and counts events per tag.
// It also checks what each tag received, so a fast-but-wrong gateway cannot pass:
//  - the Standard Webhooks signature of the first batches of tags that have a secret,
//  - `ecommerce` / `purchases` only get the event names their triggers allow,
//  - `analytics` gets none of the fields its params.exclude removes.
// Talks to the parent over IPC: { type: 'stats' } → counters, { type: 'reset' } → zero them.
import { createServer } from 'node:http'
import { createHmac } from 'node:crypto'
import { ANALYTICS_EXCLUDE } from './inputs.js'

interface TagStats {
  events: number
  batches: number
  bytes: number
  maxBatch: number
  firstMs: number
  lastMs: number
  byEventName: Record<string, number>
}

const secrets: Record<string, string> = JSON.parse(process.env.SINK_SECRETS ?? '{}')
const SIGNATURE_CHECKS = 5

let stats: Record<string, TagStats> = {}
let problems: string[] = []
let signaturesChecked = 0
let badRequests = 0

const ALLOWED: Record<string, Set<string>> = {
  ecommerce: new Set(['view_item', 'add_to_cart', 'begin_checkout', 'purchase']),
  purchases: new Set(['purchase'])
}

function problem (msg: string): void {
  if (problems.length < 20) problems.push(msg)
}

function verify (tag: string, headers: Record<string, string | string[] | undefined>, body: string): void {
  const secret = secrets[tag]
  if (secret === undefined || signaturesChecked >= SIGNATURE_CHECKS) return
  signaturesChecked++
  const id = String(headers['webhook-id'])
  const ts = String(headers['webhook-timestamp'])
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  const want = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`
  const got = String(headers['webhook-signature'] ?? '').split(' ')
  if (!got.includes(want)) problem(`${tag}: bad webhook-signature on batch ${id}`)
}

function record (tag: string, events: Array<Record<string, unknown>>, bytes: number): void {
  const now = Date.now()
  const s = stats[tag] ??= { events: 0, batches: 0, bytes: 0, maxBatch: 0, firstMs: now, lastMs: now, byEventName: {} }
  s.events += events.length
  s.batches++
  s.bytes += bytes
  s.lastMs = now
  if (events.length > s.maxBatch) s.maxBatch = events.length
  const allowed = ALLOWED[tag]
  for (const e of events) {
    const name = String(e.event_name)
    s.byEventName[name] = (s.byEventName[name] ?? 0) + 1
    if (allowed !== undefined && !allowed.has(name)) problem(`${tag}: received a ${name} event`)
    if (tag === 'analytics') {
      for (const k of ANALYTICS_EXCLUDE) if (k in e) problem(`analytics: excluded field ${k} arrived`)
    }
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    res.writeHead(200, { 'content-length': '0' })
    res.end()
    const m = /^\/sink\/([^/?]+)/.exec(req.url ?? '')
    const body = Buffer.concat(chunks).toString('utf8')
    if (req.method !== 'POST' || m === null) { badRequests++; return }
    const tag = m[1]
    let events: unknown
    try {
      events = (JSON.parse(body) as { events?: unknown }).events
    } catch {
      badRequests++
      problem(`${tag}: body is not JSON`)
      return
    }
    if (!Array.isArray(events)) { badRequests++; problem(`${tag}: body has no events array`); return }
    verify(tag, req.headers, body)
    record(tag, events as Array<Record<string, unknown>>, body.length)
  })
})
server.headersTimeout = 60_000

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stats') process.send?.({ type: 'stats', stats, problems, signaturesChecked, badRequests, nowMs: Date.now() })
  else if (msg.type === 'reset') {
    stats = {}
    problems = []
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
