// The configuration contract (README.md, "A minimal config"), one TypeBox source for validation, the TS types
// and the generated `config.schema.json` that editors use for the YAML file.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { CONSENT_TYPES } from './event.js'
import { DEBUG_DEFAULTS, DELIVERY_DEFAULTS, IDENTITY_DEFAULTS, PRIVACY_DEFAULTS, RETRY_DEFAULTS, SERVER_DEFAULTS, STORE_DEFAULTS, TAG_DEFAULTS } from './defaults.js'

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])

const Matcher = Type.Union([
  Scalar,
  Type.Object({
    eq: Type.Optional(Scalar),
    ne: Type.Optional(Scalar),
    in: Type.Optional(Type.Array(Scalar)),
    nin: Type.Optional(Type.Array(Scalar)),
    gt: Type.Optional(Type.Number()),
    gte: Type.Optional(Type.Number()),
    lt: Type.Optional(Type.Number()),
    lte: Type.Optional(Type.Number()),
    contains: Type.Optional(Type.String()),
    startsWith: Type.Optional(Type.String()),
    endsWith: Type.Optional(Type.String()),
    matches: Type.Optional(Type.String({ description: 'A regular expression in RE2 syntax, as Google Tag Manager\'s triggers take (no lookarounds or backreferences; (?i) for case), tested anywhere in the value, matched in time linear in its length.' })),
    exists: Type.Optional(Type.Boolean())
  }, { additionalProperties: false, minProperties: 1 })
], { description: 'A scalar (equals) or an object of operators that must all hold.' })

/** A condition: field paths mapped to matchers (all must hold), combined with all / any / not. */
const Condition = Type.Recursive(This => Type.Object({
  all: Type.Optional(Type.Array(This, { minItems: 1 })),
  any: Type.Optional(Type.Array(This, { minItems: 1 })),
  not: Type.Optional(This)
}, { additionalProperties: Matcher, minProperties: 1 }), { $id: 'Condition' })

/** In fireOn / blockOn: a trigger name (or the built-in `all`) or an inline condition. */
const TriggerRef = Type.Union([Type.String({ minLength: 1 }), Condition])

const ConsentType = Type.Union(CONSENT_TYPES.map(c => Type.Literal(c)))
const Duration = (defaultValue?: string | number, about?: string) => Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)$' })], {
  description: `${about === undefined ? '' : about + ' '}Milliseconds, or a string like "500ms", "30s", "10m", "4h", "2d".`,
  ...(defaultValue !== undefined ? { default: defaultValue } : {})
})

/** Settings every tag takes, whatever its type. */
export const CommonTagSettings = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Unique tag name: metric label, queue name, dead-letter key.' }),
  type: Type.String(),
  enabled: Type.Optional(Type.Boolean({ default: TAG_DEFAULTS.enabled })),
  dryRun: Type.Optional(Type.Boolean({ default: TAG_DEFAULTS.dryRun, description: 'Build the requests and log them instead of sending.' })),
  fireOn: Type.Optional(Type.Array(TriggerRef, { minItems: 1, description: 'Fire when any of these holds. Defaults to [all].' })),
  blockOn: Type.Optional(Type.Array(TriggerRef, { description: 'Never fire when any of these holds.' })),
  endpoint: Type.Optional(Type.String({ pattern: '^https?://', description: 'Full URL replacing the official endpoint.' })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120000, default: DELIVERY_DEFAULTS.timeoutMs })),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: DELIVERY_DEFAULTS.concurrency, description: 'Batches of this tag in flight at once (per replica).' })),
  batch: Type.Optional(Type.Object({
    maxEvents: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    maxWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000 }))
  }, { additionalProperties: false })),
  retry: Type.Optional(Type.Object({
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: RETRY_DEFAULTS.maxAttempts })),
    maxAge: Type.Optional(Duration(RETRY_DEFAULTS.maxAgeMs)),
    initialDelayMs: Type.Optional(Type.Integer({ minimum: 1, default: RETRY_DEFAULTS.initialDelayMs })),
    maxDelayMs: Type.Optional(Type.Integer({ minimum: 1, default: RETRY_DEFAULTS.maxDelayMs }))
  }, { additionalProperties: false })),
  breaker: Type.Optional(Type.Object({
    failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DELIVERY_DEFAULTS.breaker.failures, description: 'Failed attempts in a row that pause the tag.' })),
    cooldown: Type.Optional(Duration(DELIVERY_DEFAULTS.breaker.cooldownMs)),
    maxCooldown: Type.Optional(Duration(DELIVERY_DEFAULTS.breaker.maxCooldownMs))
  }, { additionalProperties: false, description: 'A paused tag sends one probe batch after the cooldown, doubled after each failed probe up to maxCooldown.' })),
  consent: Type.Optional(Type.Array(ConsentType, { description: 'Consent types that must not be denied for this tag to fire.' })),
  ip: Type.Optional(Type.Union([Type.Literal('full'), Type.Literal('truncate'), Type.Literal('none')], {
    description: 'The visitor IP this tag receives: full, truncate (last IPv4 octet / last 80 IPv6 bits zeroed) or none.',
    default: TAG_DEFAULTS.ip
  })),
  params: Type.Optional(Type.Object({
    exclude: Type.Optional(Type.Array(Type.String(), { description: 'Dot paths left out of this tag\'s copy (params.search_term, user_id, items). A GA4 tag\'s forwarded gtag hit leaves them out too; a field the hit cannot drop alone (inside page_location or an item) sends the hit over Measurement Protocol instead.' })),
    set: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Dot paths written in this tag\'s copy. A GA4 tag with a set sends gtag hits over Measurement Protocol, as the raw hit cannot carry it.' }))
  }, { additionalProperties: false }))
})

const CommonKeys = Object.keys(CommonTagSettings.properties)

/** A tag entry in the YAML: the common settings plus the settings of its type. */
export function tagEntrySchema (type: string, settings: TSchema): TSchema {
  const props = { ...CommonTagSettings.properties, ...(settings as { properties?: Record<string, TSchema> }).properties, type: Type.Literal(type) }
  const required = [...new Set([...(CommonTagSettings.required ?? []), ...((settings as { required?: string[] }).required ?? [])])]
  return Type.Object(props, { additionalProperties: false, required }) as TSchema
}

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
/** The units @fastify/rate-limit reads in a string timeWindow ("1 minute", "30s", "2 hours"), in ms. */
export const TIME_WINDOW_UNITS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: S, sec: S, secs: S, second: S, seconds: S,
  m: M, min: M, mins: M, minute: M, minutes: M,
  h: H, hr: H, hrs: H, hour: H, hours: H,
  d: D, day: D, days: D,
  w: 7 * D, wk: 7 * D, wks: 7 * D, week: 7 * D, weeks: 7 * D,
  y: 365.25 * D, yr: 365.25 * D, yrs: 365.25 * D, year: 365.25 * D, years: 365.25 * D
})
/** A number (milliseconds without a unit) and one of TIME_WINDOW_UNITS; captures both. */
export const TIME_WINDOW_PATTERN = `^\\s*(\\d*\\.?\\d+)\\s*(${Object.keys(TIME_WINDOW_UNITS).join('|')})?\\s*$`

const ServerSettings = Type.Object({
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: SERVER_DEFAULTS.port })),
  host: Type.Optional(Type.String({ default: SERVER_DEFAULTS.host })),
  opsPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'A second, private port for /metrics, /healthz and /readyz; when set, the public port no longer serves /metrics.' })),
  opsHost: Type.Optional(Type.String({ description: 'The address the ops port listens on (default: server.host).' })),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Array(Type.String()), Type.Integer({ minimum: 0 })], {
    description: 'Whose X-Forwarded-For is believed: true (every peer), false (none) or the proxies\' addresses and CIDRs. A hop count is accepted but trusts no proxy (a visitor could send the hops itself): list the addresses.'
  })),
  cors: Type.Optional(Type.Object({ origins: Type.Array(Type.String()) }, { additionalProperties: false })),
  rateLimit: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    max: Type.Integer({ minimum: 1, description: 'Requests per visitor (an address; for IPv6 its /64) per timeWindow (requests with a valid API key are not counted).' }),
    timeWindow: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: TIME_WINDOW_PATTERN })]),
    events: Type.Optional(Type.Integer({ minimum: 500, default: SERVER_DEFAULTS.rateLimit.events, description: 'Events per visitor (an address; for IPv6 its /64) per timeWindow, counted by each replica (a request may carry up to 500). Past it the request is answered 429 too_many_events.' }))
  }, { additionalProperties: false })])),
  bodyLimit: Type.Optional(Type.Integer({ minimum: 1024, maximum: 10 * 1024 * 1024, default: SERVER_DEFAULTS.bodyLimit, description: 'Largest request body in bytes, as sent and, for a gzip, deflate or br body, once decoded.' })),
  shutdownTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, default: SERVER_DEFAULTS.shutdownTimeoutMs })),
  spoolFile: Type.Optional(Type.String({ default: SERVER_DEFAULTS.spoolFile, description: 'Where undelivered events are written on shutdown (embedded store).' })),
  spoolMaxAge: Type.Optional(Duration(SERVER_DEFAULTS.spoolMaxAge, 'Spooled events accepted longer ago than this are dropped when the spool is replayed at start.')),
  deadLetterFile: Type.Optional(Type.String({ default: SERVER_DEFAULTS.deadLetterFile, description: 'Where dead letters are kept across restarts (embedded store; Redis keeps its own).' })),
  watchConfig: Type.Optional(Type.Boolean({ default: SERVER_DEFAULTS.watchConfig, description: 'Reload when the config file changes (its folder is watched, so a Kubernetes ConfigMap update counts), as well as on SIGHUP.' }))
}, { additionalProperties: false })

export const Config = Type.Object({
  $schema: Type.Optional(Type.String()),
  server: Type.Optional(ServerSettings),
  identity: Type.Optional(Type.Object({
    cookieDomain: Type.Optional(Type.String({ default: IDENTITY_DEFAULTS.cookieDomain })),
    fpid: Type.Optional(Type.Boolean({ default: IDENTITY_DEFAULTS.fpid })),
    metaCookies: Type.Optional(Type.Boolean({ default: IDENTITY_DEFAULTS.metaCookies })),
    defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country (ISO 3166-1 alpha-2) in which every tag that hashes phone numbers reads a number written without + or 00, unless the tag sets its own defaultCountry or the address gives one. Without any, such numbers are not sent (tagline_user_data_dropped_total, reason no_country).' })),
    dateOrder: Type.Optional(Type.Union([Type.Literal('mdy'), Type.Literal('dmy')], { default: 'mdy', description: 'How every tag reads a date of birth written with both day and month ≤ 12 (03/04/1990) before hashing it as YYYYMMDD: mdy (US: 4 March) or dmy (most of the world: 3 April). Unambiguous dates and YYYY-MM-DD are read as written.' })),
    stitch: Type.Optional(Type.Object({
      enabled: Type.Optional(Type.Boolean({ default: IDENTITY_DEFAULTS.stitch.enabled, description: 'Fill trusted backend events from the visitor\'s last browser context.' })),
      ttl: Type.Optional(Duration(IDENTITY_DEFAULTS.stitch.ttl))
    }, { additionalProperties: false }))
  }, { additionalProperties: false })),
  store: Type.Optional(Type.Object({
    redis: Type.Optional(Type.String({ description: 'redis:// URL: queues, dead letters, dedup and rate limits shared by every replica. Empty for the embedded store.' })),
    prefix: Type.Optional(Type.String({ minLength: 1, default: STORE_DEFAULTS.prefix, description: 'Prefix of every Redis key.' }))
  }, { additionalProperties: false })),
  auth: Type.Optional(Type.Object({
    apiKeys: Type.Optional(Type.Array(Type.String(), { description: 'Keys a backend sends as Authorization: Bearer <key>, each at least 16 characters (openssl rand -hex 24 makes one). A request with one is trusted: it may set the visitor\'s IP and user agent, and it opens /admin.' }))
  }, { additionalProperties: false })),
  dedup: Type.Optional(Type.Object({
    window: Type.Optional(Duration(IDENTITY_DEFAULTS.dedupWindow)),
    enabled: Type.Optional(Type.Boolean({ default: IDENTITY_DEFAULTS.dedupEnabled }))
  }, { additionalProperties: false })),
  debug: Type.Optional(Type.Object({
    token: Type.Optional(Type.String({ pattern: '^(|.{16,})$', description: 'Turns on the live debug view at /debug: open /debug?token=<this> once (it then lives in an HttpOnly cookie), or send it as the X-Tagline-Debug-Token header. At least 16 characters; empty: the view is off (404).' })),
    ring: Type.Optional(Type.Integer({ minimum: 10, maximum: 10_000, default: DEBUG_DEFAULTS.ring, description: 'Recent trace entries kept for a view that opens (traffic marked with ?tagline_debug=1 is kept while nobody watches).' })),
    onOpsPort: Type.Optional(Type.Boolean({ default: DEBUG_DEFAULTS.onOpsPort, description: 'Serve /debug on the private ops port (server.opsPort) instead of the public one.' }))
  }, { additionalProperties: false })),
  privacy: Type.Optional(Type.Object({
    honorGpc: Type.Optional(Type.Boolean({ default: PRIVACY_DEFAULTS.honorGpc, description: 'Treat the Sec-GPC: 1 header as an opt-out of advertising tags.' }))
  }, { additionalProperties: false })),
  delivery: Type.Optional(Type.Object({
    maxQueue: Type.Optional(Type.Integer({ minimum: 1, default: DELIVERY_DEFAULTS.maxQueue, description: 'Events a tag queue may hold; past it the tag sheds new events (counted as `shed`), the other tags are unaffected. With auth.apiKeys set, events sent without a key are shed at 90% of it: the last tenth is kept for backend events.' })),
    deadLetterMax: Type.Optional(Type.Integer({ minimum: 0, default: DELIVERY_DEFAULTS.deadLetterMax })),
    deadLetterMaxAge: Type.Optional(Duration(DELIVERY_DEFAULTS.deadLetterMaxAge, 'Dead letters older than this are removed (swept at start and at least hourly).')),
    claimIdle: Type.Optional(Duration(DELIVERY_DEFAULTS.claimIdle)),
    localBuffer: Type.Optional(Type.Integer({ minimum: 0, default: DELIVERY_DEFAULTS.localBuffer, description: 'Redis mode, per tag: events kept in this process while Redis cannot be reached, flushed when it answers (spooled at shutdown). 0: answer 503 at once.' }))
  }, { additionalProperties: false })),
  triggers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), Condition)),
  tags: Type.Optional(Type.Array(Type.Object({ name: Type.String(), type: Type.String() }, { additionalProperties: true })))
}, { additionalProperties: false })

export type Config = Static<typeof Config>
export type ConditionSpec = Static<typeof Condition>
export type TriggerRefSpec = Static<typeof TriggerRef>
export type CommonTagSettings = Static<typeof CommonTagSettings>
export { CommonKeys }
