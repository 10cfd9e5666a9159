// One reload path for SIGHUP and for a change of the config file: read the file once, validate it
// as `tagline validate` does, apply it or keep the running config, log and count the result.
// A reload is synchronous (read, validate, swap), so two never overlap; a change that lands while
// one runs reaches the watcher afterwards and reloads once more.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { ConfigError, formatProblems, loadConfig, validateConfigText, type ConfigProblem, type Env } from '../config/load.js'
import { readConfigText } from '../config/source.js'
import { consentNotices } from '../config/notices.js'
import type { CompiledConfig } from '../config/types.js'
import type { Gateway } from './start.js'
import { watchConfigFile, type ConfigWatch } from './config-watch.js'

type ReloadResult = 'ok' | 'invalid' | 'unchanged'

/** What started a reload. SIGHUP always applies; a file change is skipped when the content is the running one. */
type ReloadCause = 'signal' | 'file'

/** The first 12 hex digits of the text's sha256: `tagline_config_info{hash}` and the log lines. */
function configHash (text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12)
}

/** Read, validate and compile the file once, with the hash of exactly the text compiled. */
export function readConfigFile (file: string, env: Env): { config: CompiledConfig, hash: string } {
  const text = readConfigText(file)
  return { config: loadConfig({ text, file }, env), hash: configHash(text) }
}

export interface ConfigReloads {
  /** Re-read the file and apply it; returns the result counted. */
  reload: (cause: ReloadCause) => ReloadResult
  /** Stop watching the file (SIGHUP handling is the caller's). */
  close: () => void
}

export interface ReloadOptions {
  gateway: Pick<Gateway, 'reload' | 'metrics'>
  file: string
  /** The hash of the text the gateway started with. */
  hash: string
  /** Watch the file's folder from the start (server.watchConfig); a reload may turn it on or off. */
  watch: boolean
  logger: Logger
  env?: Env
  /** The watcher's quiet time; WATCH_DEBOUNCE_MS when not given. */
  debounceMs?: number
}

export function startConfigReloads (opts: ReloadOptions): ConfigReloads {
  const { gateway, file, logger } = opts
  const { configReloads, configInfo } = gateway.metrics
  let running = opts.hash
  // The last content refused: a burst of events over it, or saving it again, is not refused twice.
  let refused: string | undefined
  let watching: ConfigWatch | undefined
  configInfo.set({ hash: running }, 1)

  const count = (result: ReloadResult): ReloadResult => { configReloads.inc({ result }); return result }
  const refuse = (cause: ReloadCause, problems: ConfigProblem[]): ReloadResult => {
    logger.error({ config: file, cause, problems: formatProblems(file, problems).split('\n') }, 'config reload refused: the running config stays')
    return count('invalid')
  }

  const reload = (cause: ReloadCause): ReloadResult => {
    let text: string
    try {
      text = readConfigText(file)
    } catch (err) {
      return refuse(cause, (err as ConfigError).problems)
    }
    const hash = configHash(text)
    if (cause === 'file' && (hash === running || hash === refused)) {
      logger.debug({ config: file, hash }, 'config file touched, content unchanged: not reloaded')
      return count('unchanged')
    }
    const result = validateConfigText({ text, file }, opts.env ?? process.env)
    if (!result.ok) {
      refused = hash
      return refuse(cause, result.problems)
    }
    const next = result.config
    let report: ReturnType<typeof gateway.reload>
    try {
      // Refused here when it would change what the running queues hold (a tag's type).
      report = gateway.reload(next)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      refused = hash
      return refuse(cause, err.problems)
    }
    const { changed, ignoredUntilRestart } = report
    configInfo.remove({ hash: running })
    configInfo.set({ hash }, 1)
    running = hash
    refused = undefined
    logger.info({ config: file, cause, hash, changed, ignoredUntilRestart, tags: next.tags.map(t => `${t.name}:${t.type}`) }, 'config reloaded')
    for (const { message, ...fields } of consentNotices(next)) logger.warn({ config: file, ...fields }, message)
    if (ignoredUntilRestart.length > 0) {
      logger.warn({ settings: ignoredUntilRestart }, 'these settings changed in the file but need a restart; their running values stay')
    }
    follow(next.server.watchConfig)
    return count('ok')
  }

  // server.watchConfig follows a reload: turned off, the watch stops; turned on, it starts.
  function follow (on: boolean): void {
    if (on && watching === undefined) watching = watchConfigFile(file, () => { reload('file') }, logger, opts.debounceMs)
    if (!on && watching !== undefined) { watching.close(); watching = undefined }
  }
  follow(opts.watch)

  return { reload, close: () => { follow(false) } }
}
