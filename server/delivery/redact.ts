// Log-safe descriptions of requests: outgoing ones (dry runs, `log:` URLs, the debug view) and
// incoming ones (the debug view). A shown request never carries a credential or raw user data:
// names that look secret are masked, the tag's declared secret settings are masked wherever their
// values appear, and `user_data` goes whole.
import type { OutgoingRequest } from '../../tags/types.js'
import { truncateIp } from '../ip.js'
import { isWellFormed } from '../../common/guards.js'
import { bareParamName, isContactName } from '../../tags/pii.js'

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

type KeyTest = (key: string) => boolean

/** `a=1&token=x` → `a=1&token=[redacted]`, keeping every other byte as it was. */
function redactParams (query: string, hide: KeyTest = isSecretName): string {
  return query.split('&').map(pair => {
    const eq = pair.indexOf('=')
    if (eq < 0) return pair
    let key = pair.slice(0, eq)
    try { key = decodeURIComponent(key.replace(/\+/g, ' ')) } catch {}
    return hide(key) ? `${pair.slice(0, eq)}=${REDACTED}` : pair
  }).join('&')
}

function redactUrl (url: string, hide: KeyTest = isSecretName): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const hash = url.indexOf('#', q)
  const end = hash < 0 ? url.length : hash
  return url.slice(0, q + 1) + redactParams(url.slice(q + 1, end), hide) + url.slice(end)
}

function redactJson (value: unknown, hide: KeyTest): unknown {
  if (Array.isArray(value)) return value.map(v => redactJson(v, hide))
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = hide(k) ? REDACTED : redactJson(v, hide)
  return out
}

function redactBody (body: string, hide: KeyTest): string {
  const trimmed = body.trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try { return JSON.stringify(redactJson(JSON.parse(body), hide)) } catch {}
  }
  // Form-encoded bodies (GA4 hits: one query string per line).
  if (/^[^\s=&]+=/.test(trimmed)) return body.split('\n').map(line => redactParams(line, hide)).join('\n')
  return body
}

// user_data whole, and contact details wherever a sender put them (isContactName): a tag
// forwards custom parameters as they came, and logs must not carry them raw. In a GA4 hit a
// parameter's name carries its kind (`epn.user_data.phone_number`): the bare name counts.
const isUserDataKey = (bare: string): boolean => bare === 'user_data' || bare.startsWith('user_data.')
const secretOrUserData: KeyTest = k => isUserDataKey(bareParamName(k)) || isContactName(k) || isSecretName(k)

/**
 * `keepUserData` is for documentation only, whose examples carry test data already hashed the
 * way each destination receives it; logs and `tagline try` always redact user_data whole, contact
 * fields by name and e-mail addresses wherever they stand.
 */
export function describeRequest (req: OutgoingRequest, secrets: readonly string[] = [], opts: { keepUserData?: boolean } = {}): RequestDescription {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase()
    headers[name] = SECRET_HEADERS.has(lower) || isSecretName(lower) ? REDACTED : maskValues(value, secrets)
  }
  // E-mail addresses anywhere else too (a page URL's query, free text), as the debug view does.
  const scrub = opts.keepUserData === true ? (x: string) => x : scrubEmails
  const out: RequestDescription = { method: req.method, url: scrub(maskValues(redactUrl(req.url, opts.keepUserData === true ? isSecretName : secretOrUserData), secrets)), headers }
  if (req.body !== undefined) out.body = scrub(maskValues(redactBody(req.body, opts.keepUserData === true ? isSecretName : secretOrUserData), secrets))
  return out
}

// E-mail addresses: a local part, `@` (or `%40`, `%2540`: URL-encoded once or twice, as in a page
// URL inside a GA4 hit's `dl`), a domain ending in a dot and two or more letters. A plain address's
// parts stop at URL punctuation, so that an address in a query string masks the address, not the
// URL before it. Found by a scan that reads each character a bounded number of times, not by a
// regular expression: one with open-ended parts backtracked on a traced body of `a%40a%40…`
// (cubic) or `aaa…@` (quadratic), and a few kilobytes blocked the event loop for seconds.
const PLAIN_STOP = /[\s"'<>@,;:()[\]/?=&#]/
const ENCODED_STOP = /[\s"'<>@,;:()[\]&=?/]/
const ANCHOR = /@|%(?:25)?40/g
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

function maskEmails (text: string): string {
  let out = ''
  let copied = 0
  // Per kind: [from, to) is known to hold no stop character (a run a later anchor can reuse).
  const runs = { plain: { from: 0, to: 0 }, encoded: { from: 0, to: 0 } }
  ANCHOR.lastIndex = 0
  for (let m = ANCHOR.exec(text); m !== null; m = ANCHOR.exec(text)) {
    const at = m.index
    const after = at + m[0].length
    const kind = m[0] === '@' ? 'plain' : 'encoded'
    const stop = kind === 'plain' ? PLAIN_STOP : ENCODED_STOP
    const run = runs[kind]
    // The local part: back to a stop character, reusing what an earlier anchor of this kind scanned.
    let start = at
    while (start > copied && start > run.to && !stop.test(text[start - 1])) start--
    if (start === run.to && start > copied && run.to > run.from) start = Math.max(run.from, copied)
    runs[kind] = { from: start, to: at }
    // No local part of its own: an address only if the previous mask ended right here (that
    // address's domain took this one's local part, `ann%40ex.org%2Cjohn.doe%40mail.com`); then the
    // mask runs on over this domain too.
    const merging = start === at && at === copied && copied > 0
    if (start === at && !merging) continue
    // The domain: up to a stop character or the next anchor; it must end in `.` and two letters.
    let end = after
    while (end < text.length && !stop.test(text[end]) && text[end] !== '@' && !text.startsWith('%40', end) && !text.startsWith('%2540', end)) end++
    let dot = -1
    for (let i = end - 3; i > after; i--) {
      if (text[i] === '.' && isLetter(text.charCodeAt(i + 1)) && isLetter(text.charCodeAt(i + 2))) { dot = i; break }
    }
    if (dot < 0) continue
    let last = dot + 3
    while (last < end && isLetter(text.charCodeAt(last))) last++
    if (!merging) out += text.slice(copied, start) + REDACTED
    copied = last
    ANCHOR.lastIndex = last
  }
  return copied === 0 ? text : out + text.slice(copied)
}

// Where incoming requests carry user-provided data: GTM/gtag names (clients/user-data.ts), gtag's
// `ep.user_data.*` and hashed `em`/`ph`, and the model's own field names.
const USER_DATA_NAMES = new Set([
  'user_data', 'first_name', 'last_name', 'street',
  'postal_code', 'date_of_birth', 'em', 'ph', 'fn', 'ln', 'ge', 'db', 'zp', 'ct', 'st',
  'sha256_email_address', 'sha256_phone_number', 'sha256_first_name', 'sha256_last_name', 'sha256_street'
])
const incomingHidden: KeyTest = k => {
  const bare = bareParamName(k)
  return USER_DATA_NAMES.has(bare) || isUserDataKey(bare) || isContactName(k) || isSecretName(k)
}

/** A raw GA4 hit's query or body line with its user data and secrets masked by name, for the debug view. */
export function redactHit (query: string): string {
  return redactParams(query, incomingHidden)
}

const IP_HEADERS = new Set(['x-forwarded-for', 'x-real-ip', 'cf-connecting-ip', 'true-client-ip', 'x-client-ip', 'forwarded'])
const IP_LIKE = /\b(?:\d{1,3}\.){3}\d{1,3}\b|(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}/gi

/** E-mail addresses, plain or URL-encoded, masked wherever they stand (a page URL, a free-text parameter). */
export function scrubEmails (text: string): string {
  return text.includes('@') || text.includes('%40') || text.includes('%2540') ? maskEmails(text) : text
}

/** Each IP address in a header value truncated as tags do (`ip: truncate`). */
function truncateIps (value: string): string {
  return value.replace(IP_LIKE, ip => truncateIp(ip) ?? REDACTED)
}

/**
 * An incoming request as the debug view shows it: credentials and cookie values masked (cookie
 * names kept), user data masked by name in the query and the body, e-mail addresses anywhere
 * masked, IP addresses truncated, and a long body cut at `maxBody` characters.
 */
export function describeIncoming (req: { method: string, url: string, headers: Record<string, string | undefined>, body?: string, ip?: string }, maxBody = 8192): RequestDescription & { ip?: string } {
  const scrub = scrubEmails
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (lower === 'cookie') headers[name] = value.split(';').map(c => `${c.split('=')[0].trim()}=${REDACTED}`).join('; ')
    else if (SECRET_HEADERS.has(lower) || isSecretName(lower)) headers[name] = REDACTED
    else headers[name] = scrub(IP_HEADERS.has(lower) ? truncateIps(value) : value)
  }
  const q = req.url.indexOf('?')
  const url = q < 0 ? req.url : req.url.slice(0, q + 1) + redactParams(req.url.slice(q + 1), incomingHidden)
  const out: RequestDescription & { ip?: string } = { method: req.method, url: scrub(url), headers }
  if (req.ip !== undefined) out.ip = truncateIp(req.ip) ?? REDACTED
  if (req.body !== undefined && req.body !== '') {
    const body = scrub(redactBody(req.body, incomingHidden))
    out.body = body.length > maxBody ? `${body.slice(0, maxBody)}… (${body.length - maxBody} more characters)` : body
  }
  return out
}

/** The event's user data and visitor IP, as they may be quoted (and URL-encoded). */
function userDataValues (event: { user_data?: unknown, ip_override?: unknown }): string[] {
  const out: string[] = []
  const collect = (v: unknown): void => {
    // A string with no UTF-8 form cannot have been quoted URL-encoded (encodeURIComponent throws).
    if (typeof v === 'string' && v.length >= 3) out.push(v, ...isWellFormed(v) ? [encodeURIComponent(v)] : [])
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
  return scrubEmails(out)
}

/** A destination's answer (or an error message), safe to show: secrets, then the carried events' user data. */
export function redactText (text: string, secrets: readonly string[], events: ReadonlyArray<{ user_data?: unknown, ip_override?: unknown }>): string {
  let out = describeRequest({ method: 'GET', url: '', headers: {}, body: text, events: [] }, secrets).body ?? ''
  for (const e of events) out = scrubMessage(out, e)
  return out
}
