// `tagline try`: one input (a JSON file or a gtag hit URL) through the real clients, enrichment,
// routing and tag builds, reported tag by tag. Pure apart from reading the input file and, with
// `send`, one HTTP exchange per built request; no store, no queue, no dedup.
import { existsSync, readFileSync } from 'node:fs'
import type { Dispatcher } from 'undici'
import type { CompiledConfig, CompiledTag } from '../config/types.js'
import type { RequestSnapshot } from '../clients/types.js'
import type { TaglineEvent, Consent } from '../schemas/event.js'
import type { CutField, DropReason, OutgoingRequest, UserDataField } from '../tags/types.js'
import type { RoutingOutcome } from '../common/outcome.js'
import { claim } from '../clients/index.js'
import { enrich } from './enrich.js'
import { route, tagCopy } from './pipeline.js'
import { mintClientId } from './identity.js'
import { couldStitch } from './stitch.js'
import { parseJsonBody } from './snapshot.js'
import { errors } from '../common/errors.js'
import { systemIds, type IdSource } from './ids.js'
import { describeRequest, redactText, secretValues, type RequestDescription } from './delivery/redact.js'
import { createAgent } from './delivery/send.js'
import { exchange } from './delivery/exchange.js'
import { resolveRetryPolicy } from './delivery/retry.js'
import type { RequestResult } from './delivery/request-result.js'
import { pino } from 'pino'

export type TryInput =
  | { kind: 'json', text: string, name: string }
  | { kind: 'url', url: string }

export interface TryOptions {
  /** Default: true for a JSON file (a backend with an API key), false for a URL (a browser). */
  trusted?: boolean
  /** Send each built request once and classify the answer. */
  send?: boolean
  now?: number
  ids?: IdSource
  /** The visitor IP the edge would see for an untrusted request. */
  ip?: string
  /** Request headers (any case): user-agent, cookie, sec-gpc, accept-language, referer… */
  headers?: Record<string, string>
  dispatcher?: Dispatcher
}

/** Documentation address (RFC 5737): what a browser request is taken to come from by default. */
export const TRY_IP = '203.0.113.10'
const TRY_USER_AGENT = 'Mozilla/5.0 (compatible; tagline-try)'
/** How much of a response body the report keeps. */
const SHOWN_BODY_CHARS = 2000

export interface TryEventSummary {
  index: number
  event_name: string
  event_id?: string
  client_id?: string
  user_id?: string
  consent?: Consent
  gpc?: boolean
  /** Raw or hashed user data came in (each tag hashes or drops it; it is never printed). */
  user_data: boolean
}

/** What the gateway would decide for one input event at this tag, in the outcome vocabulary. */
export interface TryRouting { event: number, outcome: RoutingOutcome, detail?: string }

const SILENT = pino({ level: 'silent' })

export interface TryResponse {
  /** Why nothing was sent (dry run, `log:` URL). */
  skipped?: string
  status?: number
  body?: string
  truncated?: boolean
  error?: { code: string, message: string }
  outcome?: { kind: RequestResult['kind'], reason?: string, retryAfterMs?: number }
  durationMs?: number
}

interface TryRequest {
  /** Input event indices this request carries. */
  events: number[]
  request: RequestDescription
  response?: TryResponse
}

export interface TryTag {
  name: string
  type: string
  dryRun: boolean
  routing: TryRouting[]
  requests: TryRequest[]
  rejected: Array<{ event: number, reason: string }>
  /** User data the tag's prepare left out (counted in tagline_user_data_dropped_total by the gateway). */
  dropped: Array<{ event: number, field: UserDataField, reason: DropReason }>
  /** Values the tag's prepare cut to the destination's limit (tagline_values_cut_total). */
  cut: Array<{ event: number, field: CutField }>
  /** build() threw: a bug in the tag, reported rather than crashing the report. */
  error?: string
}

export interface TryReport {
  input: { kind: TryInput['kind'], name: string, client: string, trusted: boolean, method: string, path: string }
  now: number
  sent: boolean
  events: TryEventSummary[]
  tags: TryTag[]
  notes: string[]
}

/** A command-line argument as input: a URL (or `/path?query`), else a file to read. */
export function readTryInput (arg: string): TryInput {
  if (/^https?:\/\//i.test(arg)) return { kind: 'url', url: arg }
  // An absolute path with a query is a gateway path (`/g/collect?v=2…`) unless such a file exists.
  if (arg.startsWith('/') && arg.includes('?') && !existsSync(arg)) return { kind: 'url', url: arg }
  try {
    return { kind: 'json', text: readFileSync(arg, 'utf8'), name: arg }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new Error(`cannot read ${arg}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`)
  }
}

function lowerHeaders (h: Record<string, string> | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = v
  return out
}

function parseCookies (header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const value = part.slice(eq + 1).trim()
    try { out[part.slice(0, eq).trim()] = decodeURIComponent(value) } catch { out[part.slice(0, eq).trim()] = value }
  }
  return out
}

/** The snapshot the HTTP edge would have built for this input. */
function trySnapshot (input: TryInput, opts: TryOptions, now: number): RequestSnapshot {
  const trusted = opts.trusted ?? input.kind === 'json'
  const headers = lowerHeaders(opts.headers)
  if (!trusted) headers['user-agent'] ??= TRY_USER_AGENT
  const base = { headers, ip: opts.ip ?? TRY_IP, cookies: parseCookies(headers.cookie), trusted, requestId: 'try', receivedMs: now }
  if (input.kind === 'json') {
    headers['content-type'] ??= 'application/json'
    return { ...base, method: 'POST', path: '/collect', query: '', body: input.text, json: parseJsonBody(input.text, 'application/json'), contentType: 'application/json' }
  }
  let url: URL
  try {
    url = new URL(input.url, 'https://gateway.invalid')
  } catch {
    throw errors.badRequest(`Not a URL: ${input.url}`)
  }
  const absolute = /^https?:\/\//i.test(input.url)
  return {
    ...base,
    method: 'GET',
    path: url.pathname,
    query: url.search.slice(1),
    body: '',
    host: absolute ? url.host : undefined,
    protocol: url.protocol === 'http:' ? 'http' : 'https'
  }
}

/** A hit's query may carry user data (`ep.user_data.email`): the report names the URL without it. */
function withoutQuery (url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : `${url.slice(0, q)}?…`
}

function summary (e: TaglineEvent, index: number): TryEventSummary {
  const s: TryEventSummary = { index, event_name: e.event_name, user_data: e.user_data !== undefined }
  if (e.event_id !== undefined) s.event_id = e.event_id
  if (e.client_id !== undefined) s.client_id = e.client_id
  if (e.user_id !== undefined) s.user_id = e.user_id
  if (e.consent !== undefined) s.consent = e.consent
  if (e.source?.gpc === true) s.gpc = true
  return s
}

/** One request through the delivery core's own exchange, reported with secrets and user data redacted. */
async function trySend (tag: CompiledTag, req: OutgoingRequest, secrets: readonly string[], carried: TaglineEvent[], dispatcher: Dispatcher, now: number): Promise<TryResponse> {
  const { sent, result } = await exchange(req, { tag, secrets, policy: resolveRetryPolicy(tag.retry), dispatcher, logger: SILENT, now: () => now })
  // exchange() sends nothing for a dry run or a `log:` URL: say which.
  if (sent === undefined) return { skipped: tag.dryRun ? 'dryRun: the gateway logs this request instead of sending it' : 'log: URL: the gateway writes this request to its log' }
  const durationMs = Math.round(sent.durationMs)
  if (sent.kind === 'error') return { error: { code: sent.code, message: redactText(sent.message, secrets, carried) }, durationMs }
  const body = redactText(sent.response.body, secrets, carried)
  const out: TryResponse = { status: sent.response.status, body: body.slice(0, SHOWN_BODY_CHARS), durationMs }
  if (body.length > SHOWN_BODY_CHARS) out.truncated = true
  out.outcome = { kind: result.kind }
  if (result.kind !== 'ok') out.outcome.reason = redactText(result.reason, secrets, carried)
  if (result.kind === 'retry' && (result.floorMs ?? 0) > 0) out.outcome.retryAfterMs = result.floorMs
  return out
}

/** Run an input through the configured clients, enrichment and tags. Throws a TaglineError (4xx) for bad input. */
export async function tryEvent (config: CompiledConfig, input: TryInput, opts: TryOptions = {}): Promise<TryReport> {
  const ids = opts.ids ?? systemIds
  const now = opts.now ?? ids.now()
  const snap = trySnapshot(input, opts, now)
  const parsed = claim(snap)
  if (parsed.error !== undefined) throw parsed.error
  const events = enrich(parsed.events, snap, parsed.client, config.identity, ids).events
  const notes: string[] = []
  // The gateway would first look a trusted event's visitor up in the store; try has no store.
  const unstitched = events.flatMap((e, i) => config.identity.stitch.enabled && couldStitch(e) ? [`#${i} ${e.event_name}`] : [])
  if (unstitched.length > 0) {
    notes.push(`stitching is not simulated (${unstitched.join(', ')}): the gateway fills a trusted event's missing IP, user agent, page URL, fbp/fbc/ttp and click ids from the visitor's last browser context, found by transaction_id, user_id or client_id`)
  }
  events.forEach((e, i) => {
    if (e.client_id !== undefined) return
    e.client_id = mintClientId(ids, now)
    notes.push(`#${i} ${e.event_name} has no client_id: one was minted (${e.client_id}), as the gateway does when stitching finds none`)
  })
  const report: TryReport = {
    input: { kind: input.kind, name: input.kind === 'json' ? input.name : withoutQuery(input.url), client: parsed.client, trusted: snap.trusted, method: snap.method, path: snap.path },
    now,
    sent: opts.send === true,
    events: events.map(summary),
    tags: [],
    notes
  }
  const dispatcher = opts.send === true ? opts.dispatcher ?? createAgent() : undefined
  try {
    for (const tag of config.tags) report.tags.push(await tryTag(tag, events, config, now, dispatcher))
  } finally {
    if (dispatcher !== undefined && opts.dispatcher === undefined) await dispatcher.close()
  }
  return report
}

async function tryTag (tag: CompiledTag, events: TaglineEvent[], config: CompiledConfig, now: number, dispatcher: Dispatcher | undefined): Promise<TryTag> {
  const { honorGpc } = config.privacy
  const out: TryTag = { name: tag.name, type: tag.type, dryRun: tag.dryRun, routing: [], requests: [], rejected: [], dropped: [], cut: [] }
  const secrets = secretValues(tag.settings, tag.def.secrets)
  const copies: TaglineEvent[] = []
  const origin: number[] = [] // copy index → input event index
  events.forEach((event, i) => {
    const r = route(tag, event, honorGpc)
    out.routing.push(r.detail !== undefined ? { event: i, outcome: r.outcome, detail: r.detail } : { event: i, outcome: r.outcome })
    if (r.outcome !== 'queued') return
    try {
      copies.push(tagCopy(tag, event, {
        dateOrder: config.identity.dateOrder,
        dropped: (field, reason) => out.dropped.push({ event: i, field, reason }),
        cut: field => out.cut.push({ event: i, field })
      }))
      origin.push(i)
    } catch (err) {
      out.rejected.push({ event: i, reason: `prepare failed (the gateway dead-letters the event for this tag, without its user data): ${redactText((err as Error).message, secrets, [event])}` })
    }
  })
  // Batches as delivery would cut them, so a multi-event input shows the requests really sent.
  const size = Math.max(1, tag.batch.maxEvents)
  for (let start = 0; start < copies.length; start += size) {
    const chunk = copies.slice(start, start + size)
    let built
    try {
      built = tag.def.build(chunk, tag.settings, { now, batchId: 'try', attempt: 1 })
    } catch (err) {
      out.error = `build failed: ${redactText((err as Error).message, secrets, origin.slice(start, start + size).map(i => events[i]))}`
      return out
    }
    for (const r of built.rejected ?? []) out.rejected.push({ event: origin[start + r.index], reason: redactText(r.reason, secrets, [events[origin[start + r.index]]]) })
    for (const req of built.requests) {
      const entry: TryRequest = { events: req.events.map(i => origin[start + i]), request: describeRequest(req, secrets) }
      if (dispatcher !== undefined) entry.response = await trySend(tag, req, secrets, entry.events.map(i => events[i]), dispatcher, now)
      out.requests.push(entry)
    }
  }
  return out
}
