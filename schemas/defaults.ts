// Every default of the gateway, one block per concern. The config schema shows them to editors,
// config/compile.ts applies them, and the runtime (delivery, retry, the HTTP edge) reads the same
// values when it is built without a config (tests, the benchmark). Nothing else holds a default.

/** What every tag is unless its entry says otherwise. */
export const TAG_DEFAULTS = Object.freeze({
  enabled: true,
  dryRun: false,
  /** The visitor IP a tag receives: full, truncate or none. */
  ip: 'full' as 'full' | 'truncate' | 'none'
})

export const DEBUG_DEFAULTS = Object.freeze({
  ring: 500,
  onOpsPort: false
})

export const PRIVACY_DEFAULTS = Object.freeze({
  /** Treat Sec-GPC: 1 as an opt-out of advertising tags. */
  honorGpc: true
})

export const SERVER_DEFAULTS = Object.freeze({
  port: 8080,
  host: '0.0.0.0',
  rateLimit: Object.freeze({ max: 600, timeWindow: '1 minute', events: 3000 }),
  bodyLimit: 65536,
  /** Bounds the whole stop: closing the listener, draining delivery, writing the spool. */
  shutdownTimeoutMs: 10_000,
  /** Embedded mode: where undelivered events are written at shutdown and replayed at start. */
  spoolFile: 'data/spool.jsonl',
  /**
   * Spooled events accepted longer ago than this are dropped at the replay: the ad platforms refuse
   * events over 7 days old (Meta, TikTok), and a week-old spool is not a restart any more.
   */
  spoolMaxAge: '7d',
  /** Embedded mode: the dead letters, kept across restarts. */
  deadLetterFile: 'data/dead-letters.jsonl',
  /** Reload when the config file's folder changes, as well as on SIGHUP. */
  watchConfig: true
})

export const IDENTITY_DEFAULTS = Object.freeze({
  cookieDomain: 'auto',
  fpid: true,
  metaCookies: true,
  stitch: Object.freeze({ enabled: true, ttl: '7d' }),
  dedupEnabled: true,
  dedupWindow: '48h'
})

export const DELIVERY_DEFAULTS = Object.freeze({
  /** Per tag: events waiting + in flight + scheduled for retry before the edge answers 503. */
  maxQueue: 10_000,
  /** Per tag, oldest evicted first. */
  deadLetterMax: 1000,
  /**
   * Dead letters older than this are removed by a sweep (at start, then hourly): time to notice a
   * refusing destination, fix it and replay, past the 7 days after which Meta and TikTok refuse
   * the events anyway.
   */
  deadLetterMaxAge: '14d',
  /** Batches in flight per tag. */
  concurrency: 4,
  /** One deadline for a whole exchange; Standard Webhooks suggests 15–30 s. */
  timeoutMs: 15_000,
  /**
   * Redis mode: a batch another replica took and has not settled for this long belongs to a dead
   * (or stuck) process and is taken over. Longer than any attempt (a tag's timeoutMs), or a live
   * replica's slow batch would be sent twice.
   */
  claimIdle: '2m',
  /** Redis mode, per tag: events a replica keeps in its memory while Redis cannot be reached (0: none; refuse with 503). */
  localBuffer: 10_000,
  /** Redis mode: the longest a replica waits before it looks again at retries and claims. */
  pollMs: 1000,
  /**
   * Per tag: this many failed attempts in a row pause it for the cooldown, doubled after each
   * failed probe up to the max; refused credentials pause it at once (server/delivery/breaker.ts).
   */
  breaker: Object.freeze({ failures: 5, cooldownMs: 5_000, maxCooldownMs: 60_000 })
})

export const STORE_DEFAULTS = Object.freeze({
  /** Of every Redis key, so several gateways (or environments) can share one Redis. */
  prefix: 'tagline:'
})

const MINUTE = 60_000

/**
 * The whole retry policy; a tag's `retry:` settings are merged over it. Ad platforms accept late
 * events (Meta: 7 days), so the window is hours, not seconds; the age limit is the real bound and
 * the attempt count a backstop.
 */
export const RETRY_DEFAULTS = Object.freeze({
  maxAttempts: 20,
  maxAgeMs: 4 * 60 * MINUTE,
  initialDelayMs: 1000,
  maxDelayMs: 30 * MINUTE,
  factor: 2,
  // Equal jitter keeps half of the backoff as a floor, so a retry never fires right away.
  jitter: 'equal' as 'full' | 'equal',
  // Errors raised before anything reached the wire because the tag built a broken request:
  // retrying cannot help. Every other network error (refused, reset, DNS, timeouts) retries.
  permanentErrorCodes: Object.freeze([
    'UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_URL', 'ERR_INVALID_ARG_TYPE',
    'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_HTTP_TOKEN', 'ERR_INVALID_CHAR', 'ERR_UNSUPPORTED_PROTOCOL'
  ]) as readonly string[],
  /**
   * Statuses that mean "this request will never succeed" when the HTTP status alone answers
   * (tags/http-status.ts: webhooks, PostHog, Meta or TikTok answers without their JSON). Every
   * other failure retries, 3xx included: redirects are not followed, so a moved endpoint is a
   * failure to retry and notice.
   */
  permanentStatuses: Object.freeze([400, 401, 403, 404, 405, 410, 413, 422]) as readonly number[]
})
