import type { Store } from './types.js'

export interface MemoryStoreOptions {
  /** Most keys kept; the oldest are forgotten first. Bounds memory under any load. */
  maxKeys?: number
  now?: () => number
}

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

  async merge (key: string, fields: Record<string, string>, ttlMs: number): Promise<void> {
    const now = this.#now()
    const old = this.#records.get(key)
    const kept = old !== undefined && old.expires > now ? old.fields : {}
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

  get size (): number { return this.#records.size }

  async ping (): Promise<boolean> { return true }
  async close (): Promise<void> { this.#records.clear() }
}
