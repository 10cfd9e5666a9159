// Dead letters in Redis, shared by every replica and kept across restarts. Keys, for prefix P:
//
//   P{T}:dead          stream of tag T's letters (`l` = the letter as JSON), trimmed to exactly
//                      `max` entries, oldest first out
//   P{T}:dead:evicted  how many of T's letters the trimming removed
//   Pdead:tags         set of the tags that have letters, so list() without a tag finds them all
//
// The first two share T's Redis Cluster slot and change in one script; the set lives elsewhere
// and is written first, so a tag with letters is always in it.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { capped, type DeadLetterStore } from './dead-letters.js'
import type { DeadLetter } from './types.js'

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
    if (over === 0 || this.opts.logger === undefined) return
    const before = evicted - over
    if (before === 0 || Math.floor(evicted / 100) > Math.floor(before / 100)) {
      this.opts.logger.warn({ tag: letter.tag, evicted, max: this.opts.max }, 'dead-letter list full: evicting the oldest entries')
    }
  }

  async list (tag?: string): Promise<DeadLetter[]> {
    if (tag !== undefined) return (await this.entries(tag)).map(parse)
    const tags = await this.client.smembers(this.tagsKey)
    const all = (await Promise.all(tags.map(async t => await this.entries(t)))).flat()
    // By time; letters of the same millisecond in the order Redis took them.
    return all
      .map(e => ({ id: e[0], letter: parse(e) }))
      .sort((a, b) => a.letter.atMs - b.letter.atMs || compareIds(a.id, b.id))
      .map(e => e.letter)
  }

  async evicted (tag: string): Promise<number> {
    return Number(await this.client.get(`${this.key(tag)}:evicted`) ?? 0)
  }

  private async entries (tag: string): Promise<Entry[]> {
    return await this.client.xrange(this.key(tag), '-', '+') as Entry[]
  }
}

function parse (entry: Entry): DeadLetter {
  return JSON.parse(entry[1][1]) as DeadLetter
}
