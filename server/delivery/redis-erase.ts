// Erasure in the Redis queues (erase.ts), on the keys redis-queue.ts documents, for prefix P and
// tag T: P{T}:q (waiting and in-flight events), P{T}:retry (scheduled retry batches, with the
// event count in P{T}:counts) and P{T}:retrying (retry batches in flight). Works with every
// gateway up or down, as `tagline replay` does.
//
// The events are read and matched here, then one script per key changes only what is still as it
// was read: an entry of q is deleted only while the group has not delivered it (delivered and not
// acknowledged, it is in flight: counted and left); a retry batch is replaced by the batch without
// the person's events only while it is still in P{T}:retry (a replica that took it since holds it
// in flight). A replica's local buffer (events accepted while Redis was away, not stored yet) is
// in that process and out of reach here.
import type { Redis } from 'ioredis'
import type { EventMatch, QueueErasure, QueueEraser } from './erase.js'
import type { Batch, QueuedEvent } from './types.js'

const GROUP = 'delivery'
const CHUNK = 500

// KEYS[1] q; ARGV[1] the group, then entry ids. Returns { deleted, in flight }.
const ERASE_WAITING = `
local function id (s)
  local ms, seq = string.match(s, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local last = '0-0'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if not groups.err then
  for _, g in ipairs(groups) do
    local name, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if name == ARGV[1] then last = delivered end
  end
end
local lm, ls = id(last)
local deleted, flying = 0, 0
for i = 2, #ARGV do
  local m, s = id(ARGV[i])
  if m > lm or (m == lm and s > ls) then
    deleted = deleted + redis.call('XDEL', KEYS[1], ARGV[i])
  elseif #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) > 0 then
    flying = flying + 1
  end
end
return { deleted, flying }
`

// KEYS[1] retry, KEYS[2] counts; ARGV triples: the member as read, its replacement ('' for none),
// the events that leave. Returns { events removed, events of members taken since }.
const ERASE_SCHEDULED = `
local removed, taken = 0, 0
for i = 1, #ARGV, 3 do
  local n = tonumber(ARGV[i + 2])
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    redis.call('ZREM', KEYS[1], ARGV[i])
    if ARGV[i + 1] ~= '' then redis.call('ZADD', KEYS[1], score, ARGV[i + 1]) end
    redis.call('HINCRBY', KEYS[2], 'scheduled', -n)
    removed = removed + n
  else
    taken = taken + n
  end
end
return { removed, taken }
`

type Script = (...args: Array<string | number>) => Promise<[number, number]>
interface Scripts { taglineEraseWaiting: Script, taglineEraseScheduled: Script }

function scripts (client: Redis): Scripts {
  const c = client as unknown as Redis & Partial<Scripts>
  if (typeof c.taglineEraseWaiting !== 'function') c.defineCommand('taglineEraseWaiting', { lua: ERASE_WAITING, numberOfKeys: 1 })
  if (typeof c.taglineEraseScheduled !== 'function') c.defineCommand('taglineEraseScheduled', { lua: ERASE_SCHEDULED, numberOfKeys: 2 })
  return c as unknown as Scripts
}

/** A stream entry as ioredis gives it: [id, [field, value, …]]. */
type Entry = [string, string[]]

function field (entry: Entry, name: string): string | undefined {
  const f = entry[1]
  for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1]
  return undefined
}

/** `s` matched literally in a SCAN pattern. */
function globEscape (s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

export interface RedisEraserOptions {
  client: Redis
  prefix: string
  /** Tags to look at besides those found in Redis (the configured ones). */
  tags?: readonly string[]
}

export function redisEraser (opts: RedisEraserOptions): QueueEraser {
  const { client, prefix } = opts
  const s = scripts(client)

  /** Every tag with a queue key under the prefix, and the given ones. */
  async function tags (): Promise<string[]> {
    const found = new Set(opts.tags)
    const head = `${prefix}{`
    const shape = /^\{(.+)\}:(q|retry|retrying)$/
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${globEscape(head)}*}:[qr]*`, 'COUNT', 1000)
      cursor = next
      for (const k of keys) {
        const m = shape.exec(k.slice(prefix.length))
        if (m !== null) found.add(m[1])
      }
    } while (cursor !== '0')
    return [...found].sort()
  }

  /** The entries of a stream, a chunk at a time. */
  async function * entries (key: string): AsyncIterable<Entry[]> {
    let from = '-'
    for (;;) {
      const chunk = await client.xrange(key, from, '+', 'COUNT', CHUNK) as Entry[]
      if (chunk.length > 0) yield chunk
      if (chunk.length < CHUNK) return
      from = '(' + chunk[chunk.length - 1][0]
    }
  }

  async function eraseTag (tag: string, match: EventMatch): Promise<QueueErasure> {
    const k = `${prefix}{${tag}}`
    const out: QueueErasure = { tag, removed: 0, inFlight: 0 }
    // Waiting and in flight: one entry per event.
    const ids: string[] = []
    for await (const chunk of entries(`${k}:q`)) {
      for (const e of chunk) {
        const r = field(e, 'r')
        if (r !== undefined && match((JSON.parse(r) as QueuedEvent).event)) ids.push(e[0])
      }
    }
    for (let i = 0; i < ids.length; i += CHUNK) {
      const [deleted, flying] = await s.taglineEraseWaiting(`${k}:q`, GROUP, ...ids.slice(i, i + CHUNK))
      out.removed += deleted
      out.inFlight += flying
    }
    // Scheduled retries: each batch without the person's events, at the same due time.
    const changes: string[] = []
    let cursor = '0'
    do {
      const [next, flat] = await client.zscan(`${k}:retry`, cursor, 'COUNT', CHUNK)
      cursor = next
      for (let i = 0; i < flat.length; i += 2) {
        const member = flat[i]
        const { id, items } = JSON.parse(member) as Batch
        const kept = items.filter(item => !match(item.event))
        if (kept.length === items.length) continue
        // The member's shape is redis-queue.ts's (schedule): its scripts read the count at the front.
        changes.push(member, kept.length === 0 ? '' : JSON.stringify({ n: kept.length, id, items: kept }), String(items.length - kept.length))
      }
    } while (cursor !== '0')
    for (let i = 0; i < changes.length; i += CHUNK * 3) {
      const [removed, taken] = await s.taglineEraseScheduled(`${k}:retry`, `${k}:counts`, ...changes.slice(i, i + CHUNK * 3))
      out.removed += removed
      out.inFlight += taken
    }
    // Retry batches in flight: counted only.
    for await (const chunk of entries(`${k}:retrying`)) {
      for (const e of chunk) {
        const b = field(e, 'b')
        if (b !== undefined) out.inFlight += (JSON.parse(b) as Batch).items.filter(item => match(item.event)).length
      }
    }
    return out
  }

  return {
    erase: async (match: EventMatch): Promise<QueueErasure[]> => {
      const out: QueueErasure[] = []
      for (const tag of await tags()) {
        const r = await eraseTag(tag, match)
        if (r.removed > 0 || r.inFlight > 0) out.push(r)
      }
      return out
    }
  }
}
