// Who an erasure is about (`tagline forget`, POST /admin/forget): the identifiers an operator
// gives, and how a kept record is recognised as that person's. Queued events hold the tags'
// prepared copies, so an e-mail address is looked for as its SHA-256 in every vendor's
// normalisation (and as clear text, for a tag that keeps it or a URL that carries it); user and
// client ids are matched in the events' own fields.
import type { TaglineEvent } from '../schemas/event.js'
import { normalizeEmail, normalizeExternalId, type PiiFlavour } from '../tags/pii-normalize.js'
import { sha256Hex } from '../tags/pii.js'

export interface Person {
  userId?: string
  clientId?: string
  email?: string
}

// Every flavour, checked by the compiler: a new one must be added here.
const FLAVOURS = Object.keys({ meta: 1, tiktok: 1, google: 1 } satisfies Record<PiiFlavour, 1>) as PiiFlavour[]

export interface PersonMatch {
  readonly person: Person
  /** The event (an original, or a tag's prepared copy) carries one of the person's identifiers. */
  event: (e: TaglineEvent) => boolean
  /** Some text (a URL, a stitching context's field) carries the person's e-mail address or a digest of it. */
  text: (s: string) => boolean
}

/**
 * Undefined when the e-mail address is not one (nothing could ever be found under it).
 * `clientIds`: more browsers known to be the person's (found in their stitching contexts).
 */
export function personMatch (person: Person, clientIds: Iterable<string> = []): PersonMatch | undefined {
  const clients = new Set(clientIds)
  if (person.clientId !== undefined) clients.add(person.clientId)
  const digests = new Set<string>()
  const addresses = new Set<string>()
  if (person.email !== undefined) {
    for (const f of FLAVOURS) {
      const n = normalizeEmail(person.email, f)
      if (n === undefined) return undefined
      addresses.add(n)
      digests.add(sha256Hex(n))
    }
    addresses.add(person.email.trim().toLowerCase())
  }
  // A tag may send the user id as a hashed external_id (Meta's userIdAsExternalId).
  if (person.userId !== undefined) {
    digests.add(sha256Hex(person.userId))
    for (const f of FLAVOURS) {
      const n = normalizeExternalId(person.userId, f)
      if (n !== undefined) digests.add(sha256Hex(n))
    }
  }
  const text = (s: string): boolean => {
    const lower = s.toLowerCase()
    for (const d of digests) if (within(lower, d, HEX, HEX)) return true
    if (addresses.size === 0 || !lower.includes('@') && !lower.includes('%40')) return false
    const forms = [lower]
    try { forms.push(decodeURIComponent(lower.replace(/\+/g, ' '))) } catch { forms.push(lower.replace(/%40/g, '@')) }
    return forms.some(form => [...addresses].some(a => within(form, a, LOCAL_PART, DOMAIN_PART)))
  }
  return {
    person,
    text,
    event: e => (person.userId !== undefined && e.user_id === person.userId) ||
      (typeof e.client_id === 'string' && clients.has(e.client_id)) ||
      (digests.size > 0 && anyText(e, text, 0))
  }
}

const HEX = /[0-9a-f]/
const LOCAL_PART = /[a-z0-9._%+-]/
const DOMAIN_PART = /[a-z0-9-]/

/**
 * `needle` occurs in `hay` as a whole: not preceded by a character that would extend it on the
 * left, nor followed by one that would on the right (a dot counts when a label follows it), so
 * `jane@example.com` is not found in `mary.jane@example.com` or `jane@example.com.au`.
 */
function within (hay: string, needle: string, left: RegExp, right: RegExp): boolean {
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
    const before = hay[at - 1]
    const after = hay[at + needle.length]
    if (before !== undefined && left.test(before)) continue
    if (after !== undefined && (right.test(after) || (after === '.' && right.test(hay[at + needle.length + 1] ?? '')))) continue
    return true
  }
  return false
}

/** Some string value of `v` (keys too: a dataLayer may key by address) satisfies `test`. */
function anyText (v: unknown, test: (s: string) => boolean, depth: number): boolean {
  if (typeof v === 'string') return test(v)
  if (v === null || typeof v !== 'object' || depth > 64) return false
  if (Array.isArray(v)) return v.some(x => anyText(x, test, depth + 1))
  for (const [k, x] of Object.entries(v)) if (test(k) || anyText(x, test, depth + 1)) return true
  return false
}
