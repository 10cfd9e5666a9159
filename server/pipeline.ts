// One request's events: enrich → stitch trusted backend events → for each tag: route (triggers,
// accepts, consent, GPC) → the tag's copy (transformations, IP mode, prepare) → enqueue, where
// each tag's queue drops repeats of (event_name, event_id) in the step that stores the event.
import { hash } from 'node:crypto'
import type { RequestSnapshot, ParsedEvent } from '../clients/types.js'
import type { CompiledConfig, CompiledTag } from '../config/types.js'
import { withoutProtocolFields, type Consent, type TaglineEvent } from '../schemas/event.js'
import type { Store } from './store/types.js'
import type { StoreFaults } from './store/faults.js'
import type { Metrics } from './metrics.js'
import type { TagDecision } from '../common/outcome.js'
import type { PrepareContext } from '../tags/types.js'
import type { EnqueueItem, EnqueueOutcome, Enqueuer } from './delivery/index.js'
import type { RequestObserver } from './observer.js'
import type { IdSource } from './ids.js'
import { enrich, type CookieToSet } from './enrich.js'
import { mintClientId } from './identity.js'
import { applyTransform, hasTransform } from './transform.js'
import { applyIpMode, contextIpMode, type IpMode } from './ip.js'
import { contextFields, contextKeys, contextOf, fromFields, learnedKeys, stitch, type BrowserContext } from './stitch.js'
import { errors, isTaglineError } from '../common/errors.js'

export interface PipelineDeps {
  config: CompiledConfig
  store: Store
  contexts: ContextWriter
  /** Told of store operations that fail (counted and logged). */
  faults: StoreFaults
  delivery: Enqueuer
  metrics: Metrics
  ids: IdSource
  /** Told what the pipeline decides for this request; absent, nothing is computed for it. */
  observer?: RequestObserver
}

export interface PipelineResult {
  accepted: number
  deduplicated: number
  event_ids: string[]
  cookies: CookieToSet[]
}

/** Whether a tag takes the event, and why not. Shared by the pipeline and `tagline try`. */
export function route (tag: CompiledTag, event: TaglineEvent, honorGpc = true): TagDecision {
  if (!tag.enabled) return { tag: tag.name, outcome: 'disabled' }
  const decision = tag.decide(event)
  if (!decision.fire) {
    return decision.reason === 'blocked'
      ? { tag: tag.name, outcome: 'blocked_by_trigger', detail: decision.trigger }
      : { tag: tag.name, outcome: 'not_triggered' }
  }
  const accepted = tag.def.accepts?.(event, tag.settings) ?? true
  if (accepted !== true) return { tag: tag.name, outcome: 'declined', detail: accepted }
  const refused = tag.consent.find(type => event.consent?.[type] === 'denied')
  if (refused !== undefined) return { tag: tag.name, outcome: 'blocked_by_consent', detail: refused }
  // Global Privacy Control is a legally recognised opt-out of sale/sharing in several US states.
  if (honorGpc && event.source?.gpc === true && tag.def.category === 'ads') return { tag: tag.name, outcome: 'blocked_by_consent', detail: 'gpc' }
  return { tag: tag.name, outcome: 'queued', detail: decision.trigger }
}

// One copy without protocol values per event, shared by the tags that leave them out, so that
// what they queue is one object (serialised once in Redis mode).
const leanCopies = new WeakMap<TaglineEvent, TaglineEvent>()

function lean (event: TaglineEvent, keep: 'all' | readonly string[] = []): TaglineEvent {
  if (keep === 'all') return event
  if (keep.length > 0) return withoutProtocolFields(event, keep)
  let copy = leanCopies.get(event)
  if (copy === undefined) leanCopies.set(event, copy = withoutProtocolFields(event))
  return copy
}

/**
 * The tag's own copy of an event: transformations, the raw GA4 protocol values left out unless
 * the tag reads them, IP handling, then the tag's prepare step.
 */
export function tagCopy (tag: CompiledTag, event: TaglineEvent, told: PrepareContext = {}): TaglineEvent {
  let copy = hasTransform(tag.params) ? applyTransform(event, tag.params) : event
  copy = lean(copy, tag.def.protocolFields?.(tag.settings))
  if (tag.ip !== 'full' && copy.ip_override !== undefined) {
    copy = { ...copy }
    const ip = applyIpMode(copy.ip_override, tag.ip)
    if (ip === undefined) delete copy.ip_override
    else copy.ip_override = ip
  }
  return tag.def.prepare !== undefined ? tag.def.prepare(copy, tag.settings, told) : copy
}

// A mark lives for the dedup window, per tag: a visitor's 60 KB event id must not be kept whole
// that long. Longer keys are kept as their hash (no short key has that form: they hold a NUL).
const DEDUP_KEY_MAX = 256

function dedupKey (e: TaglineEvent): string {
  const key = `${e.event_name}\u0000${e.event_id}`
  return key.length <= DEDUP_KEY_MAX ? key : `sha256:${hash('sha256', key, 'base64url')}`
}

/**
 * `after`: the visitor's consent as the request leaves it, where that is more than its events say
 * (`Client.consentAfter`); the cookies set and the context left follow it.
 */
export async function runPipeline (deps: PipelineDeps, snap: RequestSnapshot, client: string, parsed: ParsedEvent[], after?: Consent): Promise<PipelineResult> {
  const { config, store, metrics } = deps
  metrics.eventsReceived.inc({ client }, parsed.length)
  const { events, cookies, clamped, visitor } = enrich(parsed, snap, client, config.identity, deps.ids, after)
  if (clamped > 0) metrics.eventTimesClamped.inc({ client }, clamped)
  const trace = deps.observer
  trace?.claimed?.(client, snap)
  trace?.events?.(events)

  if (config.identity.stitch.enabled) {
    await stitchBackendEvents(store, events, deps.faults)
    // The answer after the last event is left under each event's keys too, after what they left:
    // a refusal there replaces what they merged.
    const left = after === undefined ? events : [...events, ...events.map(e => ({ ...e, consent: { ...e.consent, ...after } })), ...visitor !== undefined ? [visitor] : []]
    deps.contexts.remember(left, snap.receivedMs, contextIpMode(config.tags))
  }
  for (const e of events) e.client_id ??= mintClientId(deps.ids, snap.receivedMs)

  const items: EnqueueItem[] = []
  /** Per item: its event's index and the routing decision. */
  const routed: Array<{ i: number, decision: TagDecision }> = []
  const unprepared: Array<{ tag: string, event: TaglineEvent, reason: string }> = []
  // Minted ids are new by construction; only ids that came from outside can repeat.
  const keys = config.dedup.enabled ? events.map(e => e.source?.minted_event_id === true ? undefined : dedupKey(e)) : []
  for (const tag of config.tags) {
    // A phone number nobody can place in a country, an e-mail that is not one: the shop should see
    // which of its fields a destination never gets, and why.
    // A value cut to the destination's limit: delivered, but not whole.
    const told: PrepareContext = {
      dateOrder: config.identity.dateOrder,
      dropped: (field, reason) => { metrics.userDataDropped.inc({ tag: tag.name, field, reason }) },
      cut: field => { metrics.valuesCut.inc({ tag: tag.name, field }) }
    }
    for (let i = 0; i < events.length; i++) {
      const event = events[i]
      const r = route(tag, event, config.privacy.honorGpc)
      if (r.outcome === 'queued') {
        try {
          items.push({ tag: tag.name, event: tagCopy(tag, event, told), key: keys[i] })
          routed.push({ i, decision: r })
        } catch (err) {
          // prepare() is meant to be total; if one ever throws, the tag never gets the event
          // unprepared (it may hold raw user data): delivery dead-letters it without its user data.
          trace?.routed?.(event, r)
          unprepared.push({ tag: tag.name, event, reason: `prepare failed: ${err instanceof Error ? err.message : String(err)} (user_data removed: it was never prepared)` })
        }
        continue
      }
      trace?.routed?.(event, r)
      if (r.outcome !== 'disabled') metrics.countOutcome(tag.name, r.outcome)
    }
  }
  let outcomes: EnqueueOutcome[] = []
  if (items.length > 0) {
    try {
      // Without API keys no request is a backend's: no reserve to keep for one.
      outcomes = await deps.delivery.enqueue(items, { dedupMs: config.dedup.enabled ? config.dedup.windowMs : undefined, anonymous: !snap.trusted && config.apiKeys.length > 0 })
    } catch (err) {
      if (isTaglineError(err)) throw err
      // The store's own message (hosts, ports) is for the operator's log, not for browsers.
      deps.faults.report('enqueue', err)
      throw errors.storeUnavailable('The events could not be stored; nothing was accepted. Try again shortly.')
    }
  }
  // An event is a repeat when every tag it was queued for already had it.
  const repeat = new Array<boolean | undefined>(events.length)
  for (let k = 0; k < routed.length; k++) {
    const { i, decision } = routed[k]
    const dup = outcomes[k] === 'deduplicated'
    repeat[i] = (repeat[i] ?? true) && dup
    trace?.routed?.(events[i], dup ? { tag: decision.tag, outcome: 'deduplicated' } : decision)
  }
  const deduplicated = repeat.filter(r => r === true).length
  if (deduplicated > 0) metrics.eventsDeduplicated.inc(deduplicated)
  // Only once the request is accepted: a refused one is sent again, and would be dead-lettered twice.
  for (const u of unprepared) await deps.delivery.deadLetter(u.tag, u.event, u.reason).catch(() => {})
  return { accepted: events.length, deduplicated, event_ids: events.map(e => e.event_id as string), cookies }
}

/** Trusted backend events get what they lack from the visitor's last browser context. */
async function stitchBackendEvents (store: Store, events: TaglineEvent[], faults: StoreFaults): Promise<void> {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]
    if (e.source?.trusted !== true) continue
    const keys = contextKeys(e)
    if (keys.length === 0) continue
    // A store that cannot answer costs the event its stitching, not its delivery.
    const lookup = async (ks: string[]): Promise<Array<BrowserContext | undefined>> => await Promise.all(ks.map(k => store.fields(k).then(fromFields, (err: unknown) => {
      faults.report('context_read', err)
      return undefined
    })))
    const found = await lookup(keys)
    const more = learnedKeys(found).filter(k => !keys.includes(k))
    // All of them before anything is filled: the newest may be a refusal the first ones predate.
    if (more.length > 0) found.push(...await lookup(more))
    events[i] = stitch(e, found)
  }
}

/**
 * What this process last wrote per context key (without `at_ms`), so a visitor's every hit does
 * not rewrite an unchanged record: with Redis that is a round trip per beacon saved. Bounded;
 * a record is refreshed at least every REWRITE_AFTER_MS so its ttl keeps running from recent use.
 */
const REWRITE_AFTER_MS = 10 * 60_000
const MAX_REMEMBERED = 50_000

export class ContextWriter {
  #last = new Map<string, { sig: string, at: number }>()

  constructor (private readonly store: Store, private readonly ttlMs: number, private readonly faults?: StoreFaults) {}

  /** Keys it holds a note of (at most REWRITE_AFTER_MS old, as of the last write). */
  get noted (): number { return this.#last.size }

  /** Browser events leave their context behind, off the request path: a failed write only means
   * a later backend event is not stitched. `ip`: how much of the visitor IP the context keeps. */
  remember (events: TaglineEvent[], now: number, ip: IpMode = 'full'): void {
    // Per key, what this request leaves, in its events' order: a refusal replaces the record (and
    // what earlier events of the request merged), a later event merges onto that again.
    const latest = new Map<string, { fields: Record<string, string>, replace: boolean }>()
    for (const e of events) {
      const ctx = contextOf(e)
      if (ctx === undefined) continue
      if (ip !== 'full' && ctx.ip_override !== undefined) {
        const kept = applyIpMode(ctx.ip_override, ip)
        if (kept === undefined) delete ctx.ip_override
        else ctx.ip_override = kept
      }
      const fields = contextFields(ctx)
      for (const key of contextKeys(e)) {
        const before = latest.get(key)
        latest.set(key, ctx.refused === true
          ? { fields, replace: true }
          : { fields: { ...before?.fields, ...fields }, replace: before?.replace === true })
      }
    }
    for (const [key, { fields, replace }] of latest) {
      const { at_ms: _at, ...rest } = fields
      // A digest: notes are kept for up to 50,000 keys, and a context may hold kilobytes.
      const sig = hash('sha1', JSON.stringify(rest), 'base64')
      const last = this.#last.get(key)
      // A refusal is always written: another replica may have written a grant since this one
      // last wrote the same refusal, and its note cannot know.
      if (!replace && last !== undefined && last.sig === sig && now - last.at < REWRITE_AFTER_MS) continue
      this.#last.delete(key)
      this.#last.set(key, { sig, at: now })
      // Oldest first (a rewritten key moves to the end): past REWRITE_AFTER_MS a note saves no
      // write and only keeps a visitor's context in memory.
      for (const [k, v] of this.#last) {
        if (now - v.at < REWRITE_AFTER_MS && this.#last.size <= MAX_REMEMBERED) break
        this.#last.delete(k)
      }
      // A grant never undoes a newer refusal another replica wrote first: writes are ordered by
      // arrival (at_ms); a refusal always lands.
      this.store.merge(key, fields, this.ttlMs, { replace, order: 'at_ms' }).catch((err: unknown) => {
        this.#last.delete(key)
        this.faults?.report('context_write', err)
      })
    }
  }
}
