// First-party identity: the server-managed client id cookie (FPID, sGTM-compatible), Meta's
// _fbp / _fbc, and the cookie domain. Pure functions; the route sets the cookies.
import { getDomain } from 'tldts'
import type { IdSource } from './ids.js'

export const FPID_MAX_AGE_S = 63_072_000 // two years, as sGTM
export const META_COOKIE_MAX_AGE_S = 7_776_000 // 90 days, the lifetime Meta's pixel gives _fbp/_fbc

/** `auto` → the registrable domain of the request host (eTLD+1); undefined → a host-only cookie. */
export function cookieDomain (host: string | undefined, setting: string): string | undefined {
  if (setting !== 'auto') return setting === '' ? undefined : setting
  if (host === undefined) return undefined
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return getDomain(hostname, { allowPrivateDomains: false }) ?? undefined
}

/** FPID cookie value → client_id (the part after `FPID2.2.`, as sGTM's GA4 client does). */
export function clientIdFromFpid (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  let v = value
  try { v = decodeURIComponent(value) } catch { /* a malformed cookie: read it as it is */ }
  const m = /^FPID\d\.\d\.(.+\.\d+)$/.exec(v)
  return m?.[1]
}

/** `_ga` cookie `GA1.1.<random>.<seconds>` → the gtag client id `<random>.<seconds>`. */
export function clientIdFromGa (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const m = /^GA\d\.\d+\.(\d+\.\d+)$/.exec(value)
  return m?.[1]
}

export function mintFpid (ids: IdSource, nowMs: number): { cookie: string, clientId: string } {
  return fpidFor(`${ids.bytes(32).toString('base64')}.${Math.floor(nowMs / 1000)}`)
}

/** The FPID cookie value that carries a given client id. */
export function fpidFor (clientId: string): { cookie: string, clientId: string } {
  return { cookie: `FPID2.2.${clientId}`, clientId }
}

/** A gtag-shaped client id, `<random>.<seconds>`, for events that arrive with none. */
export function mintClientId (ids: IdSource, nowMs: number): string {
  return `${ids.digits()}.${Math.floor(nowMs / 1000)}`
}

export function mintFbp (ids: IdSource, nowMs: number): string {
  return `fb.1.${nowMs}.${ids.digits()}`
}

/**
 * `fb.<subdomainIndex>.<creationTimeMs>.<fbclid>`. Meta requires the fbclid byte-for-byte (no
 * decoding or case change) and the time in milliseconds.
 */
export function buildFbc (fbclid: string, nowMs: number): string {
  return `fb.1.${nowMs}.${fbclid}`
}

/** The click id inside an `_fbc` value; a 5-segment value (with Meta's appendix) is handled too. */
export function fbclidOf (fbc: string): string | undefined {
  const parts = fbc.split('.')
  if (parts.length < 4 || parts[0] !== 'fb') return undefined
  return parts[3]
}
