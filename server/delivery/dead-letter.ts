// Capped per-tag lists of events we stopped trying to send. Memory is bounded: the oldest entry
// goes first, and evictions are counted and logged so a flood of failures is visible.
import type { Logger } from 'pino'
import type { DeadLetter } from './types.js'

/** The vendor's message is evidence for a human, not a payload to keep whole. */
export const MAX_RESPONSE_CHARS = 2048

export class DeadLetters {
  private readonly lists = new Map<string, DeadLetter[]>()
  private readonly evictedByTag = new Map<string, number>()

  constructor (private readonly max: number, private readonly logger: Logger) {}

  add (letter: DeadLetter): void {
    if (letter.response !== undefined && letter.response.length > MAX_RESPONSE_CHARS) {
      letter.response = letter.response.slice(0, MAX_RESPONSE_CHARS)
    }
    let list = this.lists.get(letter.tag)
    if (list === undefined) {
      list = []
      this.lists.set(letter.tag, list)
    }
    list.push(letter)
    if (list.length > this.max) {
      list.splice(0, list.length - this.max)
      const evicted = (this.evictedByTag.get(letter.tag) ?? 0) + 1
      this.evictedByTag.set(letter.tag, evicted)
      // First eviction, then every 100th: enough to notice without flooding the log.
      if (evicted === 1 || evicted % 100 === 0) {
        this.logger.warn({ tag: letter.tag, evicted, max: this.max }, 'dead-letter list full: evicting the oldest entries')
      }
    }
  }

  /** One tag's dead letters, or all of them ordered by time. Copies: callers cannot mutate ours. */
  list (tag?: string): DeadLetter[] {
    if (tag !== undefined) return [...(this.lists.get(tag) ?? [])]
    return [...this.lists.values()].flat().sort((a, b) => a.atMs - b.atMs)
  }

  evicted (tag: string): number {
    return this.evictedByTag.get(tag) ?? 0
  }
}
