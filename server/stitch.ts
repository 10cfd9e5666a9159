// Context stitching: a backend event (a Stripe webhook turned into a purchase, a sign-up) rarely
// knows the visitor's IP, user agent, cookies or click ids, and its match quality at the ad
// platforms collapses. The gateway remembers the last browser context per client_id, user_id and
// transaction_id, and fills what a trusted backend event lacks. Pure: the pipeline does the I/O.
import { CONSENT_TYPES, type TaglineEvent, type BrowserIds, type ClickIds, type Campaign, type Consent } from '../schemas/event.js'
import { cutText } from '../common/guards.js'

export interface BrowserContext {
  client_id?: string
  /** So a stitched purchase lands in the visitor's GA4 session. */
  ga_session_id?: string
  ip_override?: string
  user_agent?: string
  language?: string
  page_location?: string
  browser_ids?: BrowserIds
  click_ids?: ClickIds
  campaign?: Campaign
  /**
   * The signed-in user the browser event named. Kept only so that erasure (server/forget.ts) finds
   * a user's contexts under their browsers' client ids and order ids too; never stitched.
   */
  user_id?: string
  /** The consent the browser event stated: a backend event that states none takes it. */
  consent?: Consent
  /**
   * The visitor refused (ad_storage or ad_user_data denied, or a Global Privacy Control signal).
   * Such a context holds no identifiers: writing it erases what earlier hits left.
   */
  refused?: boolean
  gpc?: boolean
  at_ms: number
}

const SCALARS = ['client_id', 'ga_session_id', 'ip_override', 'user_agent', 'language', 'page_location'] as const
/**
 * A visitor sets these values, and a context outlives the request (days, in the store and in
 * ContextWriter's notes): ids longer than KEY_ID_MAX name no context (real client, user and order
 * ids are far shorter), and a context keeps values up to FIELD_MAX characters: a page URL is cut
 * there (GA4 itself keeps 1,000), anything else longer is left out (a cut id would be wrong).
 */
const KEY_ID_MAX = 256
const FIELD_MAX = 1024
const kept = (k: string, v: string): string | undefined => v.length <= FIELD_MAX ? v : k === 'page_location' ? cutText(v, FIELD_MAX, true) : undefined
const GROUPS = ['browser_ids', 'click_ids', 'campaign'] as const

/** What a refusal keeps (and stitches): GA4's client and session ids. */
const ANALYTICS_IDS = ['client_id', 'ga_session_id'] as const

/**
 * The context a browser event leaves behind (none for a backend's). When the visitor refused ad
 * storage or ad data, or sent a Global Privacy Control signal, it is a refusal: their consent and
 * nothing else, written in place of what earlier hits left (ContextWriter), so that a later
 * backend event for the same visitor, order or user is not given identifiers they took back, and
 * takes their refusal as its consent when it states none (stitch).
 */
export function contextOf (e: TaglineEvent): BrowserContext | undefined {
  if (e.source?.trusted !== false) return undefined
  // When the gateway received it, not the time the sender claims: which context is the newest
  // decides whether a refusal holds, and a browser's clock (or a JSON beacon's timestamp) may lag.
  const at = e.source.received_ms
  const consent = e.consent !== undefined && Object.keys(e.consent).length > 0 ? { ...e.consent } : undefined
  const gpc = e.source.gpc === true
  if (gpc || e.consent?.ad_storage === 'denied' || e.consent?.ad_user_data === 'denied') {
    const refusal: BrowserContext = { at_ms: at, refused: true, gpc }
    if (consent !== undefined) refusal.consent = consent
    // GA4's own ids are no ad identifier (no ad tag reads them): unless analytics was refused too,
    // a backend purchase still lands in the visitor's GA4 session rather than as a new user.
    if (e.consent?.analytics_storage !== 'denied') for (const k of ANALYTICS_IDS) if (e[k] !== undefined) refusal[k] = e[k]
    // Never stitched; `tagline forget --user-id` finds the refusal's records by it.
    if (e.user_id !== undefined) refusal.user_id = e.user_id
    return refusal
  }
  const ctx: BrowserContext = { at_ms: at, gpc: false }
  if (consent !== undefined) ctx.consent = consent
  for (const k of SCALARS) if (e[k] !== undefined) ctx[k] = e[k]
  for (const k of GROUPS) if (e[k] !== undefined && Object.keys(e[k] as object).length > 0) (ctx as unknown as Record<string, unknown>)[k] = { ...e[k] }
  if (e.user_id !== undefined) ctx.user_id = e.user_id
  return ctx
}

/** Whether stitching could fill anything here: a trusted event, with a key to look up, missing a field. */
export function couldStitch (e: TaglineEvent): boolean {
  if (e.source?.trusted !== true || contextKeys(e).length === 0) return false
  return e.consent === undefined || [...SCALARS, ...GROUPS].some(k => e[k] === undefined)
}

/**
 * Where else to look, from what the contexts found say: an order id or user id may lead to the
 * visitor's client ids, whose contexts are the richest. Also when the event names a client id of
 * its own (a backend's made-up one, as Measurement Protocol senders make): the visitor's browser
 * may have refused since, and that refusal is only under its client id.
 */
export function learnedKeys (contexts: Array<BrowserContext | undefined>): string[] {
  // Every client id named, not only the first: the newest context (a refusal, perhaps) may be
  // under any of them.
  const ids = new Set(contexts.map(c => c?.client_id).filter((id): id is string => id !== undefined))
  return [...ids].flatMap(client_id => contextKeys({ event_name: '', client_id }))
}

/** Where a browser event's context is kept (and where a backend event looks, most specific first). */
export function contextKeys (e: TaglineEvent): string[] {
  const keys: string[] = []
  const usable = (id: string | undefined): id is string => id !== undefined && id !== '' && id.length <= KEY_ID_MAX
  if (usable(e.transaction_id)) keys.push(`ctx:tx:${e.transaction_id}`)
  if (usable(e.user_id)) keys.push(`ctx:uid:${e.user_id}`)
  if (usable(e.client_id)) keys.push(`ctx:cid:${e.client_id}`)
  return keys
}

/** A context as flat store fields (`browser_ids.fbp`…): the store merges field by field, so an
 * older click id or cookie survives a later hit that lacks it, with no read before the write. */
export function contextFields (ctx: BrowserContext): Record<string, string> {
  // refused and gpc are written by every context, so a later grant clears an earlier refusal.
  const out: Record<string, string> = { at_ms: String(ctx.at_ms), refused: ctx.refused === true ? '1' : '0', gpc: ctx.gpc === true ? '1' : '0' }
  for (const k of CONSENT_TYPES) { const v = ctx.consent?.[k]; if (v !== undefined) out[`consent.${k}`] = v }
  const put = (name: string, value: string): void => { const v = kept(name, value); if (v !== undefined) out[name] = v }
  for (const k of SCALARS) if (ctx[k] !== undefined) put(k, ctx[k] as string)
  if (ctx.user_id !== undefined) put('user_id', ctx.user_id)
  for (const k of GROUPS) {
    for (const [field, value] of Object.entries(ctx[k] ?? {})) if (typeof value === 'string') put(`${k}.${field}`, value)
  }
  return out
}

const GROUP_FIELDS: Record<string, ReadonlySet<string>> = {
  browser_ids: new Set(['fbp', 'fbc', 'ttp', 'ga']),
  click_ids: new Set(['gclid', 'fbclid', 'ttclid', 'wbraid', 'gbraid']),
  campaign: new Set(['source', 'medium', 'name', 'term', 'content', 'id'])
}

/** Store fields back into a context; unknown fields are ignored. */
export function fromFields (rec: Record<string, string> | undefined): BrowserContext | undefined {
  if (rec === undefined) return undefined
  const ctx: BrowserContext = { at_ms: Number(rec.at_ms) || 0 }
  if (rec.refused === '1') ctx.refused = true
  if (rec.gpc === '1') ctx.gpc = true
  for (const k of CONSENT_TYPES) {
    const v = rec[`consent.${k}`]
    if (v === 'granted' || v === 'denied') (ctx.consent ??= {})[k] = v
  }
  // A refusal holds no identifiers but GA4's ids; should an older writer's fields sit beside it, none is read.
  for (const k of ctx.refused === true ? ANALYTICS_IDS : SCALARS) if (typeof rec[k] === 'string') ctx[k] = rec[k]
  if (ctx.refused === true) return ctx
  for (const [key, value] of Object.entries(rec)) {
    const dot = key.indexOf('.')
    if (dot < 0) continue
    const group = key.slice(0, dot) as typeof GROUPS[number]
    const field = key.slice(dot + 1)
    // hasOwn: a stored field named `constructor.x` must not reach Object's own members.
    if (!Object.hasOwn(GROUP_FIELDS, group) || !GROUP_FIELDS[group].has(field)) continue
    ;((ctx as unknown as Record<string, Record<string, string>>)[group] ??= {})[field] = value
  }
  return ctx
}

/**
 * Fill what the backend event lacks from the contexts found (first found wins); list what was
 * filled. The newest context (by arrival; a refusal wins a tie) speaks for the visitor's consent:
 * a backend event takes from it each consent type it does not state, and its GPC signal; and when
 * that context is a refusal nothing else is filled, from any context, but GA4's client and
 * session ids it kept.
 */
export function stitch (e: TaglineEvent, contexts: Array<BrowserContext | undefined>): TaglineEvent {
  const found = contexts.filter((c): c is BrowserContext => c !== undefined)
  if (found.length === 0) return e
  // A refusal wins a tie: the lines of one request share their arrival time, and one of them
  // refusing is the visitor's answer for the whole request.
  const newer = (a: BrowserContext, b: BrowserContext): boolean => b.at_ms > a.at_ms || (b.at_ms === a.at_ms && b.refused === true)
  const latest = found.reduce((a, b) => newer(a, b) ? b : a)
  const filled: string[] = []
  const out: TaglineEvent = { ...e }
  // Each consent type the event does not state itself comes from the newest context.
  const unstated = CONSENT_TYPES.filter(k => latest.consent?.[k] !== undefined && out.consent?.[k] === undefined)
  if (unstated.length > 0) {
    out.consent = { ...out.consent }
    for (const k of unstated) out.consent[k] = latest.consent?.[k]
    filled.push('consent')
  }
  // GPC is the visitor's opt-out of sale and sharing: it holds whatever consent the event states.
  if (latest.gpc === true && out.source?.gpc !== true) { out.source = { ...out.source!, gpc: true }; filled.push('gpc') }
  if (latest.refused === true) {
    // Behind a refusal, only GA4's ids, and only from the refusal itself.
    for (const k of ANALYTICS_IDS) if (out[k] === undefined && latest[k] !== undefined) { out[k] = latest[k]; filled.push(k) }
  }
  for (const ctx of latest.refused === true ? [] : found) {
    if (ctx.refused === true) continue
    for (const k of SCALARS) {
      if (out[k] === undefined && ctx[k] !== undefined) { out[k] = ctx[k]; filled.push(k) }
    }
    for (const k of GROUPS) {
      const from = ctx[k] as Record<string, string> | undefined
      if (from === undefined) continue
      const into: Record<string, string> = { ...(out[k] as Record<string, string> | undefined) }
      for (const [field, value] of Object.entries(from)) {
        if (into[field] === undefined) { into[field] = value; filled.push(`${k}.${field}`) }
      }
      if (Object.keys(into).length > 0) (out as Record<string, unknown>)[k] = into
    }
  }
  if (filled.length === 0) return e
  out.source = { ...out.source!, stitched: filled }
  if (out.page_hostname === undefined && filled.includes('page_location')) {
    try {
      const u = new URL(out.page_location!)
      out.page_hostname = u.hostname
      out.page_path = u.pathname
    } catch { /* not a URL: keep it as given */ }
  }
  return out
}
