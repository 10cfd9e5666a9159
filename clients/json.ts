// tagline's own JSON: events in the event model itself (schemas/event.ts), as one object, an
// array, or `{ events: [...] }`, checked against the TypeBox schema with Ajv.
import { isIP } from 'node:net'
import { hasControlChars, isObject, isSafeKey } from '../common/guards.js'
import { Ajv, type ErrorObject } from 'ajv'
import { Event } from '../schemas/event.js'
import { errors, type ErrorDetail } from '../common/errors.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'

const MAX_EVENTS = 500
const MAX_PROBLEMS = 100

// Compiled once per process: `verbose` keeps the failing schema on each error, which the
// messages below need to name the allowed values of a union. strictNumbers: JSON's 1e309 parses
// as Infinity, which no destination can take (a webhook would get null).
const ajv = new Ajv({ allErrors: true, strict: false, strictNumbers: true, verbose: true })
const validate = ajv.compile(Event)

type Obj = Record<string, unknown>


const hasName = (v: unknown): boolean => isObject(v) && Object.hasOwn(v, 'event_name')

/** The events of the three accepted shapes; `undefined` when the body is none of them. */
function eventList (json: unknown): unknown[] | undefined {
  if (Array.isArray(json)) return json
  if (!isObject(json)) return undefined
  if (!Object.hasOwn(json, 'event_name') && Array.isArray(json.events)) return json.events
  return [json]
}

// `/items/0/price` → `.items[0].price`
function pathOf (pointer: string): string {
  let out = ''
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`
  }
  return out
}

const A_TYPE: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', object: 'an object', array: 'an array', null: 'null'
}

function sentence (e: ErrorObject, at: string): { path: string, message: string } {
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'required': return { path: `${at}.${String(p.missingProperty)}`, message: `${at}.${String(p.missingProperty)} is required.` }
    case 'additionalProperties': {
      const key = String(p.additionalProperty)
      const hint = at.includes('.') ? '' : '; put custom values under params'
      return { path: `${at}.${key}`, message: `${at} has an unknown key "${key}"${hint}.` }
    }
    case 'type': {
      if (typeof e.data === 'number' && !Number.isFinite(e.data)) return { path: at, message: `${at} must be a finite number (JSON numbers beyond ±1.8e308 are not).` }
      const types = String(p.type).split(',').map(t => A_TYPE[t] ?? t)
      return { path: at, message: `${at} must be ${types.join(' or ')}.` }
    }
    case 'minimum': return { path: at, message: `${at} must be at least ${String(p.limit)}.` }
    case 'maximum': return { path: at, message: `${at} must be at most ${String(p.limit)}.` }
    case 'minLength': return { path: at, message: p.limit === 1 ? `${at} must not be empty.` : `${at} must be at least ${String(p.limit)} characters long.` }
    case 'maxLength': return { path: at, message: `${at} must be at most ${String(p.limit)} characters long.` }
    case 'maxItems': return { path: at, message: `${at} must hold at most ${String(p.limit)} entries.` }
    case 'anyOf': {
      const branches = (e.parentSchema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf ?? []
      if (branches.length > 0 && branches.every(b => 'const' in b)) {
        return { path: at, message: `${at} must be one of ${branches.map(b => JSON.stringify(b.const)).join(', ')}.` }
      }
      return { path: at, message: `${at} has a value of a type that is not allowed here.` }
    }
    default: return { path: at, message: `${at} ${e.message ?? 'is not valid'}.` }
  }
}

/** Ajv's errors as one human sentence per problem; a union's branch errors fold into the union's. */
function describe (errs: ErrorObject[], prefix: string): ErrorDetail[] {
  const unions = new Set(errs.filter(e => e.keyword === 'anyOf').map(e => e.instancePath))
  const seen = new Set<string>()
  const out: ErrorDetail[] = []
  for (const e of errs) {
    if (e.keyword !== 'anyOf' && unions.has(e.instancePath)) continue
    const d = sentence(e, prefix + pathOf(e.instancePath))
    if (seen.has(d.message)) continue
    seen.add(d.message)
    out.push(d)
  }
  return out
}

/** A copy with only safe keys and, for an unauthenticated sender, none of the trusted-only fields. */
function safeCopy (raw: Obj, trusted: boolean, at: string, problems: ErrorDetail[]): Obj {
  const ev: Obj = {}
  for (const [key, v] of Object.entries(raw)) {
    if (!isSafeKey(key)) {
      problems.push({ path: `${at}.${key}`, message: `${at} has a forbidden key "${key}".` })
      continue
    }
    // `source` is the edge's to set: a caller's copy is dropped, never believed.
    if (key === 'source') continue
    if (!trusted && (key === 'ip_override' || key === 'user_agent' || key.startsWith('x-ga-') || key.startsWith('x-sst-'))) continue
    // Each travels on as it is: an IP in GA4's `_uip` and Meta's client_ip_address, a user agent as a header.
    if (key === 'ip_override' && typeof v === 'string' && isIP(v) === 0) {
      problems.push({ path: `${at}.ip_override`, message: `${at}.ip_override must be an IPv4 or IPv6 address.` })
      continue
    }
    if (key === 'user_agent' && typeof v === 'string' && hasControlChars(v)) {
      problems.push({ path: `${at}.user_agent`, message: `${at}.user_agent must not hold control characters.` })
      continue
    }
    ev[key] = v
  }
  return ev
}

function safeMap (v: unknown): unknown {
  if (!isObject(v)) return v
  const out: Obj = {}
  for (const [key, val] of Object.entries(v)) if (isSafeKey(key)) out[key] = val
  return out
}

export const json: Client = {
  name: 'json',

  claims (snap: RequestSnapshot): boolean {
    const j = snap.json
    if (Array.isArray(j)) return hasName(j[0])
    if (!isObject(j)) return false
    return Object.hasOwn(j, 'event_name') || (Array.isArray(j.events) && hasName(j.events[0]))
  },

  parse (snap: RequestSnapshot): ParsedEvent[] {
    const list = eventList(snap.json)
    if (list === undefined) throw errors.invalidEvent('The body must be an event object, an array of events or { "events": [...] }.')
    if (list.length > MAX_EVENTS) {
      throw errors.invalidEvent(`A request may carry at most ${MAX_EVENTS} events; this one has ${list.length}.`, [
        { path: 'events', message: `Send at most ${MAX_EVENTS} events per request.` }
      ])
    }
    const problems: ErrorDetail[] = []
    const events: ParsedEvent[] = []
    list.forEach((raw, i) => {
      const at = `events[${i}]`
      if (!isObject(raw)) {
        problems.push({ path: at, message: `${at} must be an event object.` })
        return
      }
      const ev = safeCopy(raw, snap.trusted, at, problems)
      // Prototype keys in the caller's own maps are dropped silently, before validation.
      if (ev.params !== undefined) ev.params = safeMap(ev.params)
      if (ev.user_properties !== undefined) ev.user_properties = safeMap(ev.user_properties)
      if (Array.isArray(ev.items)) ev.items = ev.items.map(safeMap)
      if (!validate(ev)) {
        problems.push(...describe(validate.errors ?? [], at))
        return
      }
      events.push(ev as ParsedEvent)
    })
    if (problems.length > 0) {
      const head = problems.length === 1 ? problems[0].message : `${problems.length} problems; the first: ${problems[0].message}`
      throw errors.invalidEvent(`The events are not valid: ${head}`, problems.slice(0, MAX_PROBLEMS))
    }
    return events
  }
}
