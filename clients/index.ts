// The ordered client list. Order matters: the first client that claims a snapshot parses it, so
// the formats with a cheap, certain marker (gtag's path or `v=2`, MP's `events[].name`) go first
// and our own JSON, the most general shape, goes last.
import { errors, isTaglineError, type TaglineError } from '../common/errors.js'
import { datalayer } from './datalayer.js'
import { gtag } from './gtag.js'
import { json } from './json.js'
import { mp } from './mp.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'
import type { Consent } from '../schemas/event.js'

export type { Client, RequestSnapshot } from './types.js'
export const clients: readonly Client[] = [gtag, mp, datalayer, json]

/**
 * What the first client that claims a snapshot made of it: its events, or the 4xx that explains
 * why the request cannot be read. The HTTP edge, `tagline try` and the tests all come through here.
 */
export type Claim =
  | { client: string, events: ParsedEvent[], consent?: Consent, error?: undefined }
  | { client: string, error: TaglineError }

export function claim (snap: RequestSnapshot): Claim {
  for (const client of clients) {
    let claimed: boolean
    try {
      claimed = client.claims(snap)
    } catch {
      claimed = false // a claim test that trips over odd input is simply "not mine"
    }
    if (!claimed) continue
    try {
      const events = client.parse(snap)
      const consent = client.consentAfter?.(snap)
      return consent === undefined ? { client: client.name, events } : { client: client.name, events, consent }
    } catch (err) {
      return { client: client.name, error: isTaglineError(err) ? err : errors.badRequest(`The ${client.name} request could not be read.`) }
    }
  }
  return { client: 'none', error: errors.unknownFormat() }
}
