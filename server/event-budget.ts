// Events per visitor address per window, for requests without an API key. The request limit
// (@fastify/rate-limit, server.rateLimit.max) counts requests, and one request may carry up to 500
// events, each a pipeline run and a queued copy per tag: within the request limit, one address
// could keep a gateway's CPU busy and fill its queues. This counts the events. It is kept in this
// process, not in the shared store: what it protects, the CPU, is each replica's own, and it costs
// no round trip per beacon.

/** Addresses remembered at most; past it the oldest windows are forgotten (they start afresh). */
const MAX_ADDRESSES = 100_000

export class EventBudget {
  readonly #windows = new Map<string, { startMs: number, used: number }>()

  /**
   * Takes `n` events from `address`'s budget of `max` per `windowMs`. Undefined when they fit;
   * otherwise nothing is taken and the result is how many ms until the window starts afresh.
   */
  take (address: string, n: number, max: number, windowMs: number, nowMs: number): number | undefined {
    let w = this.#windows.get(address)
    if (w === undefined || nowMs - w.startMs >= windowMs) {
      // A new window goes to the end, so the map stays oldest first.
      this.#windows.delete(address)
      w = { startMs: nowMs, used: 0 }
      this.#windows.set(address, w)
      this.#forget(nowMs, windowMs)
    }
    if (w.used + n > max) return Math.max(1, w.startMs + windowMs - nowMs)
    w.used += n
    return undefined
  }

  /** Windows that have ended, and the oldest past MAX_ADDRESSES. */
  #forget (nowMs: number, windowMs: number): void {
    for (const [address, w] of this.#windows) {
      if (nowMs - w.startMs < windowMs && this.#windows.size <= MAX_ADDRESSES) break
      this.#windows.delete(address)
    }
  }
}
