import { Redis } from 'ioredis'
import type { MergeOptions, Store } from './types.js'

export interface RedisStoreOptions {
  url: string
  /** Prefix of every key, so several gateways can share one Redis. */
  prefix?: string
}

/** Keys per SCAN call (a hint) and per DEL: no one call holds Redis for long. */
const SCAN_COUNT = 1000

/** `s` matched literally in a SCAN pattern. */
function globEscape (s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * How long a Redis command may go unanswered before it fails (and the connection with it). Every
 * script tagline runs takes milliseconds; the queues' blocking reads turn both limits off on their
 * own connection and rely on ioredis' blockingTimeout (RedisStreamQueue.wait).
 */
const COMMAND_TIMEOUT_MS = 5000

/** Records per script call (their arguments stay far below Lua's stack limit for unpack). */
const RECORDS_PER_CALL = 200

// The stitching contexts' reads and writes, for several records at once (see TurnCalls). Each
// record is tried on its own (pcall): one Redis refuses (a key of another type) fails only its own
// caller. Per record, the reply is Redis's error message (a string) or the result.
// MERGE: KEYS the records; ARGV per record: ttl ms, '1' to replace the record (else '0'), the
// field that orders writes and this write's number in it ('' and '' for none), the number of
// fields, then field, value, …. A record's fields and its ttl change together, as a MULTI of
// HSET + PEXPIRE did; a replace deletes the record first, in the same script. A merge whose
// ordering number is below the record's is skipped (another replica wrote a newer state first).
// Result: 1.
const MERGE = `
local out, a = {}, 1
for i = 1, #KEYS do
  local ttl, replace, of, ov, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local r, stale = 0, false
  if replace ~= '1' and of ~= '' and ov then
    local cur = redis.pcall('HGET', KEYS[i], of)
    stale = type(cur) == 'string' and tonumber(cur) ~= nil and tonumber(cur) > ov
  end
  if not stale then
    if replace == '1' then redis.call('DEL', KEYS[i]) end
    if n > 0 then r = redis.pcall('HSET', KEYS[i], unpack(ARGV, a + 5, a + 4 + 2 * n)) end
  end
  if type(r) == 'table' and r.err then
    out[i] = r.err
  else
    if not stale then redis.call('PEXPIRE', KEYS[i], ttl) end
    out[i] = 1
  end
  a = a + 5 + 2 * n
end
return out
`
// READ: KEYS the records. Result: the record's fields and values, flat (empty: no record).
const READ = `
local out = {}
for i = 1, #KEYS do
  local r = redis.pcall('HGETALL', KEYS[i])
  if r.err then out[i] = r.err else out[i] = r end
end
return out
`

type RecordScript = (numberOfKeys: number, ...args: Array<string | number>) => Promise<unknown[]>

/**
 * Calls of one event-loop turn, sent together (RECORDS_PER_CALL per script call). A purchase
 * writes a new context (its transaction id) on every request, and a MULTI each was about half of
 * what Redis mode added to a JSON purchase's CPU (bench/README.md, "Issue 8, seventh look"); a
 * backend event reads up to three contexts. The records of a call are not one slot: these are
 * standalone-Redis scripts.
 */
class TurnCalls<I, O> {
  private pending: Array<{ item: I, resolve: (out: O) => void, reject: (err: unknown) => void }> = []

  constructor (private readonly send: (items: I[]) => Promise<Array<O | Error>>) {}

  async call (item: I): Promise<O> {
    return await new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject })
      if (this.pending.length === 1) setImmediate(() => { this.flush() })
    })
  }

  private flush (): void {
    const all = this.pending
    this.pending = []
    for (let from = 0; from < all.length; from += RECORDS_PER_CALL) {
      const part = all.slice(from, from + RECORDS_PER_CALL)
      Promise.resolve().then(async () => await this.send(part.map(p => p.item))).then(
        outs => part.forEach((p, i) => { const out = outs[i]; if (out instanceof Error) p.reject(out); else p.resolve(out) }),
        (err: unknown) => { for (const p of part) p.reject(err) })
    }
  }
}

/** A record's per-record reply: Redis's error message for it, as an Error. */
const refusal = (reply: unknown): Error | undefined => typeof reply === 'string' ? new Error(reply) : undefined

/** The shared store for replicas behind a load balancer. */
export class RedisStore implements Store {
  readonly kind = 'redis' as const
  readonly client: Redis
  /** Prefix of every key this gateway writes (queues, dedup marks, contexts, rate limits). */
  readonly prefix: string
  private readonly merges: TurnCalls<{ key: string, fields: Record<string, string>, ttlMs: number, replace: boolean, order?: string }, undefined>
  private readonly reads: TurnCalls<string, Record<string, string> | undefined>

  constructor (opts: RedisStoreOptions) {
    // Fail fast instead of queueing commands while Redis is away: the edge then answers 503
    // rather than acknowledging events it could not check. RESP2: the replies are the same shapes
    // (ioredis' "legacy" mapping of RESP3), and reading them cost the gateway 3–9% less CPU per
    // hit in Redis mode (bench/README.md, "Issue 8, third pass").
    // A Redis that stops answering without closing the connection (a frozen process, a host or
    // network gone) must fail commands too, or pushes hang outside the local buffer: a command
    // unanswered for COMMAND_TIMEOUT_MS is refused, and so silent a socket is dropped and dialled
    // again. What was in flight on a dropped connection is refused, never sent again behind the
    // caller's back: a script that ran but whose answer was lost would run twice (a push stored
    // twice, a take's entries held under a name nobody claims); the caller sees the error and
    // treats the outcome as unknown (RedisStreamQueue.uncertain, the local buffer).
    this.client = new Redis(opts.url, {
      protocol: 2,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      commandTimeout: COMMAND_TIMEOUT_MS,
      socketTimeout: COMMAND_TIMEOUT_MS,
      autoResendUnfulfilledCommands: false
    })
    this.client.on('error', () => { /* surfaced through ping() and failed commands */ })
    this.prefix = opts.prefix ?? 'tagline:'
    this.client.defineCommand('taglineMerge', { lua: MERGE })
    this.client.defineCommand('taglineRead', { lua: READ })
    const scripts = this.client as unknown as { taglineMerge: RecordScript, taglineRead: RecordScript }
    const rec = (key: string): string => this.prefix + 'rec:' + key
    this.merges = new TurnCalls(async items => {
      const args: Array<string | number> = []
      for (const m of items) {
        const entries = Object.entries(m.fields)
        const order = m.order !== undefined && m.fields[m.order] !== undefined ? [m.order, m.fields[m.order]] : ['', '']
        args.push(Math.max(1, Math.round(m.ttlMs)), m.replace ? '1' : '0', ...order, entries.length)
        for (const [f, v] of entries) args.push(f, v)
      }
      return (await scripts.taglineMerge(items.length, ...items.map(m => rec(m.key)), ...args)).map(refusal)
    })
    this.reads = new TurnCalls(async keys => {
      const replies = await scripts.taglineRead(keys.length, ...keys.map(rec))
      return replies.map(r => {
        const flat = r as string[]
        if (!Array.isArray(flat)) return refusal(r) ?? new Error('unexpected reply')
        if (flat.length === 0) return undefined
        // fromEntries defines each field as its own property: a field named __proto__ stays data.
        const pairs: Array<[string, string]> = []
        for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]])
        return Object.fromEntries(pairs)
      })
    })
  }

  get redis (): { client: Redis, prefix: string } {
    return { client: this.client, prefix: this.prefix }
  }

  get rateLimit (): { redis: Redis, nameSpace: string } {
    return { redis: this.client, nameSpace: `${this.prefix}ratelimit:` }
  }

  async connect (): Promise<void> {
    if (this.client.status === 'wait') await this.client.connect()
  }

  /** Gathered with the other merges of this event-loop turn (TurnCalls), in order. */
  async merge (key: string, fields: Record<string, string>, ttlMs: number, opts: MergeOptions = {}): Promise<void> {
    await this.merges.call({ key, fields, ttlMs, replace: opts.replace === true, ...opts.order !== undefined ? { order: opts.order } : {} })
  }

  /** Gathered with the other reads of this event-loop turn (TurnCalls). */
  async fields (key: string): Promise<Record<string, string> | undefined> {
    return await this.reads.call(key)
  }

  async * scan (prefix: string): AsyncIterable<Array<[string, Record<string, string>]>> {
    const head = this.prefix + 'rec:'
    let cursor = '0'
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', globEscape(head + prefix) + '*', 'COUNT', SCAN_COUNT)
      cursor = next
      if (keys.length === 0) continue
      const read = this.client.pipeline()
      for (const k of keys) read.hgetall(k)
      const replies = await read.exec() ?? []
      const page: Array<[string, Record<string, string>]> = []
      for (let i = 0; i < keys.length; i++) {
        const [err, rec] = replies[i] ?? [null, {}]
        if (err !== null) throw err
        // Expired (or removed) between the scan and the read.
        if (Object.keys(rec as object).length > 0) page.push([keys[i].slice(head.length), rec as Record<string, string>])
      }
      if (page.length > 0) yield page
    } while (cursor !== '0')
  }

  async remove (keys: readonly string[]): Promise<number> {
    let removed = 0
    for (let i = 0; i < keys.length; i += SCAN_COUNT) {
      removed += await this.client.del(...keys.slice(i, i + SCAN_COUNT).map(k => this.prefix + 'rec:' + k))
    }
    return removed
  }

  async ping (): Promise<boolean> {
    try { return (await this.client.ping()) === 'PONG' } catch { return false }
  }

  async close (): Promise<void> {
    if (this.client.status !== 'end') await this.client.quit().catch(() => this.client.disconnect())
  }
}
