// Dead letters in a file, for embedded mode: they survive a restart with no Redis. The letters
// live in memory (LetterLists, as the memory store's); the file is a JSONL journal of what changed
// them:
//
//   {"op":"add","id":I,"letter":L}      L (capped, without its id) kept as I
//   {"op":"remove","tag":T,"ids":[…]}   those of T's letters removed
//   {"op":"evict","tag":T,"n":N}        N of T's letters evicted earlier (written by compaction)
//
// Opening replays the journal under the cap, which evicts and counts again whatever the cap
// evicted while its add lines are still there; compaction drops those lines, so it writes their
// count. (Raising the cap between runs brings back letters not compacted away yet.) A change is
// appended and fsynced before memory sees it, by one queue, so lines never interleave and the
// file never lags what add() and remove() resolved. Unreadable lines are skipped and counted as in
// the spool (spool.ts); a torn last line would swallow the next append, so opening rewrites a
// file with one. The journal is opened for each write: no handle stays open between writes.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { newBatchId } from './batch-id.js'
import { capped, LetterLists, type DeadLetterStore, type ListOptions } from './dead-letters.js'
import type { DeadLetter, StoredLetter } from './types.js'

export interface FileDeadLettersOptions {
  /** The journal; its directory is created if missing. */
  file: string
  /** Letters kept per tag. */
  max: number
  /** Eviction warnings (as the memory store's), unreadable lines, failed compactions. */
  logger?: Logger
}

type Line =
  | { op: 'add', id: string, letter: DeadLetter }
  | { op: 'remove', tag: string, ids: string[] }
  | { op: 'evict', tag: string, n: number }

/** A journal this short is never compacted: rewriting it would save nothing. */
const COMPACT_MIN_LINES = 100

export class FileDeadLetters implements DeadLetterStore {
  private readonly lists: LetterLists
  private queue: Promise<unknown> = Promise.resolve()
  /** Lines in the journal, readable or not. */
  private lines = 0
  /** The file may end in part of a line (a crash, a failed append): the next write rewrites it first. */
  private torn = false
  private closed = false
  // Unique across restarts: a prefix no other opening of the file had, then a counter.
  private readonly idPrefix = newBatchId(Date.now())
  private lastId = 0

  // Private: a store that had not read its file would compact it down to nothing. Use open().
  private constructor (private readonly opts: FileDeadLettersOptions) {
    this.lists = new LetterLists(opts.max, opts.logger)
  }

  /** The store with the letters the file holds (none if it does not exist yet). */
  static async open (opts: FileDeadLettersOptions): Promise<FileDeadLetters> {
    const store = new FileDeadLetters(opts)
    await mkdir(dirname(opts.file), { recursive: true })
    const bad = await store.replay()
    if (bad > 0) opts.logger?.warn({ file: opts.file, bad }, 'dead-letter journal: skipped unreadable lines')
    // An empty write: rewrites a torn journal, compacts a long one.
    await store.write(async () => {})
    return store
  }

  async add (letter: DeadLetter): Promise<void> {
    await this.write(async () => {
      const id = `${this.idPrefix}-${++this.lastId}`
      const kept = capped(letter)
      await this.append([{ op: 'add', id, letter: kept }])
      this.lists.keep({ ...kept, id })
    })
  }

  async remove (tag: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0
    return await this.write(async () => {
      await this.append([{ op: 'remove', tag, ids: [...ids] }])
      return this.lists.remove(tag, ids)
    })
  }

  async list (tag?: string, opts?: ListOptions): Promise<StoredLetter[]> {
    return this.lists.list(tag, opts)
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

  /** Rewrite the journal as what the store holds now: the letters and the eviction counts. */
  async compact (): Promise<void> {
    await this.write(async () => { await this.rewrite() })
  }

  /** Waits for the queued writes; adds and removes after it fail. */
  async close (): Promise<void> {
    this.closed = true
    await this.queue
  }

  /**
   * Runs `op` after every write queued before it, then compacts if the journal is over twice the
   * size compaction would leave (and not short). A failed op does not stop the ones after it.
   */
  private async write<T> (op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`the dead-letter store ${this.opts.file} is closed`)
    const run = this.queue.then(async () => {
      if (this.torn) await this.rewrite()
      const result = await op()
      await this.compactIfLarge()
      return result
    })
    this.queue = run.catch(() => {})
    return await run
  }

  private async append (lines: Line[]): Promise<void> {
    const handle = await open(this.opts.file, 'a', 0o600)
    try {
      await handle.writeFile(jsonl(lines), 'utf8')
      await handle.sync()
    } catch (err) {
      this.torn = true
      throw err
    } finally {
      await handle.close()
    }
    this.lines += lines.length
  }

  private async compactIfLarge (): Promise<void> {
    const { letters, tagsEvicted } = this.lists.size()
    if (this.lines <= COMPACT_MIN_LINES || this.lines <= 2 * (letters + tagsEvicted)) return
    try {
      await this.rewrite()
    } catch (err) {
      // The journal is whole (the rename did not happen): it only stays long.
      this.opts.logger?.warn({ err, file: this.opts.file }, 'dead-letter journal: compaction failed')
    }
  }

  /** A temporary file with the store's state, fsynced, then renamed over the journal. */
  private async rewrite (): Promise<void> {
    const { letters, evicted } = this.lists.snapshot()
    const lines: Line[] = [
      ...evicted.map(([tag, n]): Line => ({ op: 'evict', tag, n })),
      ...letters.map(({ id, ...letter }): Line => ({ op: 'add', id, letter }))
    ]
    const tmp = `${this.opts.file}.compacting`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(jsonl(lines), 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, this.opts.file)
    this.lines = lines.length
    this.torn = false
    await syncDirectory(dirname(this.opts.file))
  }

  private async replay (): Promise<number> {
    let text: string
    try {
      text = await readFile(this.opts.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw err
    }
    // Rewritten at the next write: a file with unreadable lines (logged once, then gone), and one
    // whose last line lost its newline, which the next append would otherwise continue.
    let bad = 0
    this.torn = text !== '' && !text.endsWith('\n')
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue
      this.lines++
      const line = parseLine(raw)
      if (line === undefined) bad++
      else if (line.op === 'add') this.lists.keep({ ...line.letter, id: line.id }, true)
      else if (line.op === 'remove') this.lists.remove(line.tag, line.ids)
      else this.lists.restoreEvicted(line.tag, line.n)
    }
    if (bad > 0) this.torn = true
    return bad
  }
}

function jsonl (lines: Line[]): string {
  return lines.map(l => JSON.stringify(l) + '\n').join('')
}

function parseLine (raw: string): Line | undefined {
  let l: Partial<Record<string, unknown>>
  try {
    l = JSON.parse(raw) as typeof l
  } catch {
    return undefined
  }
  if (l === null || typeof l !== 'object') return undefined
  if (l.op === 'add' && typeof l.id === 'string' && isLetter(l.letter)) return l as Line
  if (l.op === 'remove' && typeof l.tag === 'string' && Array.isArray(l.ids) && l.ids.every(id => typeof id === 'string')) return l as Line
  if (l.op === 'evict' && typeof l.tag === 'string' && Number.isInteger(l.n) && (l.n as number) > 0) return l as Line
  return undefined
}

function isLetter (l: unknown): l is DeadLetter {
  const d = l as Partial<DeadLetter> | null
  return typeof d?.tag === 'string' && typeof d.event?.event_name === 'string' && typeof d.reason === 'string' &&
    typeof d.attempts === 'number' && typeof d.atMs === 'number'
}

/** Makes the rename itself durable. Not every platform can open a directory for that; those skip it. */
async function syncDirectory (dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // The rename still happened; only its durability across a power cut is not certain.
  } finally {
    await handle?.close()
  }
}
