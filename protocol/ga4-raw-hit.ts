// The raw gtag hit the gtag client keeps for lossless forwarding and the GA4 tag forwards: what of
// it may travel on.

/** A segment's key decoded exactly as the client read it (URLSearchParams: a broken escape stays as it is, the rest decodes). */
function rawKey (segment: string): string {
  const eq = segment.indexOf('=')
  const key = eq === -1 ? segment : segment.slice(0, eq)
  if (!key.includes('%') && !key.includes('+')) return key
  for (const k of new URLSearchParams(key).keys()) return k
  return key
}

/**
 * The raw hit kept for lossless forwarding, minus what must never travel on: plain-text user
 * data (already captured in `user_data`, hashed by the tags that send it) and a browser's own `_uip`.
 * Raw PII therefore never reaches a log line, a dead letter or the spool through `x-ga-raw`.
 */
export function scrubRaw (s: string): string {
  if (s === '') return s
  const segments = s.split('&')
  const kept = segments.filter(seg => {
    const key = rawKey(seg)
    return key !== '_uip' && !key.startsWith('ep.user_data.') && !key.startsWith('epn.user_data.')
  })
  return kept.length === segments.length ? s : kept.join('&')
}

/** A raw gtag hit as the gtag client keeps it (`x-ga-raw`): the query, and the body line of a POST. */
export interface RawHit { query: string, line?: string }

// The keys of a gtag hit each model field is read from (clients/gtag.ts, which a test holds this
// to): excluding the field from a tag's copy removes these from the hit it forwards.
const MODEL_KEYS: Readonly<Record<string, readonly string[]>> = {
  client_id: ['cid'],
  user_id: ['uid'],
  ga_session_id: ['sid'],
  ga_session_number: ['sct'],
  engagement_time_msec: ['_et'],
  page_location: ['dl'],
  page_referrer: ['dr'],
  page_title: ['dt'],
  language: ['ul'],
  screen_resolution: ['sr'],
  currency: ['cu'],
  event_id: ['ep.event_id', 'epn.event_id'],
  transaction_id: ['ep.transaction_id', 'epn.transaction_id'],
  coupon: ['ep.coupon', 'epn.coupon'],
  value: ['ep.value', 'epn.value'],
  tax: ['ep.tax', 'epn.tax'],
  shipping: ['ep.shipping', 'epn.shipping']
}
const MODEL_PARAMS = new Set(Object.values(MODEL_KEYS).flat().filter(k => k.includes('.')))
// Not in the hit by a key of their own, or carried outside it: the tag's own copy decides them
// (`_uip` from ip_override, the user-agent header, user data scrubbed, page_hostname/page_path
// derived from `dl`, browser ids from cookies).
const OUTSIDE = new Set(['ip_override', 'user_agent', 'user_data', 'page_hostname', 'page_path', 'browser_ids', 'source'])

/** The raw keys that hold the field at `path`; `null` when none does; undefined when no key holds it alone (inside `dl`, an item string, consent). */
function keysOf (path: string): ((key: string) => boolean) | null | undefined {
  const dot = path.indexOf('.')
  const head = dot < 0 ? path : path.slice(0, dot)
  const rest = dot < 0 ? undefined : path.slice(dot + 1)
  if (head === 'params') {
    if (rest === undefined) return k => (k.startsWith('ep.') || k.startsWith('epn.')) && !MODEL_PARAMS.has(k) && !k.includes('.user_data.')
    return k => k === `ep.${rest}` || k === `epn.${rest}`
  }
  if (head === 'user_properties') return rest === undefined ? k => k.startsWith('up.') || k.startsWith('upn.') : k => k === `up.${rest}` || k === `upn.${rest}`
  if (head === 'items' && rest === undefined) return k => /^pr[1-9][0-9]{0,2}$/.test(k)
  if (OUTSIDE.has(head)) return null
  const keys = rest === undefined ? MODEL_KEYS[head] : undefined
  return keys === undefined ? undefined : k => keys.includes(k)
}

/**
 * The raw hit with the fields a tag excludes from its copy (`params.exclude` dot paths) left out,
 * so that forwarding it sends no more than the copy holds; undefined when a path cannot be left
 * out of the hit alone (a campaign or click id inside `dl`, one item's field inside its `pr`
 * string, consent), or the line would be left empty: the tag then sends its copy over Measurement
 * Protocol instead.
 */
export function rawWithout (raw: RawHit, paths: readonly string[]): RawHit | undefined {
  const tests: Array<(key: string) => boolean> = []
  for (const path of paths) {
    const test = keysOf(path)
    if (test === undefined) return undefined
    if (test !== null) tests.push(test)
  }
  if (tests.length === 0) return raw
  const keep = (s: string): string => s === '' ? s : s.split('&').filter(seg => { const k = rawKey(seg); return !tests.some(test => test(k)) }).join('&')
  const query = keep(raw.query)
  if (raw.line === undefined) return { query }
  const line = keep(raw.line)
  return line === '' && raw.line !== '' ? undefined : { query, line }
}
