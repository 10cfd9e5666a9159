// Where delivery keeps the events it stopped trying to send, per tag, with the reason and the
// destination's answer, until someone replays or reads them. The memory store is the embedded
// default, the file store keeps them across restarts without Redis; both hold their letters in a
// LetterLists. Every implementation passes test/delivery/dead-letter-contract.test.ts.
import type { Logger } from 'pino'
import type { DeadLetter, StoredLetter } from './types.js'

/** The vendor's message is evidence for a human, not a payload to keep whole. */
export const MAX_RESPONSE_CHARS = 2048

export interface ListOptions {
  /** Only letters with `atMs >= sinceMs`. */
  sinceMs?: number
  /** Only the first `limit` (the oldest) of those. */
  limit?: number
}

export interface DeadLetterStore {
  /** Keep a letter; a store over its cap evicts the tag's oldest. */
  add (letter: DeadLetter): Promise<void>
  /**
   * One tag's letters oldest first, or all of them ordered by time (ties in the order they were
   * added). Copies: callers cannot change ours. Each has an id, stable while the letter is kept.
   */
  list (tag?: string, opts?: ListOptions): Promise<StoredLetter[]>
  /**
   * Forget the tag's letters with these ids (unknown ones are ignored); how many went. Replay
   * removes only after it pushed the letters back: a crash in between sends them twice, never zero times.
   */
  remove (tag: string, ids: readonly string[]): Promise<number>
  /** How many letters the tag holds now. */
  count (tag: string): Promise<number>
  /** The tags that hold letters (and possibly some that did), sorted. */
  tags (): Promise<string[]>
  /** How many of the tag's letters were evicted to stay under the cap. */
  evicted (tag: string): Promise<number>
  /**
   * A store that keeps a journal: rewrite it as the letters held now, so that removed letters are
   * gone from the disk too, not only marked removed (erasure, retention).
   */
  compact?: () => Promise<void>
}

/**
 * Remove the letters `pick` chooses, in every tag (erasure, retention); per tag that lost any, how
 * many. A journal is compacted afterwards, so they are gone from the disk as well.
 */
export async function removeLetters (store: DeadLetterStore, pick: (letter: StoredLetter) => boolean): Promise<Array<{ tag: string, removed: number }>> {
  const out: Array<{ tag: string, removed: number }> = []
  for (const tag of await store.tags()) {
    const ids = (await store.list(tag)).filter(pick).map(l => l.id)
    if (ids.length === 0) continue
    const removed = await store.remove(tag, ids)
    if (removed > 0) out.push({ tag, removed })
  }
  if (out.length > 0) await store.compact?.()
  return out
}

/** The letter as every store keeps it: the vendor's answer capped at MAX_RESPONSE_CHARS. */
export function capped (letter: DeadLetter): DeadLetter {
  if (letter.response === undefined || letter.response.length <= MAX_RESPONSE_CHARS) return letter
  return { ...letter, response: letter.response.slice(0, MAX_RESPONSE_CHARS) }
}

/** What list()'s options keep of letters already in list order. */
export function windowed<L extends DeadLetter> (letters: L[], opts: ListOptions = {}): L[] {
  const { sinceMs, limit } = opts
  const kept = sinceMs === undefined ? letters : letters.filter(l => l.atMs >= sinceMs)
  return limit === undefined ? kept : kept.slice(0, Math.max(0, limit))
}

/** The eviction warning: the first eviction, then every 100th, enough to notice without flooding the log. */
export function warnEvictions (logger: Logger | undefined, tag: string, before: number, evicted: number, max: number): void {
  if (logger === undefined || evicted === before) return
  if (before === 0 || Math.floor(evicted / 100) > Math.floor(before / 100)) {
    logger.warn({ tag, evicted, max }, 'dead-letter list full: evicting the oldest entries')
  }
}

interface Held { letter: StoredLetter, seq: number }

/**
 * Capped per-tag lists in memory: the oldest letter goes first, and evictions are counted and
 * warned about so a flood of failures is visible. Letters come with their ids; not copied on the
 * way in (callers pass their own), copied on the way out.
 */
export class LetterLists {
  // Per tag, by id, in the order added (a Map keeps it); `seq` orders same-time letters across tags.
  private readonly lists = new Map<string, Map<string, Held>>()
  private readonly evictedByTag = new Map<string, number>()
  private seq = 0

  constructor (private readonly max: number, private readonly logger?: Logger) {}

  /** Keep a capped letter, evicting over the cap; `quiet` when reloading evictions that were logged before. */
  keep (letter: StoredLetter, quiet = false): void {
    let list = this.lists.get(letter.tag)
    if (list === undefined) this.lists.set(letter.tag, list = new Map())
    list.set(letter.id, { letter, seq: ++this.seq })
    if (list.size <= this.max) return
    const over = list.size - this.max
    const oldest = list.keys()
    for (let i = 0; i < over; i++) list.delete(oldest.next().value as string)
    const before = this.evictedByTag.get(letter.tag) ?? 0
    this.evictedByTag.set(letter.tag, before + over)
    if (!quiet) warnEvictions(this.logger, letter.tag, before, before + over, this.max)
  }

  /** Count evictions that happened before (a store reloading what it wrote), without logging them again. */
  restoreEvicted (tag: string, n: number): void {
    this.evictedByTag.set(tag, (this.evictedByTag.get(tag) ?? 0) + n)
  }

  remove (tag: string, ids: readonly string[]): number {
    const list = this.lists.get(tag)
    if (list === undefined) return 0
    let removed = 0
    for (const id of ids) if (list.delete(id)) removed++
    return removed
  }

  list (tag?: string, opts?: ListOptions): StoredLetter[] {
    const held = tag !== undefined
      ? [...this.lists.get(tag)?.values() ?? []]
      : [...this.lists.values()].flatMap(l => [...l.values()]).sort((a, b) => a.letter.atMs - b.letter.atMs || a.seq - b.seq)
    return windowed(held.map(h => h.letter), opts).map(l => ({ ...l }))
  }

  count (tag: string): number {
    return this.lists.get(tag)?.size ?? 0
  }

  /** Every tag that ever held a letter, sorted. */
  tags (): string[] {
    return [...this.lists.keys()].sort()
  }

  evicted (tag: string): number {
    return this.evictedByTag.get(tag) ?? 0
  }

  /** Every letter in the order added and every tag's eviction count: all it takes to rebuild these lists. Not copies. */
  snapshot (): { letters: StoredLetter[], evicted: Array<[string, number]> } {
    const held = [...this.lists.values()].flatMap(l => [...l.values()]).sort((a, b) => a.seq - b.seq)
    return { letters: held.map(h => h.letter), evicted: [...this.evictedByTag] }
  }

  /** Letters held in all tags, and how many tags have an eviction count. */
  size (): { letters: number, tagsEvicted: number } {
    let letters = 0
    for (const list of this.lists.values()) letters += list.size
    return { letters, tagsEvicted: this.evictedByTag.size }
  }
}
