// What giving up on an event for a tag does, wherever it happens (an attempt, or a prepare that
// failed in the pipeline): count it, log it, tell the observer, keep the dead letter. Reasons and
// answers are scrubbed of the event's user data first: destinations quote requests back.
import type { Logger } from 'pino'
import type { TaglineEvent } from '../../schemas/event.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryObserver } from '../observer.js'
import type { Letter } from './attempt.js'
import { capped, type DeadLetterStore } from './dead-letters.js'
import type { UnstoredLetter } from './types.js'
import { scrubMessage } from './redact.js'

export interface LetterSinks {
  metrics: Metrics
  logger: Logger
  observer?: DeliveryObserver
  deadLetters: DeadLetterStore
}

/** A letter the store refused: its fields as the queue may keep them meanwhile, and the store's error. */
export interface Refused { letter: UnstoredLetter, err: unknown }

/**
 * A message scrubbed of the event's user data, or, should scrubbing ever throw, none of it: a
 * letter that cannot be written would leave its batch in flight, neither settled nor kept.
 */
function scrubbed (message: string, event: TaglineEvent): string {
  try {
    return scrubMessage(message, event)
  } catch {
    return '(withheld: the message could not be scrubbed of the event\'s user data)'
  }
}

/**
 * `kept` is the event the letter stores (default: the queued one); scrubbing always uses the
 * queued one. Undefined once stored. A letter the store refuses is counted and shown only once a
 * later try stores it; the answer then holds its fields (scrubbed, the response capped as the store
 * would) and the error, for the caller to keep and log.
 */
export async function giveUp (s: LetterSinks, tag: string, l: Letter, now: number, kept: TaglineEvent = l.item.event): Promise<Refused | undefined> {
  const { item, outcome } = l
  const reason = scrubbed(l.reason, item.event)
  const letter = capped({ tag, event: kept, outcome, reason, attempts: item.attempts, atMs: now, status: l.status, response: l.response === undefined ? undefined : scrubbed(l.response, item.event) })
  if (letter.status === undefined) delete letter.status
  if (letter.response === undefined) delete letter.response
  if (item.type !== undefined) letter.type = item.type
  try {
    await s.deadLetters.add(letter)
  } catch (err) {
    const { status, response } = letter
    return { err, letter: { outcome, reason, ...(status !== undefined ? { status } : {}), ...(response !== undefined ? { response } : {}), ...(l.why !== undefined ? { why: l.why } : {}) } }
  }
  s.metrics.countOutcome(tag, outcome)
  s.logger.warn({
    tag, outcome, why: l.why, event_name: item.event.event_name, event_id: item.event.event_id, attempts: item.attempts, status: l.status, reason
  }, outcome === 'dropped' ? 'event dropped by the destination' : 'event dead-lettered')
  s.observer?.outcome?.({ tag, event: kept, outcome, reason })
  return undefined
}
