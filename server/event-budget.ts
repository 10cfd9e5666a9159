// Events per visitor per window, for requests without an API key. The request limit
// (@fastify/rate-limit, server.rateLimit.max) counts requests, and one request may carry up to 500
// events, each a pipeline run and a queued copy per tag: within the request limit, one visitor
// could keep a gateway's CPU busy and fill its queues. This counts the events. It is kept in this
// process, not in the shared store: what it protects, the CPU, is each replica's own, and it costs
// no round trip per beacon. A visitor is its address, or for IPv6 its /64 (visitorKey).
import { isIPv6 } from 'node:net'
import { ipv6Groups } from './ip.js'

/** Visitors remembered at most; past it the oldest windows are forgotten (they start afresh). */
const MAX_VISITORS = 100_000

/**
 * Whom a limit counts: the address, or for IPv6 its /64, the block one host (a home, a phone)
 * is usually given, so that rotating through it does not buy a fresh budget each time.
 */
export function visitorKey (ip: string): string {
  if (!isIPv6(ip)) return ip
  // An IPv4 address in IPv6 form (::ffff:203.0.113.7) is that IPv4 address.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (v4 !== null) return v4[1]
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`
}

interface Window { startMs: number, used: number }

export class EventBudget {
  readonly #windows = new Map<string, Window>()
  // The windows in the order they started, beside the map: forgetting the oldest reads from the
  // front of an array, not of a Map, whose deleted entries a walk from the front steps over.
  #order: Array<[key: string, w: Window]> = []
  #head = 0

  /** Visitors with a window open or not yet forgotten. */
  get size (): number { return this.#windows.size }

  /**
   * Takes `n` events of `key`'s budget of `max` per `windowMs`. Undefined when they fit;
   * otherwise nothing is taken and the result is how many ms until the window starts afresh.
   */
  take (key: string, n: number, max: number, windowMs: number, nowMs: number): number | undefined {
    this.sweep(nowMs, windowMs)
    let w = this.#windows.get(key)
    // A clock stepped back starts a new window too, rather than one that ends hours from now.
    if (w === undefined || nowMs - w.startMs >= windowMs || nowMs < w.startMs) {
      w = { startMs: nowMs, used: 0 }
      this.#windows.set(key, w)
      this.#order.push([key, w])
      this.sweep(nowMs, windowMs)
    }
    if (w.used + n > max) return Math.max(1, w.startMs + windowMs - nowMs)
    w.used += n
    return undefined
  }

  /** Gives back what take() took for a request that was then not accepted (a 503): it is retried. */
  refund (key: string, n: number): void {
    const w = this.#windows.get(key)
    if (w !== undefined) w.used = Math.max(0, w.used - n)
  }

  /** Forgets the windows that have ended, and the oldest past MAX_VISITORS. */
  sweep (nowMs: number, windowMs: number): void {
    while (this.#head < this.#order.length) {
      const [key, w] = this.#order[this.#head]
      // Windows start in order, so the first live one ends the walk (a window replaced since is
      // stale here: the map holds its successor, which comes later in the array).
      const current = this.#windows.get(key) === w
      if (current && nowMs - w.startMs < windowMs && nowMs >= w.startMs && this.#windows.size <= MAX_VISITORS) break
      if (current) this.#windows.delete(key)
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head)
      this.#head = 0
    }
  }
}
