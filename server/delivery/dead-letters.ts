// Where delivery keeps the events it stopped trying to send, per tag, with the reason and the
// destination's answer. The memory store is the embedded default; every implementation passes
// test/delivery/dead-letter-contract.test.ts.
import type { DeadLetter } from './types.js'

/** The vendor's message is evidence for a human, not a payload to keep whole. */
export const MAX_RESPONSE_CHARS = 2048

export interface DeadLetterStore {
  /** Keep a letter; a store over its cap evicts the tag's oldest. */
  add (letter: DeadLetter): Promise<void>
  /** One tag's letters oldest first, or all of them ordered by time. Copies: callers cannot change ours. */
  list (tag?: string): Promise<DeadLetter[]>
  /** How many of the tag's letters were evicted to stay under the cap. */
  evicted (tag: string): Promise<number>
}

/** The letter as every store keeps it: the vendor's answer capped at MAX_RESPONSE_CHARS. */
export function capped (letter: DeadLetter): DeadLetter {
  if (letter.response === undefined || letter.response.length <= MAX_RESPONSE_CHARS) return letter
  return { ...letter, response: letter.response.slice(0, MAX_RESPONSE_CHARS) }
}
