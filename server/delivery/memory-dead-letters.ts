// The embedded default: dead letters in this process's memory (LetterLists), gone at exit. Ids
// are a counter of the store's.
import type { Logger } from 'pino'
import { capped, LetterLists, type DeadLetterStore, type ListOptions } from './dead-letters.js'
import type { DeadLetter, StoredLetter } from './types.js'

export class MemoryDeadLetters implements DeadLetterStore {
  private readonly lists: LetterLists
  private lastId = 0

  constructor (max: number, logger?: Logger) {
    this.lists = new LetterLists(max, logger)
  }

  async add (letter: DeadLetter): Promise<void> {
    this.lists.keep({ ...capped(letter), id: String(++this.lastId) })
  }

  async list (tag?: string, opts?: ListOptions): Promise<StoredLetter[]> {
    return this.lists.list(tag, opts)
  }

  async remove (tag: string, ids: readonly string[]): Promise<number> {
    return this.lists.remove(tag, ids)
  }

  async count (tag: string): Promise<number> {
    return this.lists.count(tag)
  }

  async tags (): Promise<string[]> {
    return this.lists.tags()
  }

  async evicted (tag: string): Promise<number> {
    return this.lists.evicted(tag)
  }
}
