// Durations in the config: a number of milliseconds, or "500ms", "30s", "10m", "4h", "2d".

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/

export class DurationError extends Error {
  readonly code = 'bad_duration'
  constructor (input: unknown) {
    super(`not a duration: ${JSON.stringify(input)} (expected milliseconds or a string like "500ms", "30s", "10m", "4h", "2d")`)
    this.name = 'DurationError'
  }
}

/** Milliseconds for a duration; throws DurationError for anything else. */
export function parseDuration (input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new DurationError(input)
    return Math.round(input)
  }
  const m = typeof input === 'string' ? DURATION.exec(input.trim()) : null
  if (m === null) throw new DurationError(input)
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS])
}
