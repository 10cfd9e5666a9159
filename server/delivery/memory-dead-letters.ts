// Capped per-tag lists in memory. The oldest entry goes first, and evictions are counted and
// logged so a flood of failures is visible.
import type { Logger } from 'pino'
import { capped, type DeadLetterStore } from './dead-letters.js'
import type { DeadLetter } from './types.js'

export class MemoryDeadLetters implements DeadLetterStore {
  private readonly lists = new Map<string, DeadLetter[]>()
  private readonly evictedByTag = new Map<string, number>()

  constructor (private readonly max: number, private readonly logger: Logger) {}

  async add (letter: DeadLetter): Promise<void> {
    let list = this.lists.get(letter.tag)
    if (list === undefined) this.lists.set(letter.tag, list = [])
    list.push(capped(letter))
    if (list.length <= this.max) return
    const over = list.length - this.max
    list.splice(0, over)
    const before = this.evictedByTag.get(letter.tag) ?? 0
    const evicted = before + over
    this.evictedByTag.set(letter.tag, evicted)
    // First eviction, then every 100th: enough to notice without flooding the log.
    if (before === 0 || Math.floor(evicted / 100) > Math.floor(before / 100)) {
      this.logger.warn({ tag: letter.tag, evicted, max: this.max }, 'dead-letter list full: evicting the oldest entries')
    }
  }

  async list (tag?: string): Promise<DeadLetter[]> {
    if (tag !== undefined) return (this.lists.get(tag) ?? []).map(l => ({ ...l }))
    return [...this.lists.values()].flat().map(l => ({ ...l })).sort((a, b) => a.atMs - b.atMs)
  }

  async evicted (tag: string): Promise<number> {
    return this.evictedByTag.get(tag) ?? 0
  }
}
