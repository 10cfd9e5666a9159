// dataLayer pushes: `{ event, ecommerce: {...}, user_data, ... }`, one push or an array of them, as
// a page forwards them verbatim. The shapes: https://developers.google.com/analytics/devguides/collection/ga4/ecommerce?client_type=gtm
import { isObject, isSafeKey, toNumber } from '../common/guards.js'
import { consentFromObject } from './consent.js'
import type { Consent, Item } from '../schemas/event.js'
import { errors, type ErrorDetail } from '../common/errors.js'
import { normalizeItems } from './items.js'
import { normalizeUserData } from './user-data.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'

const MAX_PUSHES = 500

type Obj = Record<string, unknown>



const STRING_KEYS: ReadonlySet<string> = new Set([
  'event_id', 'client_id', 'user_id', 'page_location', 'page_referrer', 'page_title',
  'language', 'screen_resolution', 'currency', 'transaction_id', 'coupon'
])
const NUMBER_KEYS: ReadonlySet<string> = new Set(['value', 'tax', 'shipping'])
// GTM's callback hooks: functions in the browser, meaningless on the server.
const IGNORED_KEYS: ReadonlySet<string> = new Set(['event', 'ecommerce', 'user_data', 'user_properties', 'consent', 'eventCallback', 'eventTimeout', 'event_callback', 'event_timeout'])
// Settings of the Google tag itself, which `gtag('set', …)` also takes; they are not event
// parameters (https://developers.google.com/tag-platform/gtagjs/reference). `developer_id.<id>` too.
const TAG_SETTINGS: ReadonlySet<string> = new Set([
  'send_page_view', 'server_container_url', 'transport_url', 'transport_type', 'groups', 'linker',
  'cookie_domain', 'cookie_expires', 'cookie_flags', 'cookie_path', 'cookie_prefix', 'cookie_update',
  'ads_data_redaction', 'url_passthrough', 'allow_google_signals', 'allow_ad_personalization_signals',
  'allow_enhanced_conversions', 'restricted_data_processing', 'anonymize_ip', 'wait_for_update'
])

/** Copy one level of keys onto the event: model keys where they fit, the rest into params. */
function assign (ev: ParsedEvent, params: Obj, src: Obj, ignore: ReadonlySet<string>): void {
  const model = ev as Obj
  for (const [key, v] of Object.entries(src)) {
    if (!isSafeKey(key) || ignore.has(key) || v === undefined) continue
    if (STRING_KEYS.has(key) && (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) {
      if (v !== '') model[key] = String(v)
    } else if (NUMBER_KEYS.has(key) && toNumber(v) !== undefined) {
      model[key] = toNumber(v)
    } else if (key === 'items' && Array.isArray(v)) {
      ev.items = normalizeItems(v) as Item[]
    } else {
      params[key] = v
    }
  }
}

const USER_DATA_KEY: ReadonlySet<string> = new Set(['user_data'])

function eventFromPush (push: Obj): ParsedEvent {
  const ev: ParsedEvent = { event_name: push.event as string }
  const params: Obj = {}
  assign(ev, params, push, IGNORED_KEYS)
  // `ecommerce` is the canonical place for commerce fields, so it wins over top-level copies.
  // Some setups put user_data inside it: it is the event's user data (hashed by every tag), never a parameter.
  if (isObject(push.ecommerce)) assign(ev, params, push.ecommerce, USER_DATA_KEY)
  const userData = normalizeUserData(push.user_data ?? (isObject(push.ecommerce) ? push.ecommerce.user_data : undefined))
  if (userData !== undefined) ev.user_data = userData
  const userProps = userProperties(push.user_properties)
  if (userProps !== undefined) ev.user_properties = userProps
  // The consent state the page holds for this visitor: tags and stitching honour it.
  const consent = consentFromObject(push.consent)
  if (consent !== undefined) ev.consent = consent
  if (Object.keys(params).length > 0) ev.params = params as ParsedEvent['params']
  return ev
}

/** `user_properties: { tier: 'gold' }`: its scalar values; GA4's own shape, so a push may carry it too. */
function userProperties (v: unknown): Record<string, string | number | boolean> | undefined {
  if (!isObject(v)) return undefined
  const out: Record<string, string | number | boolean> = {}
  for (const [key, val] of Object.entries(v)) {
    if (isSafeKey(key) && (typeof val === 'string' || typeof val === 'boolean' || (typeof val === 'number' && Number.isFinite(val)))) out[key] = val
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** `{ ecommerce: null }` and friends: GTM's "clear the previous ecommerce object" push. */
function isClearPush (v: unknown): boolean {
  return isObject(v) && !Object.hasOwn(v, 'event') && Object.hasOwn(v, 'ecommerce') && v.ecommerce === null
}

/**
 * A gtag() command as a dataLayer holds it: gtag pushes its `arguments`, which a page forwards as
 * an array or, serialised as they are, as `{"0": …, "1": …}`. Its name, and its arguments.
 */
function command (v: unknown): { name: string, args: unknown[] } | undefined {
  const a = Array.isArray(v) ? v : isObject(v) && !Object.hasOwn(v, 'event') && typeof v['0'] === 'string' ? [v['0'], v['1'], v['2']] : undefined
  return a !== undefined && typeof a[0] === 'string' ? { name: a[0], args: a.slice(1) } : undefined
}

/**
 * The consent a `gtag('consent', 'default' | 'update', {…})` command sets
 * (https://developers.google.com/tag-platform/security/guides/consent).
 */
function consentCommand (v: unknown): { kind: 'default' | 'update', set: Consent, regional: boolean } | undefined {
  const c = command(v)
  if (c?.name !== 'consent' || (c.args[0] !== 'default' && c.args[0] !== 'update')) return undefined
  const set = consentFromObject(c.args[1])
  return set === undefined ? undefined : { kind: c.args[0], set, regional: isObject(c.args[1]) && c.args[1].region !== undefined }
}

/**
 * `gtag('event', name, {…})` as a push: a gtag.js page's dataLayer holds its events this way. The
 * parameters sit at the top level, as gtag sends them (eventFromPush reads them there).
 */
function eventCommand (v: unknown): Obj | undefined {
  const c = command(v)
  if (c?.name !== 'event' || typeof c.args[0] !== 'string' || (c.args[1] !== undefined && !isObject(c.args[1]))) return undefined
  return { ...(c.args[1] as Obj | undefined), event: c.args[0] }
}

/**
 * What a `gtag('set', {…})` or `gtag('set', name, value)` command sets for every event after it
 * (`user_data` for enhanced conversions, `user_id`, `user_properties`, `currency`, …), without the
 * tag's own settings. A `gtag('config', 'G-…', {…})` sets parameters for that measurement id's
 * events only, which would be wrong for the other destinations; of it, only `user_id` (how Google
 * documents setting the User-ID, https://developers.google.com/analytics/devguides/collection/ga4/user-id)
 * and `user_properties` are taken, since they describe the visitor, not the target.
 */
function setCommand (v: unknown): Obj | undefined {
  const c = command(v)
  let set: Obj | undefined
  if (c?.name === 'set') {
    const [a, b] = c.args
    set = isObject(a) ? a : typeof a === 'string' && b !== undefined ? { [a]: b } : undefined
  } else if (c?.name === 'config' && typeof c.args[0] === 'string' && c.args[0].startsWith('G-') && isObject(c.args[1])) {
    const { user_id: userId, user_properties: props } = c.args[1]
    set = { user_id: userId, user_properties: props }
  }
  if (set === undefined) return undefined
  // `event_id` names one event: set for all, it would make every later one a repeat.
  const out: Obj = {}
  for (const [key, val] of Object.entries(set)) {
    if (val !== undefined && isSafeKey(key) && key !== 'event' && key !== 'event_id' && !TAG_SETTINGS.has(key) && !key.startsWith('developer_id')) out[key] = val
  }
  return out
}

/** `set` values under a push: the push's own win, and `user_properties` merge name by name. */
function withSet (push: Obj, set: Obj): Obj {
  const out = { ...set, ...push }
  if (isObject(set.user_properties) && isObject(push.user_properties)) out.user_properties = { ...set.user_properties, ...push.user_properties }
  return out
}

/**
 * The consent state Consent Mode commands build up, push by push, as on the page: a default does
 * not undo an update that came before it. A default for some regions only (`region: [...]`)
 * applies where the visitor is, which the server cannot tell: with one among the pushes, no
 * default is applied, only the updates (the visitor's own choice).
 */
class ConsentState {
  state: Consent = {}
  readonly #updated = new Set<string>()
  readonly #regional: boolean

  constructor (pushes: unknown[]) {
    this.#regional = pushes.some(p => consentCommand(p)?.regional === true)
  }

  /** Applies the push if it is a consent command; false when it is none. */
  apply (push: unknown): boolean {
    const cmd = consentCommand(push)
    if (cmd === undefined) return false
    if (cmd.kind === 'default' && this.#regional) return true
    const set = Object.fromEntries(Object.entries(cmd.set).filter(([k]) => cmd.kind === 'update' || !this.#updated.has(k)))
    if (cmd.kind === 'update') for (const k of Object.keys(set)) this.#updated.add(k)
    this.state = { ...this.state, ...set }
    return true
  }
}

/** Whether a push is an event: a push with a non-empty string `event`, or a gtag event command. */
function isEventPush (push: unknown): boolean {
  const ev = command(push) !== undefined ? eventCommand(push) : push
  return isObject(ev) && typeof ev.event === 'string' && ev.event !== ''
}

function firstPush (pushes: unknown[]): unknown {
  for (const p of pushes) {
    if (isClearPush(p)) continue
    if (command(p) === undefined) return p
    const ev = eventCommand(p)
    if (ev !== undefined) return ev
  }
  return undefined
}

export const datalayer: Client = {
  name: 'datalayer',

  claims (snap: RequestSnapshot): boolean {
    const pushes: unknown[] = Array.isArray(snap.json) ? snap.json : [snap.json]
    const first = firstPush(pushes)
    if (first !== undefined) return isObject(first) && typeof first.event === 'string' && !Object.hasOwn(first, 'event_name')
    // Commands only, a Consent Mode answer among them: a bridge sending the visitor's answer on
    // its own (accepted with no event; stitching remembers it).
    return pushes.some(p => consentCommand(p) !== undefined) && pushes.every(p => command(p) !== undefined || isClearPush(p))
  },

  parse (snap: RequestSnapshot): ParsedEvent[] {
    const pushes = Array.isArray(snap.json) ? snap.json : [snap.json]
    if (pushes.length > MAX_PUSHES) {
      throw errors.invalidEvent(`A request may carry at most ${MAX_PUSHES} dataLayer pushes; this one has ${pushes.length}.`, [
        { path: 'pushes', message: `Send at most ${MAX_PUSHES} pushes per request.` }
      ])
    }
    const events: ParsedEvent[] = []
    const problems: ErrorDetail[] = []
    // Consent Mode commands among the pushes set the state of the pushes after them, as on the
    // page; a push's own `consent` wins for its type.
    const consent = new ConsentState(pushes)
    // What `set` commands among the pushes set, for the event pushes after them, as on the page.
    let set: Obj = {}
    pushes.forEach((push, i) => {
      if (consent.apply(push)) return
      const setting = setCommand(push)
      if (setting !== undefined) {
        set = withSet(setting, set)
        return
      }
      if (command(push) !== undefined) push = eventCommand(push)
      // Pushes without a string `event` (clear pushes, plain variable sets, other gtag commands)
      // are not events.
      if (!isObject(push) || typeof push.event !== 'string' || push.event === '') return
      if (push.event.length > 100) {
        problems.push({ path: `pushes[${i}].event`, message: `The event name in push ${i} is longer than 100 characters.` })
        return
      }
      const ev = eventFromPush(Object.keys(set).length > 0 ? withSet(push, set) : push)
      if (Object.keys(consent.state).length > 0) ev.consent = { ...consent.state, ...ev.consent }
      events.push(ev)
    })
    if (problems.length > 0) throw errors.invalidEvent('Some dataLayer pushes are not valid.', problems)
    return events
  },

  // A visitor who answers the banner after a page view: a batching bridge sends both together,
  // the update last. The events keep the consent they were made under; the answer is the
  // visitor's state now.
  consentAfter (snap: RequestSnapshot): Consent | undefined {
    const pushes: unknown[] = Array.isArray(snap.json) ? snap.json : [snap.json]
    let last = -1
    for (let i = pushes.length - 1; i >= 0 && last < 0; i--) if (isEventPush(pushes[i])) last = i
    if (!pushes.slice(last + 1).some(p => consentCommand(p) !== undefined)) return undefined
    const consent = new ConsentState(pushes)
    for (const push of pushes) consent.apply(push)
    return Object.keys(consent.state).length > 0 ? consent.state : undefined
  }
}
