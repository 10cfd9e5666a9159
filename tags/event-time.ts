// When an event happened, for destinations that send an event time: the sender's own time, else
// the moment the gateway received it.
import type { TaglineEvent } from '../schemas/event.js'

/** Out of this range `new Date(ms).toISOString()` throws. */
const MAX_DATE_MS = 8.64e15

/**
 * The first finite candidate. By default an absurd past value is kept, so a destination's age
 * check refuses it rather than the gateway inventing a time (a future one never gets here: the
 * edge sets it to the arrival, server/enrich.ts); `asDate` skips values no Date can hold, for
 * destinations that send an ISO timestamp.
 */
export function eventTimeMs (e: TaglineEvent, opts: { asDate?: boolean } = {}): number | undefined {
  for (const ms of [e.timestamp_ms, e.source?.received_ms]) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) continue
    if (opts.asDate === true && Math.abs(ms) > MAX_DATE_MS) continue
    return ms
  }
  return undefined
}

/** `ms` as an ISO 8601 string, or undefined when no Date can hold it (for messages about it). */
export function isoTime (ms: number): string | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : undefined
}
