// A tag's queue in Redis, shared by every replica, so an answered event outlives the process that
// answered it. Keys, for prefix P and tag T (`{T}` is a Redis Cluster hash tag: one slot per tag):
//
//   P{T}:q         stream, one entry per event (`r` = record JSON, `t` = enqueuedMs). Entries the
//                  group has not delivered are waiting; delivered, unacknowledged ones (the
//                  group's pending entries) are in flight. Settled entries are XACKed and XDELed,
//                  so the stream holds only waiting + in flight.
//   P{T}:retry     sorted set of scheduled retries: member = the batch as JSON
//                  (`{"n":<events>,"id":…,"items":[…]}`), score = dueMs.
//   P{T}:retrying  stream of retry batches taken by takeDue, one entry per batch (`b` = the member
//                  as it was in P{T}:retry); every entry is pending in the group until released.
//   P{T}:counts    hash: `scheduled` (events in P{T}:retry), `retrying` (events in
//                  P{T}:retrying's entries). Batches are members, so Redis cannot count their
//                  events; these counters change in the same script as the members they count.
//
// One consumer group (`delivery`) on both streams, shared by every replica. Each queue object
// reads under its own consumer name (the given name plus a random suffix), so "pending under my
// name" means "held by this object". Pending entries of another consumer that stayed unacknowledged
// longer than claimIdleMs belong to a dead (or stuck) process and are taken over (XCLAIM) before
// anything new is read. claimIdleMs must therefore exceed the longest attempt of a batch, or a
// slow but live replica loses its batch to another one and the events go out twice.
//
// Every operation is one script (or one MULTI) that also reads the counts, so counts() stays
// synchronous: it returns the reading of this object's last operation. On a shared queue that is
// this replica's last reading, not the queue's present state; other replicas' pushes and takes
// show up at this object's next operation (or refresh()).
//
// Delivery is at least once: an event whose process dies between its send and its settle is sent
// again by whoever takes it over.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { QueueCounts, TagQueue } from './queue.js'
import type { Batch, QueuedEvent } from './types.js'

export interface RedisQueueOptions {
  client: Redis
  /** Prefix of every key, as the store's (several gateways can share one Redis). */
  prefix: string
  tag: string
  /** This process's name in the consumer group; each queue object adds a random suffix. */
  consumer: string
  /** Another consumer's entry unacknowledged this long is taken over. */
  claimIdleMs: number
}

const GROUP = 'delivery'
const DRAIN_CHUNK = 5000

// KEYS[1] q, KEYS[2] retrying, KEYS[3] retry, KEYS[4] counts; ARGV[1] the group, in every script.
const COMMON = `
local function field (list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
  return false
end
local function group_of_q ()
  local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
  if groups.err then return 0, '0-0' end
  for _, g in ipairs(groups) do
    if field(g, 'name') == ARGV[1] then return field(g, 'pending'), field(g, 'last-delivered-id') end
  end
  return 0, '0-0'
end
local function counts ()
  local len = redis.call('XLEN', KEYS[1])
  local pending, last = group_of_q()
  local first = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)[1]
  local oldest = false
  if first then oldest = field(first[2], 't') end
  local due = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')[2] or false
  local c = redis.call('HMGET', KEYS[4], 'scheduled', 'retrying')
  return { len, pending, oldest, due, c[1], c[2] }
end
`

const COUNTS = COMMON + 'return counts()'

// ARGV: group, consumer, claimIdleMs, max, entries of q this object holds.
// Another consumer's stale entries first (they are the oldest), then new ones.
const TAKE = COMMON + `
local me, idle, max = ARGV[2], ARGV[3], tonumber(ARGV[4])
local ids = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', idle, '-', '+', max + tonumber(ARGV[5]))) do
  if p[2] ~= me and #ids < max then ids[#ids + 1] = p[1] end
end
local claimed = {}
for i = 1, #ids, 500 do
  for _, e in ipairs(redis.call('XCLAIM', KEYS[1], ARGV[1], me, idle, unpack(ids, i, math.min(i + 499, #ids)))) do
    claimed[#claimed + 1] = e
  end
end
local read = {}
if #claimed < max then
  local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], me, 'COUNT', max - #claimed, 'STREAMS', KEYS[1], '>')
  if got then read = got[1][2] end
end
return { claimed, read, counts() }
`

// ARGV: group, consumer, claimIdleMs, now, entries of retrying this object holds.
// A retry batch another consumer took and never released comes first: it was due before it was
// taken. Otherwise the earliest due batch moves from the sorted set to an entry of the retrying
// stream, pending under this consumer, in this one atomic script.
const TAKE_DUE = COMMON + `
local me, idle = ARGV[2], ARGV[3]
for _, p in ipairs(redis.call('XPENDING', KEYS[2], ARGV[1], 'IDLE', idle, '-', '+', 1 + tonumber(ARGV[5]))) do
  if p[2] ~= me then
    local e = redis.call('XCLAIM', KEYS[2], ARGV[1], me, idle, p[1])[1]
    if e then return { e, counts() } end
  end
end
local m = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, 1)[1]
if not m then return { false, counts() } end
local n = tonumber(string.match(m, '^{"n":(%d+),'))
redis.call('ZREM', KEYS[3], m)
redis.call('HINCRBY', KEYS[4], 'scheduled', -n)
redis.call('HINCRBY', KEYS[4], 'retrying', n)
redis.call('XADD', KEYS[2], '*', 'b', m)
-- Only this script adds to the retrying stream, and it reads at once what it added: the entry just
-- added is the only one the group has not delivered yet.
local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], me, 'COUNT', 1, 'STREAMS', KEYS[2], '>')
return { got[1][2][1], counts() }
`

// ARGV: group, a = entries of q to release, h = entries of retrying to release, the a ids,
// h pairs (id, events), then optionally a retry to schedule: member, dueMs, events.
// Release = XACK + XDEL. A retrying entry's events leave the counter only if this XACK is the
// one that acknowledged it (another consumer may have taken it over and released it already).
const RELEASE = COMMON + `
local a, h, i = tonumber(ARGV[2]), tonumber(ARGV[3]), 4
for _ = 1, a do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
  i = i + 1
end
for _ = 1, h do
  if redis.call('XACK', KEYS[2], ARGV[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[4], 'retrying', -tonumber(ARGV[i + 1]))
  end
  redis.call('XDEL', KEYS[2], ARGV[i])
  i = i + 2
end
if ARGV[i] then
  if redis.call('ZADD', KEYS[3], ARGV[i + 1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[4], 'scheduled', tonumber(ARGV[i + 2]))
  end
end
return counts()
`

// ARGV: group, chunk size, '1' to take the scheduled retries too. Removes what it returns.
const DRAIN = COMMON + `
local members = {}
if ARGV[3] == '1' then
  members = redis.call('ZRANGE', KEYS[3], 0, -1)
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[4], 'scheduled', 0)
end
local _, last = group_of_q()
local entries = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', ARGV[2])
local ids = {}
for _, e in ipairs(entries) do ids[#ids + 1] = e[1] end
for i = 1, #ids, 500 do redis.call('XDEL', KEYS[1], unpack(ids, i, math.min(i + 499, #ids))) end
return { members, entries, counts() }
`

type Arg = string | number
type Script = (...args: Arg[]) => Promise<unknown>
interface Scripts {
  taglineQueueCounts: Script
  taglineQueueTake: Script
  taglineQueueTakeDue: Script
  taglineQueueRelease: Script
  taglineQueueDrain: Script
}
const SCRIPTS: Record<keyof Scripts, string> = {
  taglineQueueCounts: COUNTS,
  taglineQueueTake: TAKE,
  taglineQueueTakeDue: TAKE_DUE,
  taglineQueueRelease: RELEASE,
  taglineQueueDrain: DRAIN
}

/** The scripts as commands of the client (and of its pipelines), defined once per client. */
function scripts (client: Redis): Scripts {
  const c = client as unknown as Redis & Partial<Scripts>
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof c[name as keyof Scripts] !== 'function') c.defineCommand(name, { lua, numberOfKeys: 4 })
  }
  return c as unknown as Scripts
}

/** A stream entry as ioredis gives it: [id, [field, value, …]]. */
type Entry = [string, string[]]

function fieldOf (entry: Entry, name: string): string {
  const fields = entry[1]
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  throw new Error(`stream entry ${entry[0]} has no field ${name}`)
}

/** A stream entry this object holds (pending under its name) and the records it still answers for. */
interface Held {
  stream: 'q' | 'retrying'
  entry: string
  /** Events in the entry; one for q, the batch's for retrying. */
  n: number
  records: Set<string>
}

const uniqueName = (base: string): string => `${base}:${randomBytes(4).toString('hex')}`

export class RedisStreamQueue implements TagQueue {
  private readonly client: Redis
  private readonly scripts: Scripts
  private readonly keys: [string, string, string, string]
  private readonly base: string
  private consumer: string
  private readonly claimIdleMs: number
  private ready?: Promise<void>
  private last: QueueCounts = { waiting: 0, inFlight: 0, scheduled: 0, oldestWaitingMs: undefined, nextDueMs: undefined }
  /** record id → the entry that carries it, for what this object holds. */
  private readonly held = new Map<string, Held>()
  /** Held entries per stream, by entry id (an entry of retrying carries a whole batch). */
  private readonly entries = { q: new Map<string, Held>(), retrying: new Map<string, Held>() }

  constructor (opts: RedisQueueOptions) {
    this.client = opts.client
    this.scripts = scripts(opts.client)
    const k = `${opts.prefix}{${opts.tag}}`
    this.keys = [`${k}:q`, `${k}:retrying`, `${k}:retry`, `${k}:counts`]
    this.base = opts.consumer
    this.consumer = uniqueName(opts.consumer)
    this.claimIdleMs = Math.max(0, Math.round(opts.claimIdleMs))
  }

  /**
   * This replica's last reading of the shared queue, taken at the end of its last operation. The
   * in-flight count is the group's (every replica's), less the events of batches this object has
   * partly released (Redis counts a batch until all of it is released).
   */
  counts (): QueueCounts {
    return { ...this.last }
  }

  /** Read the counts again without changing anything (at start, or to see other replicas' work). */
  async refresh (): Promise<QueueCounts> {
    this.read(await this.run(() => this.scripts.taglineQueueCounts(...this.keys, GROUP)))
    return this.counts()
  }

  async push (items: readonly QueuedEvent[]): Promise<void> {
    if (items.length === 0) return
    // Serialised before anything is sent: a record that cannot be written stores nothing.
    const lines = items.map(item => [JSON.stringify(item), String(item.enqueuedMs)])
    await this.groups()
    // MULTI: Redis runs every XADD or, if one is refused when queued, none (EXECABORT); a
    // connection lost before EXEC discards the whole transaction. Not retried: a lost answer
    // does not say whether it ran.
    const multi = this.client.multi()
    for (const [r, t] of lines) multi.xadd(this.keys[0], '*', 'r', r, 't', t)
    ;(multi as unknown as Scripts).taglineQueueCounts(...this.keys, GROUP)
    const res = await multi.exec()
    if (res === null) throw new Error('push: transaction discarded')
    const failed = res.slice(0, -1).find(([err]) => err !== null)
    if (failed !== undefined) throw failed[0] as Error
    const [err, counts] = res[res.length - 1]
    if (err === null) this.read(counts)
    else await this.refresh()
  }

  async take (max: number): Promise<QueuedEvent[]> {
    if (max <= 0) return []
    const [claimed, read, counts] = await this.uncertain(() =>
      this.scripts.taglineQueueTake(...this.keys, GROUP, this.consumer, this.claimIdleMs, max, this.entries.q.size)) as [Entry[], Entry[], unknown]
    const out: QueuedEvent[] = []
    for (const entry of [...claimed, ...read]) {
      // Already ours (held under an earlier name of this object, see uncertain()): not a second copy.
      if (this.entries.q.has(entry[0])) continue
      const item = JSON.parse(fieldOf(entry, 'r')) as QueuedEvent
      this.hold({ stream: 'q', entry: entry[0], n: 1, records: new Set([item.id]) })
      out.push(item)
    }
    this.read(counts)
    return out
  }

  // Crash safety: a due batch is always in exactly one place that survives this process: the
  // sorted set, or an entry of the retrying stream pending in the group. TAKE_DUE moves it from
  // one to the other in one script (Redis runs a script whole, and replicates and persists its
  // effects as one transaction). If this process then dies, the entry stays pending under its
  // consumer name; after claimIdleMs any replica's takeDue claims it and gets the same batch (same
  // id, same records) back. schedule() goes the other way in one script too: the new batch joins
  // the sorted set in the same step that acknowledges and deletes the entries it came from.
  async takeDue (now: number): Promise<Batch | undefined> {
    const [entry, counts] = await this.uncertain(() =>
      this.scripts.taglineQueueTakeDue(...this.keys, GROUP, this.consumer, this.claimIdleMs, now, this.entries.retrying.size)) as [Entry | null, unknown]
    let batch: Batch | undefined
    if (entry !== null && !this.entries.retrying.has(entry[0])) {
      const { id, items } = JSON.parse(fieldOf(entry, 'b')) as { n: number } & Batch
      batch = { id, items }
      this.hold({ stream: 'retrying', entry: entry[0], n: items.length, records: new Set(items.map(i => i.id)) })
    }
    this.read(counts)
    return batch
  }

  async schedule (batch: Batch, dueMs: number): Promise<void> {
    const member = JSON.stringify({ n: batch.items.length, id: batch.id, items: batch.items })
    await this.release(batch.items.map(i => i.id), [member, dueMs, batch.items.length])
  }

  async settle (ids: readonly string[]): Promise<void> {
    await this.release(ids, [])
  }

  /**
   * Waiting and scheduled events, removed. On a shared queue this takes every replica's waiting
   * events: it is for the embedded spool, which a shared queue does not need.
   */
  async drain (): Promise<Array<QueuedEvent & { batchId?: string }>> {
    const out: Array<QueuedEvent & { batchId?: string }> = []
    let first = true
    for (;;) {
      const [members, entries, counts] = await this.run(() =>
        this.scripts.taglineQueueDrain(...this.keys, GROUP, DRAIN_CHUNK, first ? '1' : '0')) as [string[], Entry[], unknown]
      for (const m of members) {
        const { id, items } = JSON.parse(m) as Batch
        for (const item of items) out.push({ ...item, batchId: id })
      }
      for (const entry of entries) out.push(JSON.parse(fieldOf(entry, 'r')) as QueuedEvent)
      this.read(counts)
      first = false
      if (entries.length < DRAIN_CHUNK) return out
    }
  }

  /**
   * Records leave this object's hands (settled, or scheduled with `retry` = [member, dueMs,
   * events]). An entry is acknowledged and deleted once every record it carries has left; the
   * scheduling and the acknowledgements are one script. The records leave the local map before
   * the call, so that of two releases running at once exactly one sees an entry emptied.
   */
  private async release (ids: readonly string[], retry: Arg[]): Promise<void> {
    const q: string[] = []
    const retrying: Arg[] = []
    for (const id of ids) {
      const h = this.held.get(id)
      if (h === undefined) continue
      this.held.delete(id)
      h.records.delete(id)
      if (h.records.size > 0) continue
      this.entries[h.stream].delete(h.entry)
      if (h.stream === 'q') q.push(h.entry)
      else retrying.push(h.entry, h.n)
    }
    const counts = await this.uncertain(() =>
      this.scripts.taglineQueueRelease(...this.keys, GROUP, q.length, retrying.length / 2, ...q, ...retrying, ...retry))
    this.read(counts)
  }

  private hold (h: Held): void {
    this.entries[h.stream].set(h.entry, h)
    for (const id of h.records) this.held.set(id, h)
  }

  private read (reply: unknown): void {
    const [len, pending, oldest, due, scheduled, retrying] = reply as Array<string | number | null>
    let partly = 0
    for (const h of this.entries.retrying.values()) partly += h.n - h.records.size
    this.last = {
      waiting: Math.max(0, Number(len) - Number(pending)),
      inFlight: Math.max(0, Number(pending) + Number(retrying ?? 0) - partly),
      scheduled: Number(scheduled ?? 0),
      oldestWaitingMs: oldest === null ? undefined : Number(oldest),
      nextDueMs: due === null ? undefined : Number(due)
    }
  }

  /**
   * An operation whose answer is lost may have left entries pending under this name that this
   * object does not know it holds (a take that ran), or that it no longer holds (a release that
   * did not run). Another name from then on makes them another (dead) consumer's, which any
   * replica (this one included) claims after claimIdleMs: they are sent again, not lost.
   */
  private async uncertain<T> (op: () => Promise<T>): Promise<T> {
    try {
      return await this.run(op)
    } catch (err) {
      this.consumer = uniqueName(this.base)
      throw err
    }
  }

  /** Runs `op` once the groups exist; if they vanished (a flushed Redis), makes them and tries again once. */
  private async run<T> (op: () => Promise<T>): Promise<T> {
    await this.groups()
    try {
      return await op()
    } catch (err) {
      if (!/NOGROUP|no such key/i.test((err as Error).message)) throw err
      this.ready = undefined
      await this.groups()
      return await op()
    }
  }

  private async groups (): Promise<void> {
    this.ready ??= (async () => {
      for (const key of this.keys.slice(0, 2)) {
        try {
          await this.client.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM')
        } catch (err) {
          if (!/BUSYGROUP/.test((err as Error).message)) throw err
        }
      }
    })()
    try {
      await this.ready
    } catch (err) {
      this.ready = undefined
      throw err
    }
  }
}
