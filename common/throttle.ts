// A log line per key at most every `everyMs`: the first at once, then the next once that long has
// passed, carrying what was held back meanwhile. For failures that come in floods (a full queue, a
// Redis that refuses every write), where a line each would drown the log.
export class Throttle {
  readonly #last = new Map<string, { atMs: number, held: number }>()

  constructor (private readonly everyMs: number) {}

  /**
   * Counts `n` for `key`. When a line may be written now: what was held back since the last one
   * (0 for the first). Otherwise undefined, and `n` is held for the next line.
   */
  pass (key: string, nowMs: number, n = 1): number | undefined {
    const last = this.#last.get(key)
    if (last !== undefined && nowMs - last.atMs < this.everyMs) {
      last.held += n
      return undefined
    }
    this.#last.set(key, { atMs: nowMs, held: 0 })
    return last?.held ?? 0
  }
}
