// Log-safe descriptions of outgoing requests (dry runs, `log:` URLs, debug). A logged request
// must never carry a credential or raw user data: names that look secret are masked, the tag's
// declared secret settings are masked wherever their values appear, and `user_data` goes whole.
import type { OutgoingRequest } from '../../tags/types.js'

export const REDACTED = '[redacted]'

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'access-token', 'x-api-key', 'cookie', 'set-cookie'])
const SECRET_NAME = /token|secret|password|api_?key|signature/

export interface RequestDescription {
  method: string
  url: string
  headers: Record<string, string>
  body?: string
}

function isSecretName (name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/-/g, '_'))
}

/** String values of the tag's secret settings (nested values included), longest first. */
export function secretValues (settings: Record<string, unknown>, keys: readonly string[]): string[] {
  const out = new Set<string>()
  const collect = (v: unknown): void => {
    // Very short values would mask innocent text everywhere and protect nothing.
    if (typeof v === 'string' && v.length >= 4) out.add(v)
    else if (Array.isArray(v)) v.forEach(collect)
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(collect)
  }
  for (const k of keys) collect(settings[k])
  return [...out].sort((a, b) => b.length - a.length)
}

function maskValues (text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) {
    for (const form of new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])) {
      out = out.split(form).join(REDACTED)
    }
  }
  return out
}

/** `a=1&token=x` → `a=1&token=[redacted]`, keeping every other byte as it was. */
function redactParams (query: string): string {
  return query.split('&').map(pair => {
    const eq = pair.indexOf('=')
    if (eq < 0) return pair
    let key = pair.slice(0, eq)
    try { key = decodeURIComponent(key.replace(/\+/g, ' ')) } catch {}
    return isSecretName(key) ? `${pair.slice(0, eq)}=${REDACTED}` : pair
  }).join('&')
}

function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const hash = url.indexOf('#', q)
  const end = hash < 0 ? url.length : hash
  return url.slice(0, q + 1) + redactParams(url.slice(q + 1, end)) + url.slice(end)
}

function redactJson (value: unknown, keepUserData: boolean): unknown {
  if (Array.isArray(value)) return value.map(v => redactJson(v, keepUserData))
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = (k === 'user_data' && !keepUserData) || isSecretName(k) ? REDACTED : redactJson(v, keepUserData)
  }
  return out
}

function redactBody (body: string, keepUserData: boolean): string {
  const trimmed = body.trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try { return JSON.stringify(redactJson(JSON.parse(body), keepUserData)) } catch {}
  }
  // Form-encoded bodies (GA4 hits: one query string per line).
  if (/^[^\s=&]+=/.test(trimmed)) return body.split('\n').map(redactParams).join('\n')
  return body
}

/**
 * `keepUserData` is for documentation only, whose examples carry test data already hashed the
 * way each destination receives it; logs and `tagline try` always redact user_data whole.
 */
export function describeRequest (req: OutgoingRequest, secrets: readonly string[] = [], opts: { keepUserData?: boolean } = {}): RequestDescription {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase()
    headers[name] = SECRET_HEADERS.has(lower) || isSecretName(lower) ? REDACTED : maskValues(value, secrets)
  }
  const out: RequestDescription = { method: req.method, url: maskValues(redactUrl(req.url), secrets), headers }
  if (req.body !== undefined) out.body = maskValues(redactBody(req.body, opts.keepUserData === true), secrets)
  return out
}

const EMAIL = /[^\s"'<>@,;:()[\]]+@[^\s"'<>@,;:()[\]]+\.[A-Za-z]{2,}/g

/** The event's user data and visitor IP, as they may be quoted (and URL-encoded). */
function userDataValues (event: { user_data?: unknown, ip_override?: unknown }): string[] {
  const out: string[] = []
  const collect = (v: unknown): void => {
    if (typeof v === 'string' && v.length >= 3) out.push(v, encodeURIComponent(v))
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(collect)
  }
  collect(event.user_data)
  collect(event.ip_override)
  return out.sort((a, b) => b.length - a.length)
}

/**
 * A destination's message about an event, safe to log and keep: receivers that quote the
 * request back would otherwise put the visitor's raw user data or IP into a log line or dead letter.
 */
export function scrubMessage (text: string, event: { user_data?: unknown, ip_override?: unknown }): string {
  let out = text
  for (const v of userDataValues(event)) if (out.includes(v)) out = out.split(v).join(REDACTED)
  return out.replace(EMAIL, REDACTED)
}

/** A destination's answer (or an error message), safe to show: secrets, then the carried events' user data. */
export function redactText (text: string, secrets: readonly string[], events: ReadonlyArray<{ user_data?: unknown, ip_override?: unknown }>): string {
  let out = describeRequest({ method: 'GET', url: '', headers: {}, body: text, events: [] }, secrets).body ?? ''
  for (const e of events) out = scrubMessage(out, e)
  return out
}
