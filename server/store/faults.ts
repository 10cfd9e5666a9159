// Store operations that fail on the request path are counted and logged, not only answered: a
// Redis at maxmemory refuses every write with the same OOM error, and the operator must see that
// in the log, not guess it from a wall of 503s. One line per kind of failure at most every
// LOG_EVERY_MS, with how many went unlogged since.
import type { LogFn } from 'pino'
import type { Counter } from 'prom-client'
import { Throttle } from '../../common/throttle.js'

export type StoreOp = 'enqueue' | 'context_read' | 'context_write'

const LOG_EVERY_MS = 10_000

const SAID: Record<StoreOp, { level: 'error' | 'warn', msg: string }> = {
  enqueue: { level: 'error', msg: 'events could not be stored: the request was answered 503 and its sender retries' },
  context_read: { level: 'warn', msg: 'a stitching context could not be read: the backend event goes out without what it would have filled' },
  context_write: { level: 'warn', msg: 'a stitching context could not be written: later backend events are not stitched from it (a refusal in it is not remembered)' }
}

export class StoreFaults {
  private readonly throttle = new Throttle(LOG_EVERY_MS)

  constructor (private readonly counter: Counter<'op'>, private readonly logger?: { warn: LogFn, error: LogFn }, private readonly now: () => number = Date.now) {}

  report (op: StoreOp, err: unknown): void {
    this.counter.inc({ op })
    if (this.logger === undefined) return
    const unlogged = this.throttle.pass(op, this.now())
    if (unlogged === undefined) return
    const message = err instanceof Error ? err.message : String(err)
    // Redis's own words for a full memory with maxmemory-policy noeviction (inside a script's
    // error too, as Redis before 7 reports it).
    const hint = /\bOOM command not allowed\b/.test(message) ? 'Redis is at its maxmemory and refuses writes: raise maxmemory or free memory (README, "Embedded mode and Redis mode")' : undefined
    const { level, msg } = SAID[op]
    this.logger[level]({ op, error: message, ...(hint !== undefined ? { hint } : {}), ...(unlogged > 0 ? { unlogged } : {}) }, msg)
  }
}
