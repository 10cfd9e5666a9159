// A tag's queue in Redis, shared by every replica, so an answered event outlives the process that
// answered it. Keys, for prefix P and tag T (`{T}` is a Redis Cluster hash tag: one slot per tag):
//
//   P{T}:q         stream, one entry per event (`r` = record JSON, `t` = enqueuedMs, `i` = the
//                  record's id; entries written before `i` existed lack it). Entries the
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
// Every operation is one script (or one MULTI); all but push also read the counts, so counts()
// stays synchronous: it returns the reading of this object's last operation (after a push, that
// reading plus what the push stored). On a shared queue that is
// this replica's last reading, not the queue's present state; other replicas' pushes and takes
// show up at this object's next operation (or refresh()).
//
// Dedup marks live beside the stream (P{T}:seen:<key>, same slot) and are set in the script that
// adds the event, so a mark never outlives a failed push. Delivery is at least once: an event
// whose process dies between its send and its settle is sent again by whoever takes it over.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { PushOptions, PushResult, QueueCounts, SharedQueue, TagQueue } from './queue.js'
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
  /** Told how many entries of dead consumers a take took over (a metric). */
  onClaim?: (events: number) => void
}

const GROUP = 'delivery'
const DRAIN_CHUNK = 5000
// Items per push script: a request is far smaller; a spool replay is pushed in several (one MULTI).
const PUSH_CHUNK = 1000
// Records a queue object keeps of its own pushes until it takes them (RedisStreamQueue.mine).
const MINE_MAX = 20_000

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

// ARGV: group, consumer, claimIdleMs, '1' to look for other consumers' stale entries (and forget
// consumers that hold nothing and have been idle that long). Returns counts, stale entries of q and
// of retrying (up to 100 each), and the id of q's newest entry (where a blocking wait starts).
const LOOK = COMMON + `
local me, idle = ARGV[2], tonumber(ARGV[3])
local function stale (key)
  local n = 0
  for _, p in ipairs(redis.call('XPENDING', key, ARGV[1], 'IDLE', idle, '-', '+', 100)) do
    if p[2] ~= me then n = n + 1 end
  end
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', key, ARGV[1])) do
    local name = field(c, 'name')
    if name ~= me and field(c, 'pending') == 0 and field(c, 'idle') > idle then
      redis.call('XGROUP', 'DELCONSUMER', key, ARGV[1], name)
    end
  end
  return n
end
local sq, sr = 0, 0
if ARGV[4] == '1' then sq, sr = stale(KEYS[1]), stale(KEYS[2]) end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
return { counts(), sq, sr, newest and newest[1] or '0-0' }
`

// Several pushes in one script (those of one tick, see push()), each stored whole or shed on its
// own, in order. KEYS 5… the dedup marks of the items that have one. ARGV: group, then per push:
// max (-1: none), the events of the push after this chunk, mark ttl, items, then per item: the
// KEYS index of its mark (0: none), the record, enqueuedMs, the record's id. An item whose key is marked (or marked
// earlier in the call) is a repeat; past max nothing of that push is stored (shed), counting the
// items that are not repeats. Returns, per push, shed and the repeats (0-based), not the counts:
// reading them (XINFO GROUPS…) was half of a push's Redis time, and this process's estimate (see
// push) is refreshed by the next look.
const PUSH = COMMON + `
local i, size, marked, out = 2, -1, {}, {}
while i <= #ARGV do
  local max, after, ttl, items = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  local at, fresh, marking, repeats = i + 4, {}, {}, {}
  for n = 0, items - 1 do
    local k = tonumber(ARGV[at + n * 4])
    if k > 0 and (marking[k] or marked[k] or redis.call('EXISTS', KEYS[k]) == 1) then
      repeats[#repeats + 1] = n
    else
      fresh[#fresh + 1] = n
      if k > 0 then marking[k] = true end
    end
  end
  local shed = false
  if max >= 0 then
    if size < 0 then
      local c = redis.call('HMGET', KEYS[4], 'scheduled', 'retrying')
      size = redis.call('XLEN', KEYS[1]) + tonumber(c[1] or '0') + tonumber(c[2] or '0')
    end
    shed = size + #fresh + after > max
  end
  if shed then
    out[#out + 1] = { 1, {} }
  else
    for k in pairs(marking) do
      redis.call('SET', KEYS[k], '1', 'PX', ttl)
      marked[k] = true
    end
    for _, n in ipairs(fresh) do
      local a = at + n * 4
      redis.call('XADD', KEYS[1], '*', 'r', ARGV[a + 1], 't', ARGV[a + 2], 'i', ARGV[a + 3])
    end
    if size >= 0 then size = size + #fresh end
    out[#out + 1] = { 0, repeats }
  end
  i = at + items * 4
end
return out
`

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
-- New entries go back as [id, {'i', record id}]: the process that pushed one still has its record
-- (see RedisStreamQueue.mine) and fetches only the others. Entries without an 'i' go whole.
for _, e in ipairs(read) do
  local rid = field(e[2], 'i')
  if rid then e[2] = { 'i', rid } end
end
return { claimed, read, counts() }
`

// ARGV: group, then ids of q's entries. Returns each entry, or false where it is gone.
const FETCH = COMMON + `
local out = {}
for i = 2, #ARGV do out[#out + 1] = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1] or false end
return out
`

// ARGV: group, consumer, claimIdleMs, now, entries of retrying this object holds. Returns the
// entry (or false), the counts, and 1 if the entry was taken over from another consumer.
// A retry batch another consumer took and never released comes first: it was due before it was
// taken. Otherwise the earliest due batch moves from the sorted set to an entry of the retrying
// stream, pending under this consumer, in this one atomic script.
const TAKE_DUE = COMMON + `
local me, idle = ARGV[2], ARGV[3]
for _, p in ipairs(redis.call('XPENDING', KEYS[2], ARGV[1], 'IDLE', idle, '-', '+', 1 + tonumber(ARGV[5]))) do
  if p[2] ~= me then
    local e = redis.call('XCLAIM', KEYS[2], ARGV[1], me, idle, p[1])[1]
    if e then return { e, counts(), 1 } end
  end
end
local m = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, 1)[1]
if not m then return { false, counts(), 0 } end
local n = tonumber(string.match(m, '^{"n":(%d+),'))
redis.call('ZREM', KEYS[3], m)
redis.call('HINCRBY', KEYS[4], 'scheduled', -n)
redis.call('HINCRBY', KEYS[4], 'retrying', n)
redis.call('XADD', KEYS[2], '*', 'b', m)
-- Only this script adds to the retrying stream, and it reads at once what it added: the entry just
-- added is the only one the group has not delivered yet.
local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], me, 'COUNT', 1, 'STREAMS', KEYS[2], '>')
return { got[1][2][1], counts(), 0 }
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

type Arg = string | number | Buffer
type Script = (...args: Arg[]) => Promise<unknown>
interface Scripts {
  taglineQueueCounts: Script
  taglineQueueLook: Script
  /** Keys vary: the first argument is their number. */
  taglineQueuePush: Script
  taglineQueueTake: Script
  taglineQueueFetch: Script
  taglineQueueTakeDue: Script
  taglineQueueRelease: Script
  taglineQueueDrain: Script
}
const SCRIPTS: Record<Exclude<keyof Scripts, 'taglineQueuePush'>, string> = {
  taglineQueueCounts: COUNTS,
  taglineQueueLook: LOOK,
  taglineQueueTake: TAKE,
  taglineQueueFetch: FETCH,
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
  if (typeof c.taglineQueuePush !== 'function') c.defineCommand('taglineQueuePush', { lua: PUSH })
  return c as unknown as Scripts
}

// Tags that change nothing in an event queue the same object (pipeline.ts, tagCopy): its JSON is
// made once, however many tags store it.
const eventJson = new WeakMap<object, string>()

/**
 * A record as the bytes Redis stores. Bytes, not a string: ioredis joins string arguments into one
 * string per command, which Node then encodes into a new buffer sized for the worst case at every
 * socket write; with a turn's records in it, that was fresh memory at every write, and three times
 * the page faults per GA4 hit of embedded mode (bench/README.md, "Issue 8, seventh look").
 */
function recordBytes (item: QueuedEvent): Buffer {
  const { event, ...rest } = item
  let json = eventJson.get(event)
  if (json === undefined) eventJson.set(event, json = JSON.stringify(event))
  return Buffer.from(`${JSON.stringify(rest).slice(0, -1)},"event":${json}}`)
}

/** A push on its way: records serialised, options resolved. */
interface Push {
  items: readonly QueuedEvent[]
  lines: Buffer[]
  keys?: ReadonlyArray<string | undefined>
  ttl: number
  max: number
}

/** One push's result from the replies of its chunks (chunk c's repeats count from starts[c]). */
function pushResult (replies: Array<[number, number[]]>, starts: number[]): PushResult {
  const repeats: number[] = []
  for (let c = 0; c < replies.length; c++) {
    const [shed, rep] = replies[c]
    if (shed === 1) return { shed: true, repeats: [] }
    for (const i of rep) repeats.push(starts[c] + Number(i))
  }
  return { shed: false, repeats }
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

export class RedisStreamQueue implements TagQueue, SharedQueue {
  readonly shared: SharedQueue = this
  private readonly client: Redis
  /** Its own connection for blocking reads, made at the first wait(). */
  private blocker?: Redis
  private closed = false
  private readonly markPrefix: string
  /** Other consumers' stale entries seen at the last look (q, retrying), and when that was. */
  private stale = { q: 0, retrying: 0 }
  private lookedMs = 0
  /** q's newest entry at the last look: wait() returns once a newer one is added. */
  private newest = '0-0'
  private readonly onClaim?: (events: number) => void
  private readonly scripts: Scripts
  private readonly keys: [string, string, string, string]
  private readonly base: string
  private consumer: string
  private readonly claimIdleMs: number
  private ready?: Promise<void>
  private last: QueueCounts = { waiting: 0, inFlight: 0, scheduled: 0, oldestWaitingMs: undefined, nextDueMs: undefined }
  /** The counts as the last script returned them (read() turns them into `last`). */
  private lastReply?: unknown
  /** record id → the entry that carries it, for what this object holds. */
  private readonly held = new Map<string, Held>()
  /** Held entries per stream, by entry id (an entry of retrying carries a whole batch). */
  private readonly entries = { q: new Map<string, Held>(), retrying: new Map<string, Held>() }
  /**
   * Records this object pushed and has not taken back yet, by record id, oldest first: a take
   * that reads one of them uses it as it is instead of fetching and parsing its JSON again (with
   * one replica, every take). Bounded; entries another replica takes are forgotten after
   * claimIdleMs (at a refresh).
   */
  private readonly mine = new Map<string, { item: QueuedEvent, atMs: number }>()
  /** Pushes of this event-loop turn, sent together (sendGathered). */
  private gathered: Array<{ push: Push, resolve: (r: PushResult) => void, reject: (err: unknown) => void }> = []

  constructor (opts: RedisQueueOptions) {
    this.client = opts.client
    this.scripts = scripts(opts.client)
    const k = `${opts.prefix}{${opts.tag}}`
    this.keys = [`${k}:q`, `${k}:retrying`, `${k}:retry`, `${k}:counts`]
    this.markPrefix = `${k}:seen:`
    this.onClaim = opts.onClaim
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
    const c = { ...this.last }
    // Entries a dead consumer left are ready now; their retry batches are due now.
    if (this.stale.q > 0) c.claimable = this.stale.q
    if (this.stale.retrying > 0) c.nextDueMs = 0
    return c
  }

  /**
   * Read the counts again without changing anything (at start, or to see other replicas' work).
   * At most every quarter of claimIdleMs it also looks for what dead consumers left.
   */
  async refresh (): Promise<QueueCounts> {
    const now = Date.now()
    const look = now - this.lookedMs >= Math.min(this.claimIdleMs / 4, 15_000)
    const [counts, sq, sr, newest] = await this.run(() =>
      this.scripts.taglineQueueLook(...this.keys, GROUP, this.consumer, this.claimIdleMs, look ? '1' : '0')) as [unknown, number, number, string]
    if (look) {
      this.lookedMs = now
      this.stale = { q: Number(sq), retrying: Number(sr) }
      // What stayed this long was taken by another replica (or is still waiting behind a paused
      // tag, and is fetched when taken).
      for (const [id, m] of this.mine) {
        if (now - m.atMs < this.claimIdleMs) break
        this.mine.delete(id)
      }
    }
    this.newest = newest
    this.read(counts)
    return this.counts()
  }

  /**
   * Blocks (on a connection of its own) until an entry newer than the last refresh() is added to
   * the stream, or `timeoutMs` passes. Nothing is read for the group: it only says "look again".
   */
  async wait (timeoutMs: number): Promise<void> {
    // A wait that begins after close() (a watch loop finishing its turn) must not open a new
    // connection: nothing would close it, and it would keep the process alive.
    if (this.closed) return
    if (this.blocker === undefined) {
      // The store's command and socket timeouts would cut a BLOCK longer than them: this
      // connection waits the read's own BLOCK time instead, plus ioredis' grace (blockingTimeout
      // turns that limit on), so a Redis that stops answering still ends the wait.
      this.blocker = this.client.duplicate({ commandTimeout: undefined, socketTimeout: undefined, blockingTimeout: 60_000 })
      this.blocker.on('error', () => { /* surfaced through the failed command */ })
    }
    if (this.blocker.status === 'wait') await this.blocker.connect()
    if (this.closed || this.blocker === undefined) return
    await this.blocker.xread('COUNT', 1, 'BLOCK', Math.max(1, Math.round(timeoutMs)), 'STREAMS', this.keys[0], this.newest)
  }

  /** Drops the blocking connection, and this object's consumer names where they hold nothing. */
  async close (): Promise<void> {
    this.closed = true
    this.blocker?.disconnect()
    this.blocker = undefined
    if (this.held.size > 0) return
    await Promise.all(this.keys.slice(0, 2).map(async key => {
      const pending = await this.client.xpending(key, GROUP, '-', '+', 1, this.consumer).catch(() => [1])
      if (pending.length === 0) await this.client.xgroup('DELCONSUMER', key, GROUP, this.consumer).catch(() => {})
    }))
  }

  /**
   * Pushes are gathered for one event-loop turn (setImmediate) and sent as one script per tag:
   * under load, one command and one socket write carry every request of the turn, not one each
   * (each was a write syscall and a script call of its own). A push of more than PUSH_CHUNK
   * events (a spool replay, a buffer flush) goes on its own, in chunks.
   */
  async push (items: readonly QueuedEvent[], opts: PushOptions = {}): Promise<PushResult> {
    if (items.length === 0) return { shed: false, repeats: [] }
    // Serialised before anything is sent: a record that cannot be written stores nothing.
    const push: Push = { lines: items.map(recordBytes), items, keys: opts.marks?.keys, ttl: Math.max(1, Math.round(opts.marks?.ttlMs ?? 1)), max: opts.max ?? -1 }
    if (items.length > PUSH_CHUNK) return await this.pushChunked(push)
    // Remembered before it is sent: the take that reads it may be answered before this push is.
    const now = Date.now()
    const remembered = this.mine.size + items.length <= MINE_MAX
    if (remembered) for (const item of items) this.mine.set(item.id, { item, atMs: now })
    let result: PushResult
    try {
      result = await new Promise<PushResult>((resolve, reject) => {
        this.gathered.push({ push, resolve, reject })
        if (this.gathered.length === 1) setImmediate(() => { void this.sendGathered() })
      })
    } catch (err) {
      if (remembered) for (const item of items) this.mine.delete(item.id)
      throw err
    }
    if (remembered && result.shed) for (const item of items) this.mine.delete(item.id)
    else if (remembered) for (const i of result.repeats) this.mine.delete(items[i].id)
    this.stored(push, result)
    return result
  }

  private async sendGathered (): Promise<void> {
    const all = this.gathered
    this.gathered = []
    for (let from = 0; from < all.length;) {
      // One call carries at most about PUSH_CHUNK events.
      let to = from
      let n = 0
      while (to < all.length && (to === from || n + all[to].push.items.length <= PUSH_CHUNK)) n += all[to++].push.items.length
      const part = all.slice(from, to)
      from = to
      try {
        const call = this.pushCall(part.map(g => ({ push: g.push, from: 0, to: g.push.items.length })))
        const replies = await this.run(async () => await this.scripts.taglineQueuePush(...call)) as Array<[number, number[]]>
        part.forEach((g, i) => g.resolve(pushResult([replies[i]], [0])))
      } catch (err) {
        for (const g of part) g.reject(err)
      }
    }
  }

  private async pushChunked (push: Push): Promise<PushResult> {
    await this.groups()
    const calls: Arg[][] = []
    const starts: number[] = []
    for (let from = 0; from < push.items.length; from += PUSH_CHUNK) {
      starts.push(from)
      calls.push(this.pushCall([{ push, from, to: Math.min(from + PUSH_CHUNK, push.items.length) }]))
    }
    // MULTI: Redis runs every chunk or, if one is refused when queued, none (EXECABORT); a
    // connection lost before EXEC discards the whole transaction. Not retried: a lost answer
    // does not say whether it ran.
    const multi = this.client.multi()
    for (const c of calls) (multi as unknown as Scripts).taglineQueuePush(...c)
    const res = await multi.exec()
    if (res === null) throw new Error('push: transaction discarded')
    const failed = res.find(([err]) => err !== null)
    if (failed !== undefined) throw failed[0] as Error
    const result = pushResult(res.map(([, r]) => (r as Array<[number, number[]]>)[0]), starts)
    this.stored(push, result)
    return result
  }

  /** The arguments of one PUSH script for these slices of pushes (marks shared as KEYS). */
  private pushCall (parts: Array<{ push: Push, from: number, to: number }>): Arg[] {
    const marks: string[] = []
    const index = new Map<string, number>() // one KEYS entry per distinct key
    const args: Arg[] = [GROUP]
    for (const { push, from, to } of parts) {
      // The cap counts every event of the push still to come, so that a push split in chunks is
      // refused whole or not at all.
      args.push(push.max, push.items.length - to, push.ttl, to - from)
      for (let i = from; i < to; i++) {
        const key = push.keys?.[i]
        let k = 0
        if (key !== undefined) {
          k = index.get(key) ?? 0
          if (k === 0) index.set(key, k = 4 + marks.push(this.markPrefix + key))
        }
        args.push(k, push.lines[i], push.items[i].enqueuedMs, push.items[i].id)
      }
    }
    return [4 + marks.length, ...this.keys, ...marks, ...args]
  }

  /** The counts as a push left them, as far as this process knows: what it stored is waiting. */
  private stored (push: Push, result: PushResult): void {
    const stored = push.items.length - result.repeats.length
    if (result.shed || stored === 0) return
    const skip = new Set(result.repeats)
    const first = push.items.findIndex((_, i) => !skip.has(i))
    this.last = { ...this.last, waiting: this.last.waiting + stored, oldestWaitingMs: Math.min(this.last.oldestWaitingMs ?? Infinity, push.items[first].enqueuedMs) }
  }

  async take (max: number): Promise<QueuedEvent[]> {
    if (max <= 0) return []
    const [claimed, read, counts] = await this.uncertain(() =>
      this.scripts.taglineQueueTake(...this.keys, GROUP, this.consumer, this.claimIdleMs, max, this.entries.q.size)) as [Entry[], Entry[], unknown]
    if (claimed.length > 0) {
      // Entries this object held under an earlier name (uncertain()) come back too: not a claim.
      const others = claimed.filter(e => !this.entries.q.has(e[0])).length
      this.stale.q = Math.max(0, this.stale.q - others)
      if (others > 0) this.onClaim?.(others)
    } else this.stale.q = 0
    const taken: Array<[entry: string, record: QueuedEvent | undefined]> = []
    const missing: string[] = []
    for (const entry of [...claimed, ...read]) {
      // Already ours (held under an earlier name of this object, see uncertain()): not a second copy.
      if (this.entries.q.has(entry[0])) continue
      const item = this.recordOf(entry)
      if (item === undefined) missing.push(entry[0])
      taken.push([entry[0], item])
    }
    const fetched = new Map<string, QueuedEvent>()
    if (missing.length > 0) {
      // Other replicas' entries: now pending under this name, so nobody deletes them meanwhile.
      // If they cannot be fetched, the rest goes out and they stay pending under a name this
      // object gives up (uncertain), to be claimed after claimIdleMs like a dead one's.
      const got = await this.uncertain(() => this.scripts.taglineQueueFetch(...this.keys, GROUP, ...missing)).catch(() => []) as Array<Entry | null>
      for (const entry of got) if (entry !== null) fetched.set(entry[0], JSON.parse(fieldOf(entry, 'r')) as QueuedEvent)
    }
    const out: QueuedEvent[] = []
    for (const [entry, record] of taken) {
      const item = record ?? fetched.get(entry)
      if (item === undefined) continue
      this.mine.delete(item.id)
      this.hold({ stream: 'q', entry, n: 1, records: new Set([item.id]) })
      out.push(item)
    }
    this.read(counts)
    return out
  }

  /** The record of an entry from its own JSON, or this object's copy; undefined: to be fetched. */
  private recordOf (entry: Entry): QueuedEvent | undefined {
    const fields = entry[1]
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'r') return JSON.parse(fields[i + 1]) as QueuedEvent
    const id = fieldOf(entry, 'i')
    const mine = this.mine.get(id)
    if (mine === undefined) return undefined
    this.mine.delete(id)
    return mine.item
  }


  // Crash safety: a due batch is always in exactly one place that survives this process: the
  // sorted set, or an entry of the retrying stream pending in the group. TAKE_DUE moves it from
  // one to the other in one script (Redis runs a script whole, and replicates and persists its
  // effects as one transaction). If this process then dies, the entry stays pending under its
  // consumer name; after claimIdleMs any replica's takeDue claims it and gets the same batch (same
  // id, same records) back. schedule() goes the other way in one script too: the new batch joins
  // the sorted set in the same step that acknowledges and deletes the entries it came from.
  async takeDue (now: number): Promise<Batch | undefined> {
    const [entry, counts, flag] = await this.uncertain(() =>
      this.scripts.taglineQueueTakeDue(...this.keys, GROUP, this.consumer, this.claimIdleMs, now, this.entries.retrying.size)) as [Entry | null, unknown, number]
    // Taken over from another consumer, not a due batch this call moved.
    const claimed = Number(flag) === 1
    // Stale batches are taken before anything due is moved: once a call takes none, none is left.
    if (!claimed) this.stale.retrying = 0
    let batch: Batch | undefined
    // Already ours (held under an earlier name of this object, see uncertain()): no second copy.
    if (entry !== null && !this.entries.retrying.has(entry[0])) {
      const { id, items } = JSON.parse(fieldOf(entry, 'b')) as { n: number } & Batch
      batch = { id, items }
      this.hold({ stream: 'retrying', entry: entry[0], n: items.length, records: new Set(items.map(i => i.id)) })
      if (claimed) {
        this.stale.retrying = Math.max(0, this.stale.retrying - 1)
        this.onClaim?.(items.length)
      }
    }
    this.read(counts)
    return batch
  }

  async schedule (batch: Batch, dueMs: number): Promise<void> {
    // Bytes, as a record's are (recordBytes): a batch of 1,000 events is a megabyte or more.
    const member = Buffer.from(JSON.stringify({ n: batch.items.length, id: batch.id, items: batch.items }))
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
    // Nothing leaves Redis and nothing is scheduled (a plan with only a retry settles no ids, or a
    // batch's entries are not all released yet): no call. A failed call here would stop the
    // worker before its schedule() and strand the retry batch in this object's hands.
    if (q.length === 0 && retrying.length === 0 && retry.length === 0) {
      // The same reading, less what this object has now released of a batch (read's `partly`).
      if (this.lastReply !== undefined) this.read(this.lastReply)
      return
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
    this.lastReply = reply
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
