// Delivery's sense of time: the clock it reads and the timers it arms for batching windows,
// retries and the shutdown deadline. Injected, so tests drive time with a fake clock instead of
// waiting on the wall clock (per-request timeouts stay real: they guard real sockets).
export interface Clock {
  now (): number
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: handle => { clearTimeout(handle as NodeJS.Timeout) }
}
