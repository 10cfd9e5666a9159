// The ordered client list. Order matters: the first client that claims a snapshot parses it, so
// the formats with a cheap, certain marker (gtag's path or `v=2`, MP's `events[].name`) go first
// and our own JSON, the most general shape, goes last.
import { errors, isTaglineError } from '../server/errors.js'
import { datalayer } from './datalayer.js'
import { gtag } from './gtag.js'
import { json } from './json.js'
import { mp } from './mp.js'
import type { Client, ParsedEvent, RequestSnapshot } from './types.js'

export type { Client, ParsedEvent, RequestSnapshot } from './types.js'
export { gtag, mp, datalayer, json }

export const clients: readonly Client[] = [gtag, mp, datalayer, json]

/** Find the client for a snapshot and parse it. Every failure is a TaglineError (4xx). */
export function parseRequest (snap: RequestSnapshot): { client: string, events: ParsedEvent[] } {
  for (const client of clients) {
    let claimed: boolean
    try {
      claimed = client.claims(snap)
    } catch {
      claimed = false // a claim test that trips over odd input is simply "not mine"
    }
    if (!claimed) continue
    try {
      return { client: client.name, events: client.parse(snap) }
    } catch (err) {
      if (isTaglineError(err)) throw err
      throw errors.badRequest(`The ${client.name} request could not be read.`)
    }
  }
  throw errors.unknownFormat()
}
