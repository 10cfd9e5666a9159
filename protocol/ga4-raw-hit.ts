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
