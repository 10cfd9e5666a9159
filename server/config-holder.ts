// The one place the running app reads its configuration from. Every request asks `current()`, so
// a reload is one reference swap: a request sees either the old config or the new one, never a mix.
import { isDeepStrictEqual } from 'node:util'
import type { CompiledConfig, CompiledTag } from '../config/types.js'

export interface SwapReport {
  /**
   * Settings that differ and apply from the next request (tags: from the next delivery attempt).
   * Trigger conditions and a tag's fireOn/blockOn are compiled code and cannot be compared: an edit
   * to one is applied but only listed when a trigger is added or removed.
   */
  changed: string[]
  /** Settings that differ in the new config but keep their running value until a restart. */
  ignoredUntilRestart: string[]
}

const rateLimitOn = (c: CompiledConfig): boolean => c.server.rateLimit !== false

/**
 * Read once at startup: the listening socket, Fastify's body limit and proxy trust, the store
 * connection, the spool path and max age (the spool is replayed at start), delivery's queue bounds
 * and dead-letter limits, and whether the rate-limit plugin is installed at all (its max and
 * timeWindow do follow a reload).
 */
const RESTART_ONLY: Record<string, (c: CompiledConfig) => unknown> = {
  'server.port': c => c.server.port,
  'server.host': c => c.server.host,
  'server.opsPort': c => c.server.ops?.port,
  'server.opsHost': c => c.server.ops?.host,
  'server.bodyLimit': c => c.server.bodyLimit,
  'server.trustProxy': c => c.server.trustProxy,
  'server.spoolFile': c => c.server.spoolFile,
  'server.spoolMaxAge': c => c.server.spoolMaxAgeMs,
  'server.deadLetterFile': c => c.server.deadLetterFile,
  'server.rateLimit (on/off)': rateLimitOn,
  'store.redis': c => c.store.redis,
  'store.prefix': c => c.store.prefix,
  'delivery.maxQueue': c => c.delivery.maxQueue,
  'delivery.deadLetterMax': c => c.delivery.deadLetterMax,
  'delivery.deadLetterMaxAge': c => c.delivery.deadLetterMaxAgeMs,
  'delivery.claimIdle': c => c.delivery.claimIdleMs,
  'delivery.localBuffer': c => c.delivery.localBuffer
}

/** The new config with every restart-only setting put back to its running value. */
function keepRestartOnly (next: CompiledConfig, running: CompiledConfig): CompiledConfig {
  const { port, host, ops, bodyLimit, trustProxy, spoolFile, spoolMaxAgeMs, deadLetterFile } = running.server
  const rateLimit = rateLimitOn(next) === rateLimitOn(running) ? next.server.rateLimit : running.server.rateLimit
  return { ...next, server: { ...next.server, port, host, ops, bodyLimit, trustProxy, spoolFile, spoolMaxAgeMs, deadLetterFile, rateLimit }, store: running.store, delivery: running.delivery }
}

const RELOADABLE: Record<string, (c: CompiledConfig) => unknown> = {
  'server.cors.origins': c => c.server.corsOrigins,
  'server.rateLimit': c => c.server.rateLimit,
  'server.shutdownTimeoutMs': c => c.server.shutdownTimeoutMs,
  'server.watchConfig': c => c.server.watchConfig,
  'auth.apiKeys': c => c.apiKeys,
  identity: c => c.identity,
  dedup: c => c.dedup,
  privacy: c => c.privacy,
  debug: c => c.debug
}

/** What of a tag can be compared (its decision and its block check are compiled functions). */
function tagData (t: CompiledTag): unknown {
  const { def: _def, decide: _decide, blocks: _blocks, ...data } = t
  return data
}

function differences (a: CompiledConfig, b: CompiledConfig): string[] {
  const out = Object.keys(RELOADABLE).filter(k => !isDeepStrictEqual(RELOADABLE[k](a), RELOADABLE[k](b)))
  for (const name of new Set([...a.triggers.keys(), ...b.triggers.keys()])) {
    if (a.triggers.has(name) !== b.triggers.has(name)) out.push(`triggers.${name}`)
  }
  const before = new Map(a.tags.map(t => [t.name, t]))
  const after = new Map(b.tags.map(t => [t.name, t]))
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(name)
    const y = after.get(name)
    if (x === undefined || y === undefined || !isDeepStrictEqual(tagData(x), tagData(y))) out.push(`tags.${name}`)
  }
  return out
}

export class ConfigHolder {
  #config: CompiledConfig

  constructor (config: CompiledConfig) {
    this.#config = config
  }

  current (): CompiledConfig {
    return this.#config
  }

  /** Make `next` the running config, except for the settings that need a restart. */
  swap (next: CompiledConfig): SwapReport {
    const running = this.#config
    const ignoredUntilRestart = Object.keys(RESTART_ONLY).filter(k => !isDeepStrictEqual(RESTART_ONLY[k](running), RESTART_ONLY[k](next)))
    const effective = keepRestartOnly(next, running)
    this.#config = effective
    return { changed: differences(running, effective), ignoredUntilRestart }
  }

  /**
   * A reader for something built from the config (a Set of origins, a key digest list): `build`
   * runs again only after a swap, so per request it costs one reference compare.
   */
  derived<T> (build: (c: CompiledConfig) => T): () => T {
    let from: CompiledConfig | undefined
    let value: T
    return () => {
      const c = this.#config
      if (c !== from) { value = build(c); from = c }
      return value
    }
  }
}
