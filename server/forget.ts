// Erasure of one person (`tagline forget`, POST /admin/forget): every record the gateway keeps
// that carries their identifiers. In order:
//   1. stitching contexts (server/stitch.ts): under the given user id or client id, those whose
//      fields name them (an order's context names its browser's client id, a browser's context the
//      user signed in on it), and, for a user, those of the client ids their contexts name: the
//      browsers they used. Those client ids are that person's from here on;
//   2. queued events (waiting or scheduled) at every tag, through the queues' eraser;
//   3. dead letters, every tag;
//   4. the spool file on this host.
// Events in flight to a destination are left and counted (erase.ts). Identifiers that removed
// records carried besides the person's (a user id on an event found by e-mail address) are
// reported, not followed: a shared browser must not erase its other users.
import type { Store } from './store/types.js'
import type { DeadLetterStore } from './delivery/dead-letters.js'
import { removeLetters } from './delivery/dead-letters.js'
import type { QueueEraser } from './delivery/erase.js'
import { rewriteSpool } from './delivery/spool.js'
import type { TaglineEvent } from '../schemas/event.js'
import { personMatch, type Person } from './person.js'
import { errors } from '../common/errors.js'

export type { Person }

export interface ForgetTargets {
  store: Store
  queues: QueueEraser
  deadLetters: DeadLetterStore
  /** The spool file of this host (the embedded queues at shutdown, a Redis replica's local buffer). */
  spoolFile?: string
}

interface TagForgotten {
  tag: string
  /** Events removed from the tag's queue (waiting or scheduled for a retry). */
  queued: number
  deadLetters: number
  /** The person's events being sent to the destination now, left as they are. */
  inFlight: number
}

export interface ForgetReport {
  /** Stitching contexts removed, by the key they were kept under. */
  contexts: { userId: number, clientId: number, orderId: number }
  /** The client ids (browsers) found in the user's contexts, erased with them. */
  clientIds: string[]
  /** Per tag that held anything of the person's. */
  tags: TagForgotten[]
  /** The spool file and the events removed from it; `missing` when there was no spool. */
  spool?: { file: string, removed: number, missing?: true }
  /** Identifiers on the removed records other than the person's: maybe theirs too, not followed. */
  alsoSeen: { userIds: string[], clientIds: string[] }
}

const KINDS = { 'ctx:uid:': 'userId', 'ctx:cid:': 'clientId', 'ctx:tx:': 'orderId' } as const

/** Erase what is kept about `person`; at least one identifier must be given. */
export async function forget (person: Person, t: ForgetTargets): Promise<ForgetReport> {
  const given = clean(person)
  if (given.userId === undefined && given.clientId === undefined && given.email === undefined) {
    throw errors.badRequest('Name the person: a user id, a client id or an e-mail address.')
  }
  const first = personMatch(given)
  if (first === undefined) throw errors.badRequest(`"${given.email ?? ''}" is not an e-mail address.`)
  const report: ForgetReport = { contexts: { userId: 0, clientId: 0, orderId: 0 }, clientIds: [], tags: [], alsoSeen: { userIds: [], clientIds: [] } }
  const clientIds = new Set(given.clientId === undefined ? [] : [given.clientId])
  const seenUsers = new Set<string>()
  const seenClients = new Set<string>()

  // 1. Contexts. A user's contexts lead to their browsers' client ids: a second pass takes those.
  const learned = new Set<string>()
  const contextMatches = (key: string, f: Record<string, string>): boolean => {
    const byUser = given.userId !== undefined && (key === `ctx:uid:${given.userId}` || f.user_id === given.userId)
    if (byUser && f.client_id !== undefined && !clientIds.has(f.client_id)) learned.add(f.client_id)
    const byClient = (key.startsWith('ctx:cid:') && clientIds.has(key.slice('ctx:cid:'.length))) || (f.client_id !== undefined && clientIds.has(f.client_id))
    return byUser || byClient || (given.email !== undefined && Object.values(f).some(first.text))
  }
  await eraseContexts(t.store, contextMatches, report, seenUsers, seenClients)
  if (learned.size > 0) {
    for (const c of learned) clientIds.add(c)
    report.clientIds = [...learned].sort()
    await eraseContexts(t.store, contextMatches, report, seenUsers, seenClients)
  }

  // 2-4. Events: the person's identifiers, and the client ids learned above.
  const match = personMatch(given, clientIds) ?? first
  const isTheirs = (e: TaglineEvent): boolean => {
    if (!match.event(e)) return false
    note(e.user_id, seenUsers)
    note(e.client_id, seenClients)
    return true
  }
  const rows = new Map<string, TagForgotten>()
  const row = (tag: string): TagForgotten => {
    let r = rows.get(tag)
    if (r === undefined) rows.set(tag, r = { tag, queued: 0, deadLetters: 0, inFlight: 0 })
    return r
  }
  for (const q of await t.queues.erase(isTheirs)) {
    const r = row(q.tag)
    r.queued += q.removed
    r.inFlight += q.inFlight
  }
  for (const d of await removeLetters(t.deadLetters, l => isTheirs(l.event))) row(d.tag).deadLetters += d.removed
  report.tags = [...rows.values()].sort((a, b) => a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)
  if (t.spoolFile !== undefined) {
    const s = await rewriteSpool(t.spoolFile, e => !isTheirs(e.event))
    report.spool = s === undefined ? { file: t.spoolFile, removed: 0, missing: true } : { file: t.spoolFile, removed: s.removed }
  }

  if (given.userId !== undefined) seenUsers.delete(given.userId)
  for (const c of clientIds) seenClients.delete(c)
  report.alsoSeen = { userIds: [...seenUsers].sort(), clientIds: [...seenClients].sort() }
  return report
}

/** The identifiers as given, trimmed; an empty one is none. */
function clean (p: Person): Person {
  const out: Person = {}
  for (const k of ['userId', 'clientId', 'email'] as const) {
    const v = typeof p[k] === 'string' ? (p[k] as string).trim() : ''
    if (v !== '') out[k] = v
  }
  return out
}

function note (id: unknown, into: Set<string>): void {
  if (typeof id === 'string' && id !== '') into.add(id)
}

/** One pass over the contexts: the matching ones removed and counted by kind. */
async function eraseContexts (store: Store, matches: (key: string, fields: Record<string, string>) => boolean, report: ForgetReport, users: Set<string>, clients: Set<string>): Promise<void> {
  const doomed: string[] = []
  for await (const page of store.scan('ctx:')) {
    for (const [key, fields] of page) {
      if (!matches(key, fields)) continue
      doomed.push(key)
      note(fields.user_id, users)
      note(fields.client_id, clients)
    }
  }
  // Counted by what was there to remove: a record that expired meanwhile is not counted.
  for (const [head, kind] of Object.entries(KINDS)) {
    const keys = doomed.filter(k => k.startsWith(head))
    if (keys.length > 0) report.contexts[kind] += await store.remove(keys)
  }
}
