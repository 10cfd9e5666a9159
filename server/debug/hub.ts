// The trace hub: where the pipeline, delivery and the debug view meet. Nothing is traced unless
// someone watches (here or, with Redis, on any replica) or the traffic is marked for debugging,
// so an unwatched gateway pays one boolean test per request and per delivered batch.
import type { Logger } from 'pino'
import type { TaglineEvent } from '../../schemas/event.js'
import type { RequestSnapshot } from '../../clients/types.js'
import type { DeliveryObserver, RequestObserver } from '../observer.js'
import type { TagDecision } from '../../common/outcome.js'
import { describeIncoming, redactHit, REDACTED, scrubEmails } from '../delivery/redact.js'
import { isContactName } from '../../tags/pii.js'
import { truncateIp } from '../ip.js'
import type { TraceEntry, TracedRequest } from './trace.js'

/** Carries entries between replicas (server/debug/redis-bus.ts); absent, the hub is process-local. */
export interface TraceBus {
  /** True while a view is open on any replica (known within the bus's poll interval). */
  readonly fleetWatching: boolean
  publish (entry: TraceEntry): void
  /** Start receiving every replica's entries; resolves once subscribed. */
  listen (onEntry: (entry: TraceEntry) => void): Promise<void>
  /** Stop receiving (the last view here closed). */
  unlisten (): Promise<void>
  close (): Promise<void>
}

export interface TraceHubOptions {
  /** This process, as views name it (host:pid). */
  replica: string
  /** Entries kept for a view that opens (read per entry: a reload may change it). */
  ringSize: () => number
  bus?: TraceBus
  logger?: Logger
}

/** A view: each entry, and its JSON (made once here, for the ring's size and every view). */
type Viewer = (entry: TraceEntry, json: string) => void

/**
 * What the ring may hold in all, besides its count (debug.ringSize). Anyone can mark a request
 * (?tagline_debug=1), and one marked request of many events traced 10 MB: 500 of them would have
 * exhausted the heap. Sizes are the entries' JSON lengths.
 */
export const RING_MAX_CHARS = 32 * 1024 * 1024

export class TraceHub {
  readonly replica: string
  readonly #ring: TraceEntry[] = []
  /** The JSON length of each ring entry, and their sum. */
  readonly #sizes: number[] = []
  #chars = 0
  readonly #viewers = new Set<Viewer>()
  #listening: Promise<void> | undefined
  #seq = 0

  constructor (private readonly opts: TraceHubOptions) {
    this.replica = opts.replica
  }

  /** Whether every request and delivery is traced now: a view is open here or on another replica. */
  get watched (): boolean {
    return this.#viewers.size > 0 || this.opts.bus?.fleetWatching === true
  }

  /** True when views see every replica's traces (Redis), not only this process's. */
  get fleet (): boolean {
    return this.opts.bus !== undefined
  }

  /** What a view that opens now is shown first, oldest first. */
  recent (): readonly TraceEntry[] {
    return this.#ring
  }

  /** A view opened: it gets every entry from now on until the returned function is called. */
  async watch (viewer: Viewer): Promise<() => void> {
    this.#viewers.add(viewer)
    const bus = this.opts.bus
    if (bus !== undefined) {
      this.#listening ??= bus.listen(entry => { this.#deliver(entry) }).catch(err => {
        this.#listening = undefined
        this.opts.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'debug view: cannot receive other replicas\' traces')
      })
      await this.#listening
    }
    return () => {
      if (!this.#viewers.delete(viewer) || this.#viewers.size > 0 || bus === undefined) return
      this.#listening = undefined
      void bus.unlisten().catch(() => {})
    }
  }

  /** One entry recorded here: to every replica's views through the bus, or straight to this one's. */
  record (traced: TraceEntry): void {
    // Pages put e-mail addresses in URLs (?email=…), and those travel on in page_location.
    const entry = withoutEmails(traced) as TraceEntry
    const bus = this.opts.bus
    // Through the bus only when some view listens on it; marked traffic nobody watches stays in
    // this process's ring, for a view opened here later.
    if (bus !== undefined && bus.fleetWatching) bus.publish(entry)
    else this.#deliver(entry)
  }

  #deliver (entry: TraceEntry): void {
    const json = JSON.stringify(entry)
    const size = json.length
    this.#ring.push(entry)
    this.#sizes.push(size)
    this.#chars += size
    // The oldest go first, past the count or the total size; the newest entry always stays.
    let excess = Math.max(0, this.#ring.length - this.opts.ringSize())
    let chars = this.#chars
    for (let i = 0; i < excess; i++) chars -= this.#sizes[i]
    while (chars > RING_MAX_CHARS && excess < this.#ring.length - 1) chars -= this.#sizes[excess++]
    if (excess > 0) {
      this.#ring.splice(0, excess)
      this.#sizes.splice(0, excess)
      this.#chars = chars
    }
    for (const v of this.#viewers) {
      try { v(entry, json) } catch {}
    }
  }

  /**
   * A tracer for one incoming request, or undefined when it is not traced (nobody watches and it
   * is not marked). The route calls finish() once it knows the answer.
   */
  trace (snap: RequestSnapshot, marked: boolean): RequestTracer | undefined {
    if (!marked && !this.watched) return undefined
    return new RequestTracer(this, snap, marked, `${this.replica}/${++this.#seq}`)
  }

  /** Delivery's observer: its callbacks exist only while tracing could want them. */
  deliveryObserver (): DeliveryObserver {
    const hub = this
    const now = (): number => Date.now()
    return {
      wants (events: readonly TaglineEvent[]): boolean {
        return hub.watched || events.some(e => e.source?.debug === true)
      },
      exchange (x) {
        hub.record({
          kind: 'exchange',
          at: now(),
          replica: hub.replica,
          tag: x.tag,
          batchId: x.batchId,
          attempt: x.attempt,
          event_ids: x.events.map(e => e.event_id ?? ''),
          request: x.request,
          ...(x.answer !== undefined ? { answer: x.answer } : {}),
          result: x.result.kind,
          ...('reason' in x.result && x.result.reason !== undefined ? { reason: x.result.reason } : {}),
          ...(x.durationMs !== undefined ? { durationMs: Math.round(x.durationMs * 10) / 10 } : {})
        })
      },
      outcome (x) {
        if (!hub.watched && x.event.source?.debug !== true) return
        hub.record({
          kind: 'outcome',
          at: now(),
          replica: hub.replica,
          tag: x.tag,
          event_id: x.event.event_id ?? '',
          event_name: x.event.event_name,
          outcome: x.outcome,
          ...(x.reason !== undefined ? { reason: x.reason } : {}),
          ...(x.event.event_id !== undefined ? { sent_event_id: x.event.event_id } : {})
        })
      }
    }
  }
}

function withoutEmails (v: unknown): unknown {
  if (typeof v === 'string') return scrubEmails(v)
  if (Array.isArray(v)) return v.map(withoutEmails)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) out[k] = withoutEmails(x)
  return out
}

/** An event as the view shows it: user data values masked (their fields kept), the IP truncated. */
function shownEvent (e: TaglineEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e }
  if (e.user_data !== undefined) {
    const mask = (v: unknown): unknown => v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).map(k => [k, mask((v as Record<string, unknown>)[k])]))
      : REDACTED
    out.user_data = mask(e.user_data)
  }
  if (typeof e.ip_override === 'string') out.ip_override = truncateIp(e.ip_override) ?? REDACTED
  // Contact details a sender put in a parameter or user property (`phone`), and in the raw hit.
  for (const k of ['params', 'user_properties'] as const) {
    const o = e[k] as Record<string, unknown> | undefined
    if (o !== undefined && Object.keys(o).some(isContactName)) out[k] = Object.fromEntries(Object.entries(o).map(([n, v]) => [n, isContactName(n) ? REDACTED : v]))
  }
  const raw = e['x-ga-raw'] as { query?: unknown, line?: unknown } | undefined
  if (raw !== undefined && raw !== null && typeof raw === 'object') {
    out['x-ga-raw'] = Object.fromEntries(Object.entries(raw).map(([n, v]) => [n, typeof v === 'string' ? redactHit(v) : v]))
  }
  return out
}

/** Collects one request's trace from the pipeline (it is a RequestObserver) and records it once. */
export class RequestTracer implements RequestObserver {
  readonly #entry: TracedRequest
  #events: readonly TaglineEvent[] = []

  constructor (private readonly hub: TraceHub, snap: RequestSnapshot, marked: boolean, id: string) {
    const url = snap.query === '' ? snap.path : `${snap.path}?${snap.query}`
    this.#entry = {
      kind: 'request',
      id,
      at: snap.receivedMs,
      replica: hub.replica,
      marked,
      client: 'none',
      request: describeIncoming({ method: snap.method, url, headers: snap.headers, body: snap.body, ip: snap.ip }),
      events: [],
      decisions: []
    }
  }

  claimed (client: string): void {
    this.#entry.client = client
  }

  events (events: readonly TaglineEvent[]): void {
    // Read at finish(): the pipeline still mints client ids and stitches backend events in place.
    this.#events = events
  }

  /** The answer the sender got (a status, and the error code of a refusal). */
  finish (status: number, error?: string): void {
    this.#entry.status = status
    if (error !== undefined) this.#entry.error = error
    for (const e of this.#events) {
      this.#entry.events.push({
        event_id: e.event_id ?? '',
        event_name: e.event_name,
        ...(e.client_id !== undefined ? { client_id: e.client_id } : {}),
        browser_event_id: e.source?.minted_event_id === true ? null : e.event_id ?? null,
        event: shownEvent(e)
      })
    }
    this.hub.record(this.#entry)
  }

  routed (event: TaglineEvent, d: TagDecision): void {
    this.#entry.decisions.push({ event_id: event.event_id ?? '', tag: d.tag, outcome: d.outcome, ...(d.detail !== undefined ? { detail: d.detail } : {}) })
  }
}
