// Where a config says the gateway listens, from its `server` section alone. `tagline health`, the
// image's HEALTHCHECK, reads only this: a gateway keeps running its last good config when a reload
// refuses a file with a mistake elsewhere, and its health check must still find it (a failing check
// gets a container replaced by one that cannot start); nor should a check every few seconds load
// and compile the whole config. The full load (load.ts, compile.ts) takes its addresses from here.
import { SERVER_DEFAULTS } from '../schemas/defaults.js'
import { parseYaml, problemAt } from './source.js'
import { interpolateDocument, type Env } from './env.js'
import { ConfigError, tidyProblems, type ConfigProblem } from './errors.js'

export interface ListenAddresses {
  port: number
  host: string
  /** The private listener (server.opsPort); absent: none. */
  ops?: { port: number, host: string }
}

/** The addresses of a valid `server` section, defaults applied (PORT is the caller's). */
export function listenAddresses (s: { port?: number, host?: string, opsPort?: number, opsHost?: string }): ListenAddresses {
  const host = s.host ?? SERVER_DEFAULTS.host
  return {
    port: s.port ?? SERVER_DEFAULTS.port,
    host,
    ...(s.opsPort !== undefined ? { ops: { port: s.opsPort, host: s.opsHost ?? host } } : {})
  }
}

/** PORT, when set, overrides server.port. */
export function portFromEnv (env: Env): { port?: number, problem?: ConfigProblem } {
  const text = env.PORT
  if (text === undefined || text === '') return {}
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN
  if (!(port <= 65535)) {
    return { problem: { path: 'server.port', code: 'invalid_value', message: 'environment variable PORT must be a port number from 0 to 65535' } }
  }
  return { port }
}

const ADDRESS_PATHS = new Set(['server', 'server.port', 'server.host', 'server.opsPort', 'server.opsHost'])

const isPort = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535

/**
 * The listening addresses a config file's text names, PORT applied; a ConfigError for a problem
 * in those four settings (or text that is not YAML), whatever the rest of the file holds.
 */
export function readListenAddresses (text: string, file: string | undefined, env: Env): ListenAddresses {
  const parsed = parseYaml(text)
  if (parsed.problems.length > 0) throw new ConfigError(file, tidyProblems(parsed.problems))
  const yaml = parsed.source
  // Only these settings' problems: a variable missing elsewhere in `server:` (a file path, CORS) is
  // the gateway's business, not the address's.
  const problems = interpolateDocument(yaml, env).problems.filter(p => ADDRESS_PATHS.has(p.path))
  const data: unknown = yaml.doc.toJS()
  const server: unknown = data !== null && typeof data === 'object' ? (data as Record<string, unknown>).server : undefined
  const s = (server !== null && typeof server === 'object' && !Array.isArray(server) ? server : {}) as Record<string, unknown>
  if (server !== undefined && server !== null && s !== server) problems.push(problemAt(yaml, ['server'], 'type', 'must be a mapping'))
  for (const key of ['port', 'opsPort'] as const) {
    if (s[key] !== undefined && !isPort(s[key])) problems.push(problemAt(yaml, ['server', key], 'invalid_value', 'must be a port number from 0 to 65535'))
  }
  for (const key of ['host', 'opsHost'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'string') problems.push(problemAt(yaml, ['server', key], 'type', 'must be a string'))
  }
  const port = portFromEnv(env)
  if (port.problem !== undefined) problems.push(port.problem)
  if (problems.length > 0) throw new ConfigError(file, tidyProblems(problems))
  const addresses = listenAddresses(s as Parameters<typeof listenAddresses>[0])
  if (port.port !== undefined) addresses.port = port.port
  return addresses
}
