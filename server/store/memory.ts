import type { MergeOptions, Store } from './types.js'

export interface MemoryStoreOptions {
  /** Most keys kept; the oldest are forgotten first. Bounds memory under any load. */
  maxKeys?: number
  now?: () => number
}

const SCAN_PAGE = 1000

/** The embedded store: one process, nothing shared. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const
  readonly rateLimit = { nameSpace: 'tagline:ratelimit:' }
  // Map keeps insertion order, so the first entries are the oldest: eviction and sweeping
  // stop at the first live entry instead of scanning everything.
  #records = new Map<string, { fields: Record<string, string>, expires: number }>()
  #maxKeys: number
  #now: () => number

  constructor (opts: MemoryStoreOptions = {}) {
    this.#maxKeys = opts.maxKeys ?? 1_000_000
    this.#now = opts.now ?? Date.now
  }

  async merge (key: string, fields: Record<string, string>, ttlMs: number, opts: MergeOptions = {}): Promise<void> {
    const now = this.#now()
    const old = this.#records.get(key)
    const live = old !== undefined && old.expires > now ? old.fields : undefined
    if (opts.replace !== true && opts.order !== undefined && live?.[opts.order] !== undefined && fields[opts.order] !== undefined && Number(live[opts.order]) > Number(fields[opts.order])) return
    const kept = live !== undefined && opts.replace !== true ? live : {}
    // Delete first so a rewritten key moves to the end: the Map stays ordered by write time.
    this.#records.delete(key)
    this.#records.set(key, { fields: { ...kept, ...fields }, expires: now + ttlMs })
    for (const [k, v] of this.#records) {
      if (v.expires > now && this.#records.size <= this.#maxKeys) break
      this.#records.delete(k)
    }
  }

  async fields (key: string): Promise<Record<string, string> | undefined> {
    const entry = this.#records.get(key)
    if (entry === undefined) return undefined
    if (entry.expires > this.#now()) return { ...entry.fields }
    this.#records.delete(key)
    return undefined
  }

  async * scan (prefix: string): AsyncIterable<Array<[string, Record<string, string>]>> {
    let page: Array<[string, Record<string, string>]> = []
    // A Map may change while it is iterated: deleted entries are skipped, new ones visited.
    for (const [key, entry] of this.#records) {
      if (!key.startsWith(prefix) || entry.expires <= this.#now()) continue
      page.push([key, { ...entry.fields }])
      if (page.length < SCAN_PAGE) continue
      yield page
      page = []
    }
    if (page.length > 0) yield page
  }

  async remove (keys: readonly string[]): Promise<number> {
    let removed = 0
    const now = this.#now()
    for (const key of keys) {
      const entry = this.#records.get(key)
      if (entry === undefined) continue
      this.#records.delete(key)
      if (entry.expires > now) removed++
    }
    return removed
  }

  get size (): number { return this.#records.size }

  async ping (): Promise<boolean> { return true }
  async close (): Promise<void> { this.#records.clear() }
}
