// What config/load.ts produces: the YAML validated, defaults applied, triggers compiled.
// The pipeline and delivery only ever see this shape, never the raw YAML.
import type { ConsentType, TaglineEvent } from '../schemas/event.js'
import type { TagDefinition } from '../tags/types.js'
import type { FireDecision, Predicate } from '../tags/triggers.js'

export interface RetryPolicy {
  maxAttempts: number
  maxAgeMs: number
  initialDelayMs: number
  maxDelayMs: number
}

/** When a tag's failures pause it, and for how long (server/delivery/breaker.ts). */
export interface BreakerPolicy {
  /** Failed attempts in a row that pause the tag. */
  failures: number
  cooldownMs: number
  maxCooldownMs: number
}

export interface CompiledTag {
  name: string
  type: string
  def: TagDefinition<any>
  enabled: boolean
  dryRun: boolean
  /** Type-specific settings, plus `endpoint` when the YAML set one. */
  settings: Record<string, unknown>
  /** Decide fireOn / blockOn for one event. */
  decide (event: TaglineEvent): FireDecision
  /** Whether one of the tag's blockOn triggers holds for the event, whatever fireOn says. */
  blocks (event: TaglineEvent): boolean
  consent: ConsentType[]
  ip: 'full' | 'truncate' | 'none'
  batch: { maxEvents: number, maxWaitMs: number }
  retry: RetryPolicy
  breaker: BreakerPolicy
  /** Batches in flight at once. */
  concurrency: number
  timeoutMs: number
  params: { exclude: string[], set: Record<string, unknown> }
}

export interface CompiledConfig {
  /** The file it came from, when it came from a file. */
  file?: string
  server: {
    port: number
    host: string
    /** The private listener for /metrics, /healthz and /readyz (server.opsPort); absent: none. */
    ops?: { port: number, host: string }
    trustProxy: boolean | string[] | number
    corsOrigins: string[]
    rateLimit: false | { max: number, timeWindow: number | string, events: number }
    bodyLimit: number
    shutdownTimeoutMs: number
    spoolFile: string
    /** Spooled events accepted longer ago are dropped at the replay. */
    spoolMaxAgeMs: number
    deadLetterFile: string
    /** Reload on a change in the config file's folder (SIGHUP reloads either way). */
    watchConfig: boolean
  }
  /** `defaultCountry` is already copied into each tag's settings that take one and lack it. */
  identity: { cookieDomain: string, fpid: boolean, metaCookies: boolean, defaultCountry?: string, dateOrder?: 'mdy' | 'dmy', stitch: { enabled: boolean, ttlMs: number } }
  store: { redis?: string, prefix: string }
  /** Non-empty API keys only. */
  apiKeys: string[]
  dedup: { enabled: boolean, windowMs: number }
  /** The live debug view (/debug): off without a token. */
  debug: { token?: string, ringSize: number, onOpsPort: boolean }
  privacy: { honorGpc: boolean }
  delivery: { maxQueue: number, deadLetterMax: number, deadLetterMaxAgeMs: number, claimIdleMs: number, localBuffer: number }
  triggers: Map<string, Predicate>
  tags: CompiledTag[]
}
