// A validated config with every default applied and every trigger compiled: the one shape the
// pipeline and delivery see (config/types.ts).
import type { CommonTagSettings, Config, ConditionSpec } from '../schemas/config.js'
import { CommonKeys } from '../schemas/config.js'
import { tagTypes } from '../tags/index.js'
import { ALL_TRIGGER, ConditionError, always, compileCondition, compileTagDecision } from '../tags/triggers.js'
import { parseDuration } from './duration.js'
import { DEBUG_DEFAULTS, DELIVERY_DEFAULTS, IDENTITY_DEFAULTS, PRIVACY_DEFAULTS, RETRY_DEFAULTS, SERVER_DEFAULTS, STORE_DEFAULTS, TAG_DEFAULTS } from '../schemas/defaults.js'
import type { BreakerPolicy, CompiledConfig, CompiledTag, RetryPolicy } from './types.js'
import type { Predicate } from '../tags/triggers.js'
import { listenAddresses } from './address.js'

const COMMON = new Set(CommonKeys)

function nonEmpty (s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s
}

type TagEntry = CommonTagSettings & Record<string, unknown>

function decider (entry: TagEntry, index: number, named: Map<string, Predicate>): Pick<CompiledTag, 'decide' | 'blocks'> {
  try {
    const decide = compileTagDecision(entry.fireOn, entry.blockOn, named)
    const blockOnly = compileTagDecision([ALL_TRIGGER], entry.blockOn, named)
    return { decide, blocks: event => blockOnly(event).fire === false }
  } catch (err) {
    if (err instanceof ConditionError) throw new ConditionError(err.code, ['tags', index, ...err.path], err.message)
    throw err
  }
}

function compileTag (entry: TagEntry, index: number, named: Map<string, Predicate>, defaultCountry: string | undefined): CompiledTag {
  const def = tagTypes[entry.type]
  if (def === undefined) throw new Error(`unknown tag type '${entry.type}'`) // checked before compiling
  const settings: Record<string, unknown> = {}
  for (const key of Object.keys(entry)) if (!COMMON.has(key)) settings[key] = entry[key]
  // identity.defaultCountry is inherited by every type that reads phone numbers; the tag's own wins.
  const takesCountry = (def.settings as { properties?: Record<string, unknown> }).properties?.defaultCountry !== undefined
  if (takesCountry && settings.defaultCountry === undefined && defaultCountry !== undefined) settings.defaultCountry = defaultCountry
  if (entry.endpoint !== undefined) settings.endpoint = entry.endpoint
  const r = entry.retry ?? {}
  const retry: RetryPolicy = {
    maxAttempts: r.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
    maxAgeMs: r.maxAge !== undefined ? parseDuration(r.maxAge) : RETRY_DEFAULTS.maxAgeMs,
    initialDelayMs: r.initialDelayMs ?? RETRY_DEFAULTS.initialDelayMs,
    maxDelayMs: r.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs
  }
  const b = entry.breaker ?? {}
  const breaker: BreakerPolicy = {
    failures: b.failures ?? DELIVERY_DEFAULTS.breaker.failures,
    cooldownMs: b.cooldown !== undefined ? parseDuration(b.cooldown) : DELIVERY_DEFAULTS.breaker.cooldownMs,
    maxCooldownMs: b.maxCooldown !== undefined ? parseDuration(b.maxCooldown) : DELIVERY_DEFAULTS.breaker.maxCooldownMs
  }
  breaker.maxCooldownMs = Math.max(breaker.maxCooldownMs, breaker.cooldownMs)
  return {
    name: entry.name,
    type: entry.type,
    def,
    enabled: entry.enabled ?? TAG_DEFAULTS.enabled,
    dryRun: entry.dryRun ?? TAG_DEFAULTS.dryRun,
    settings,
    ...decider(entry, index, named),
    consent: [...(entry.consent ?? def.defaults.consent)],
    ip: entry.ip ?? TAG_DEFAULTS.ip,
    batch: { ...def.defaults.batch, ...entry.batch },
    retry,
    breaker,
    concurrency: entry.concurrency ?? DELIVERY_DEFAULTS.concurrency,
    timeoutMs: entry.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs,
    params: { exclude: [...(entry.params?.exclude ?? [])], set: { ...entry.params?.set } }
  }
}

/** Apply defaults and compile triggers. `raw` must already be valid (see load.ts). */
export function compileConfig (raw: Config, file?: string): CompiledConfig {
  const s = raw.server ?? {}
  const named = new Map<string, Predicate>([[ALL_TRIGGER, always]])
  for (const [name, cond] of Object.entries(raw.triggers ?? {})) {
    named.set(name, compileCondition(cond as ConditionSpec, ['triggers', name]))
  }
  const compiled: CompiledConfig = {
    server: {
      ...listenAddresses(s),
      trustProxy: Array.isArray(s.trustProxy) ? [...s.trustProxy] : s.trustProxy ?? false,
      corsOrigins: [...(s.cors?.origins ?? [])],
      rateLimit: s.rateLimit === false ? false : { ...SERVER_DEFAULTS.rateLimit, ...s.rateLimit },
      bodyLimit: s.bodyLimit ?? SERVER_DEFAULTS.bodyLimit,
      shutdownTimeoutMs: s.shutdownTimeoutMs ?? SERVER_DEFAULTS.shutdownTimeoutMs,
      spoolFile: s.spoolFile ?? SERVER_DEFAULTS.spoolFile,
      spoolMaxAgeMs: parseDuration(s.spoolMaxAge ?? SERVER_DEFAULTS.spoolMaxAge),
      deadLetterFile: s.deadLetterFile ?? SERVER_DEFAULTS.deadLetterFile,
      watchConfig: s.watchConfig ?? SERVER_DEFAULTS.watchConfig
    },
    identity: {
      cookieDomain: raw.identity?.cookieDomain ?? IDENTITY_DEFAULTS.cookieDomain,
      fpid: raw.identity?.fpid ?? IDENTITY_DEFAULTS.fpid,
      metaCookies: raw.identity?.metaCookies ?? IDENTITY_DEFAULTS.metaCookies,
      stitch: {
        enabled: raw.identity?.stitch?.enabled ?? IDENTITY_DEFAULTS.stitch.enabled,
        ttlMs: parseDuration(raw.identity?.stitch?.ttl ?? IDENTITY_DEFAULTS.stitch.ttl)
      }
    },
    store: { prefix: raw.store?.prefix ?? STORE_DEFAULTS.prefix },
    apiKeys: (raw.auth?.apiKeys ?? []).filter(k => typeof k === 'string' && k !== ''),
    dedup: {
      enabled: raw.dedup?.enabled ?? IDENTITY_DEFAULTS.dedupEnabled,
      windowMs: parseDuration(raw.dedup?.window ?? IDENTITY_DEFAULTS.dedupWindow)
    },
    debug: { ringSize: raw.debug?.ring ?? DEBUG_DEFAULTS.ring, onOpsPort: raw.debug?.onOpsPort ?? DEBUG_DEFAULTS.onOpsPort },
    privacy: { honorGpc: raw.privacy?.honorGpc ?? PRIVACY_DEFAULTS.honorGpc },
    delivery: {
      maxQueue: raw.delivery?.maxQueue ?? DELIVERY_DEFAULTS.maxQueue,
      deadLetterMax: raw.delivery?.deadLetterMax ?? DELIVERY_DEFAULTS.deadLetterMax,
      deadLetterMaxAgeMs: parseDuration(raw.delivery?.deadLetterMaxAge ?? DELIVERY_DEFAULTS.deadLetterMaxAge),
      claimIdleMs: parseDuration(raw.delivery?.claimIdle ?? DELIVERY_DEFAULTS.claimIdle),
      localBuffer: raw.delivery?.localBuffer ?? DELIVERY_DEFAULTS.localBuffer
    },
    triggers: named,
    tags: (raw.tags ?? []).map((t, i) => compileTag(t as TagEntry, i, named, nonEmpty(raw.identity?.defaultCountry)))
  }
  if (file !== undefined) compiled.file = file
  const redis = nonEmpty(raw.store?.redis)
  if (redis !== undefined) compiled.store.redis = redis
  const country = nonEmpty(raw.identity?.defaultCountry)
  if (country !== undefined) compiled.identity.defaultCountry = country
  if (raw.identity?.dateOrder === 'dmy') compiled.identity.dateOrder = 'dmy'
  const token = nonEmpty(raw.debug?.token)
  if (token !== undefined) compiled.debug.token = token
  return compiled
}
