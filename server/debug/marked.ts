// Traffic marked for the live debug view, as sGTM's preview marks a visitor: `?tagline_debug=1`
// on the page (it reaches us inside a hit's page URL), the X-Tagline-Debug header (backends,
// curl), or the session cookie the first marked hit sets, so the visitor's next pages stay marked.
// `?tagline_debug=0` ends it.
import type { RequestSnapshot } from '../../clients/types.js'

export const MARK_COOKIE = 'tagline_debug'

const NAME = 'tagline_debug'
// Plain, URL-encoded once (a page URL in a query) or twice (a page URL inside an encoded URL).
const MARK_ON = /tagline_debug(?:=|%3D|%253D)1/i
const MARK_OFF = /tagline_debug(?:=|%3D|%253D)0/i

/** `set`: the cookie to set (`on`) or clear (`off`) in the answer, when the marking changed. */
export function marking (snap: RequestSnapshot): { marked: boolean, set?: 'on' | 'off' } {
  const header = snap.headers['x-tagline-debug']
  if (header !== undefined && header !== '' && header !== '0') return { marked: true }
  const cookie = snap.cookies[MARK_COOKIE] === '1'
  // Nearly every request: one substring search of the query and of the body, nothing more.
  const text = snap.query.includes(NAME) ? snap.query : snap.body.includes(NAME) ? snap.body : undefined
  if (text === undefined) return { marked: cookie }
  if (MARK_OFF.test(text)) return cookie ? { marked: false, set: 'off' } : { marked: false }
  if (cookie) return { marked: true }
  return MARK_ON.test(text) ? { marked: true, set: 'on' } : { marked: false }
}
