// Consent Mode signals on a gtag hit: `gcs`, `gcd` and `npa` → the event's consent. Google documents
// the consent types (https://developers.google.com/tag-platform/security/concepts/consent-mode) but
// not these parameters; their encoding: https://www.simoahava.com/analytics/consent-mode-v2-google-tags/
import { CONSENT_TYPES, type Consent } from '../schemas/event.js'

type State = 'granted' | 'denied'

function gcsBit (ch: string | undefined): State | undefined {
  return ch === '1' ? 'granted' : ch === '0' ? 'denied' : undefined
}

/** `gcs` = `G1` + ad_storage bit + analytics_storage bit (`1`, `0`, `-`). */
export function decodeGcs (gcs: string | undefined): Pick<Consent, 'ad_storage' | 'analytics_storage'> {
  const out: Pick<Consent, 'ad_storage' | 'analytics_storage'> = {}
  if (gcs === undefined || gcs.length < 4 || !gcs.startsWith('G1')) return out
  const ad = gcsBit(gcs[2])
  const analytics = gcsBit(gcs[3])
  if (ad !== undefined) out.ad_storage = ad
  if (analytics !== undefined) out.analytics_storage = analytics
  return out
}

function gcdLetter (ch: string | undefined): State | undefined {
  switch (ch) {
    case 't': case 'r': case 'n': case 'v': case 'e': return 'granted'
    case 'p': case 'q': case 'm': case 'u': return 'denied'
    // `l` is "not set"; uppercase letters seen in the wild have no known meaning.
    default: return undefined
  }
}

const GCD_SLOTS = [
  [2, 'ad_storage'],
  [4, 'analytics_storage'],
  [6, 'ad_user_data'],
  [8, 'ad_personalization']
] as const

/** `gcd`, e.g. `13p3t3p2p5l1`: letters at positions 2, 4, 6, 8; the characters between are separators. */
export function decodeGcd (gcd: string | undefined): Consent {
  const out: Consent = {}
  if (gcd === undefined) return out
  for (const [pos, type] of GCD_SLOTS) {
    const state = gcdLetter(gcd[pos])
    if (state !== undefined) out[type] = state
  }
  return out
}

/**
 * The effective consent of a hit: `gcd` wins where it has a letter, `gcs` fills ad_storage and
 * analytics_storage, and `npa=1` denies ad_personalization when nothing else set it.
 * `undefined` when the hit says nothing.
 */
export function consentFromHit (gcs: string | undefined, gcd: string | undefined, npa: string | undefined): Consent | undefined {
  const consent: Consent = { ...decodeGcs(gcs), ...decodeGcd(gcd) }
  if (npa === '1' && consent.ad_personalization === undefined) consent.ad_personalization = 'denied'
  return Object.keys(consent).length > 0 ? consent : undefined
}

/**
 * A consent object as a dataLayer push or tagline JSON sender writes it, `{ ad_storage: 'denied', … }`:
 * `granted` / `denied` in any case (MP's `GRANTED`), or booleans. Anything else is left unset.
 */
export function consentFromObject (v: unknown): Consent | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
  const src = v as Record<string, unknown>
  const out: Consent = {}
  for (const key of CONSENT_TYPES) {
    if (!Object.hasOwn(src, key)) continue
    const raw = src[key]
    const s = typeof raw === 'boolean' ? (raw ? 'granted' : 'denied') : typeof raw === 'string' ? raw.trim().toLowerCase() : undefined
    if (s === 'granted' || s === 'denied') out[key] = s
  }
  return Object.keys(out).length > 0 ? out : undefined
}

