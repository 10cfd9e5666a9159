// The embedded queue's dedup marks: keys with an expiry, in this process's memory, bounded.
// Map keeps insertion order, and a rewritten key moves to the end, so the first entries are the
// oldest: expiry and eviction stop at the first live entry instead of scanning everything.

export class MemoryMarks {
  private readonly keys = new Map<string, number>()

  constructor (private readonly maxKeys = 1_000_000, private readonly now: () => number = Date.now) {}

  has (key: string): boolean {
    return (this.keys.get(key) ?? 0) > this.now()
  }

  add (key: string, ttlMs: number): void {
    const now = this.now()
    this.keys.delete(key)
    this.keys.set(key, now + ttlMs)
    for (const [k, e] of this.keys) {
      if (e > now && this.keys.size <= this.maxKeys) break
      this.keys.delete(k)
    }
  }

  /**
   * A push's items sorted by their keys (prefixed with `prefix`): repeats (marked already, or
   * earlier in the same push) and the rest, with the keys those would mark. Marks nothing: the
   * caller marks once it has stored them.
   */
  sift (keys: ReadonlyArray<string | undefined> | undefined, count: number, prefix = ''): { fresh: number[], repeats: number[], marking: Set<string> } {
    const fresh: number[] = []
    const repeats: number[] = []
    const marking = new Set<string>()
    for (let i = 0; i < count; i++) {
      const key = keys?.[i] === undefined ? undefined : prefix + (keys[i] as string)
      if (key !== undefined && (marking.has(key) || this.has(key))) repeats.push(i)
      else {
        fresh.push(i)
        if (key !== undefined) marking.add(key)
      }
    }
    return { fresh, repeats, marking }
  }

  get size (): number { return this.keys.size }
}
