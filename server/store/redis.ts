import { Redis } from 'ioredis'
import type { Store } from './types.js'

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

/** Records per merge script (its arguments stay far below Lua's stack limit for unpack). */
const MERGE_CHUNK = 200

// KEYS: the records. ARGV, per record: ttl ms, the number of fields, then field, value, ….
// One script: each record's fields and its ttl change together, as a MULTI of HSET + PEXPIRE did.
const MERGE = `
local a = 1
for i = 1, #KEYS do
  local ttl, n = ARGV[a], tonumber(ARGV[a + 1])
  if n > 0 then redis.call('HSET', KEYS[i], unpack(ARGV, a + 2, a + 1 + 2 * n)) end
  redis.call('PEXPIRE', KEYS[i], ttl)
  a = a + 2 + 2 * n
end
return #KEYS
`

interface PendingMerge { key: string, fields: Record<string, string>, ttlMs: number, resolve: () => void, reject: (err: unknown) => void }

/** The shared store for replicas behind a load balancer. */
export class RedisStore implements Store {
  readonly kind = 'redis' as const
  readonly client: Redis
  /** Prefix of every key this gateway writes (queues, dedup marks, contexts, rate limits). */
  readonly prefix: string
  /** merge() calls of this event-loop turn, sent together (sendMerges). */
  private merges: PendingMerge[] = []

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

  /**
   * Merges of one event-loop turn go to Redis as one script call (MERGE_CHUNK records each): a
   * purchase writes a new context (its transaction id) on every request, and a MULTI each was
   * about half of what Redis mode added to a JSON purchase's CPU (bench/README.md, "Issue 8,
   * seventh look"). The records are not one slot, so this is a standalone-Redis script.
   */
  async merge (key: string, fields: Record<string, string>, ttlMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.merges.push({ key, fields, ttlMs, resolve, reject })
      if (this.merges.length === 1) setImmediate(() => this.sendMerges())
    })
  }

  private sendMerges (): void {
    const all = this.merges
    this.merges = []
    const c = this.client as unknown as Redis & { taglineMerge?: (...args: Array<string | number>) => Promise<unknown> }
    if (c.taglineMerge === undefined) c.defineCommand('taglineMerge', { lua: MERGE })
    for (let from = 0; from < all.length; from += MERGE_CHUNK) {
      const part = all.slice(from, from + MERGE_CHUNK)
      const keys: string[] = []
      const args: Array<string | number> = []
      for (const m of part) {
        keys.push(this.prefix + 'rec:' + m.key)
        const entries = Object.entries(m.fields)
        args.push(Math.max(1, Math.round(m.ttlMs)), entries.length)
        for (const [f, v] of entries) args.push(f, v)
      }
      c.taglineMerge!(keys.length, ...keys, ...args).then(() => { for (const m of part) m.resolve() }, err => { for (const m of part) m.reject(err) })
    }
  }

  async fields (key: string): Promise<Record<string, string> | undefined> {
    const rec = await this.client.hgetall(this.prefix + 'rec:' + key)
    return Object.keys(rec).length === 0 ? undefined : rec
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
