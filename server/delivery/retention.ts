// The maximum ages no store TTL enforces (README, "Retention"): dead letters, removed by a sweep
// in every running gateway, and spooled events, dropped before the spool is replayed. Dedup marks
// and stitching contexts expire in the store; queued events leave through the retry window.
import type { Logger } from 'pino'
import { removeLetters, type DeadLetterStore } from './dead-letters.js'
import { rewriteSpool } from './spool.js'

/** Dead letters older than `maxAgeMs` (by when they were given up on), removed in every tag. */
async function expireDeadLetters (store: DeadLetterStore, maxAgeMs: number, now: number): Promise<Array<{ tag: string, removed: number }>> {
  return await removeLetters(store, l => now - l.atMs > maxAgeMs)
}

/** Spooled events accepted more than `maxAgeMs` ago, removed from the spool; how many. */
export async function expireSpool (file: string, maxAgeMs: number, now: number): Promise<number> {
  return (await rewriteSpool(file, e => now - e.enqueuedMs <= maxAgeMs))?.removed ?? 0
}

const HOUR = 3_600_000

/**
 * Runs expireDeadLetters now and then every quarter of the max age, at most hourly, one sweep at a
 * time, until stopped. Every replica of a Redis gateway sweeps the shared letters; removing a
 * letter twice is harmless.
 */
export function sweepDeadLetters (opts: { store: DeadLetterStore, maxAgeMs: number, logger: Logger, now?: () => number }): { stop: () => Promise<void> } {
  const now = opts.now ?? Date.now
  const everyMs = Math.min(HOUR, Math.max(50, opts.maxAgeMs / 4))
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  const sweep = async (): Promise<void> => {
    try {
      const removed = await expireDeadLetters(opts.store, opts.maxAgeMs, now())
      if (removed.length > 0) opts.logger.info({ removed, maxAgeMs: opts.maxAgeMs }, 'dead letters past delivery.deadLetterMaxAge removed')
    } catch (err) {
      opts.logger.warn({ err }, 'dead-letter sweep failed; trying again at the next one')
    }
    if (stopped) return
    timer = setTimeout(() => { running = sweep() }, everyMs)
    timer.unref()
  }
  running = sweep()
  return {
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    }
  }
}
