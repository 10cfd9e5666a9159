// A tag's circuit breaker: after `failures` attempts in a row that reached nothing, or at once when
// the destination refuses our credentials, the tag stops taking batches (open) for a cooldown,
// then lets one batch through (probing). An answer closes it; another failure opens it for twice
// as long, up to maxCooldownMs. Each tag has its own, so a dead destination costs the others
// nothing; in Redis mode each replica's tag has its own too.

import type { BreakerPolicy } from '../../config/types.js'

export type PauseReason = 'credentials' | 'failing'

/** What an attempt said about the destination. */
export type Verdict = 'answered' | 'failed' | 'credentials' | 'none'

export class Breaker {
  state: 'closed' | 'open' | 'probing' = 'closed'
  reason?: PauseReason
  /** When an open breaker lets its probe through. */
  untilMs = 0
  private failed = 0
  private cooldownMs = 0

  /** The tag's policy; a config reload replaces it, the state stays. */
  constructor (public policy: BreakerPolicy) {}

  /** Whether a batch may start now, `active` batches being in flight; an open breaker past its cooldown lets one through. */
  allows (now: number, active: number): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') {
      if (now < this.untilMs) return false
      this.state = 'probing'
    }
    return active === 0
  }

  /** Batches that may be in flight at once. */
  limit (concurrency: number): number {
    return this.state === 'closed' ? concurrency : 1
  }

  /** Records an attempt; returns the transition it caused, if any. */
  record (verdict: Verdict, now: number): 'opened' | 'closed' | undefined {
    if (verdict === 'none') return undefined
    if (verdict === 'answered') {
      this.failed = 0
      if (this.state === 'closed') return undefined
      this.close()
      return 'closed'
    }
    const reason: PauseReason = verdict === 'credentials' ? 'credentials' : 'failing'
    if (this.state === 'closed') {
      if (verdict === 'failed' && ++this.failed < this.policy.failures) return undefined
      this.cooldownMs = this.policy.cooldownMs
    } else if (this.state === 'probing') {
      // The probe failed: wait longer.
      this.cooldownMs = Math.min(this.policy.maxCooldownMs, this.cooldownMs * 2)
    } else if (reason === this.reason) {
      // A batch sent before the breaker opened, failing the same way: it says nothing new.
      return undefined
    }
    const opened = this.state === 'closed' || this.reason !== reason
    this.state = 'open'
    this.reason = reason
    this.untilMs = now + this.cooldownMs
    return opened ? 'opened' : undefined
  }

  /** Closes at once (the config was changed: new credentials may work). */
  close (): void {
    this.state = 'closed'
    this.reason = undefined
    this.failed = 0
    this.cooldownMs = 0
    this.untilMs = 0
  }
}
