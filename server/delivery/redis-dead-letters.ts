// Dead letters in Redis, shared by every replica and kept across restarts. Keys, for prefix P:
//
//   P{T}:dead          stream of tag T's letters (`l` = the letter as JSON), trimmed to exactly
//                      `max` entries, oldest first out; an entry's id is the letter's id, and
//                      remove() is XDEL
//   P{T}:dead:evicted  how many of T's letters the trimming removed
//   Pdead:tags         set of the tags that have (or had) letters, so list() without a tag and
//                      tags() find them all
//
// The first two share T's Redis Cluster slot and change in one script; the set lives elsewhere
// and is written first, so a tag with letters is always in it.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { capped, warnEvictions, windowed, type DeadLetterStore, type ListOptions } from './dead-letters.js'
import type { DeadLetter, StoredLetter } from './types.js'

export interface RedisDeadLettersOptions {
  client: Redis
  prefix: string
  /** Letters kept per tag. */
  max: number
  /** Warned at the first eviction and every 100th, as the memory store does. */
  logger?: Logger
}

// KEYS[1] the stream, KEYS[2] the eviction count; ARGV[1] the letter, ARGV[2] the cap.
const ADD = `
redis.call('XADD', KEYS[1], '*', 'l', ARGV[1])
local over = redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[2])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if over > 0 then total = redis.call('INCRBY', KEYS[2], over) end
return { over, total }
`

type Entry = [string, string[]]

interface Scripts { taglineDeadLetterAdd: (...args: Array<string | number>) => Promise<[number, number]> }

function scripts (client: Redis): Scripts {
  const c = client as unknown as Redis & Partial<Scripts>
  if (typeof c.taglineDeadLetterAdd !== 'function') c.defineCommand('taglineDeadLetterAdd', { lua: ADD, numberOfKeys: 2 })
  return c as unknown as Scripts
}

// "ms-seq", each part within 64 bits.
const STREAM_ID = /^\d{1,19}-\d{1,19}$/

/** Stream ids ("ms-seq") in the order Redis gave them. */
function compareIds (a: string, b: string): number {
  const [am, as] = a.split('-').map(Number)
  const [bm, bs] = b.split('-').map(Number)
  return am - bm || as - bs
}

export class RedisDeadLetters implements DeadLetterStore {
  private readonly client: Redis
  private readonly scripts: Scripts
  private readonly tagsKey: string

  constructor (private readonly opts: RedisDeadLettersOptions) {
    this.client = opts.client
    this.scripts = scripts(opts.client)
    this.tagsKey = `${opts.prefix}dead:tags`
  }

  private key (tag: string): string {
    return `${this.opts.prefix}{${tag}}:dead`
  }

  async add (letter: DeadLetter): Promise<void> {
    const json = JSON.stringify(capped(letter))
    await this.client.sadd(this.tagsKey, letter.tag)
    const [over, evicted] = await this.scripts.taglineDeadLetterAdd(this.key(letter.tag), `${this.key(letter.tag)}:evicted`, json, this.opts.max)
    warnEvictions(this.opts.logger, letter.tag, evicted - over, evicted, this.opts.max)
  }

  async list (tag?: string, opts?: ListOptions): Promise<StoredLetter[]> {
    if (tag !== undefined) return windowed((await this.entries(tag)).map(parse), opts)
    const tags = await this.client.smembers(this.tagsKey)
    const all = (await Promise.all(tags.map(async t => await this.entries(t)))).flat().map(parse)
    // By time; letters of the same millisecond in the order Redis took them.
    return windowed(all.sort((a, b) => a.atMs - b.atMs || compareIds(a.id, b.id)), opts)
  }

  async remove (tag: string, ids: readonly string[]): Promise<number> {
    // XDEL fails the whole call on an id that is not a stream id; such an id names no letter here.
    const valid = ids.filter(id => STREAM_ID.test(id))
    if (valid.length === 0) return 0
    return await this.client.xdel(this.key(tag), ...valid)
  }

  async count (tag: string): Promise<number> {
    return await this.client.xlen(this.key(tag))
  }

  async tags (): Promise<string[]> {
    return (await this.client.smembers(this.tagsKey)).sort()
  }

  async evicted (tag: string): Promise<number> {
    return Number(await this.client.get(`${this.key(tag)}:evicted`) ?? 0)
  }

  private async entries (tag: string): Promise<Entry[]> {
    return await this.client.xrange(this.key(tag), '-', '+') as Entry[]
  }
}

function parse (entry: Entry): StoredLetter {
  return { ...JSON.parse(entry[1][1]) as DeadLetter, id: entry[0] }
}
