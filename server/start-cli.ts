// `tagline start`: runs the gateway until SIGTERM or SIGINT, then drains; SIGHUP (or a change of
// the file) reloads the config.
import { parseArgs } from 'node:util'
import { startGateway, type Gateway } from './start.js'
import { readConfigFile, startConfigReloads, type ConfigReloads } from './config-reload.js'
import { createLogger } from './logger.js'
import type { CliIo } from './cli-io.js'

/** `quickstart`: the config used when none is given, which the log then names. */
export async function startCommand (rest: string[], { err, usage, defaultConfig }: CliIo, quickstart: string): Promise<number> {
  let values: { config?: string, port?: string }
  try {
    values = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' } } }).values
  } catch (e) { err(`tagline start: ${(e as Error).message}\n\n${usage}`); return 2 }
  const port = values.port !== undefined && /^\d{1,5}$/.test(values.port) ? Number(values.port) : undefined
  if (values.port !== undefined && !(port !== undefined && port <= 65535)) {
    err(`tagline start: --port must be a port number from 0 to 65535, not "${values.port}".`)
    return 2
  }
  const logger = createLogger()
  const file = values.config ?? defaultConfig
  let config, hash: string
  try {
    ({ config, hash } = readConfigFile(file, process.env))
  } catch (e) {
    err((e as Error).message)
    return 1
  }
  if (file === quickstart) logger.info({ config: file }, 'no --config given: running the quickstart config')

  // Signal handlers go in before the gateway starts (it replays the spool while starting, so a
  // signal then must drain too) and stay for the whole drain: a second SIGTERM or a Ctrl-C that
  // reaches both npm and node must not kill the process before the queues are spooled.
  let signalled: string | undefined
  let wake: (() => void) | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled !== undefined) {
      logger.warn({ signal }, 'already draining; send SIGKILL to stop at once (undelivered events are then lost)')
      return
    }
    signalled = signal
    logger.info({ signal }, 'draining')
    wake?.()
  }
  // SIGHUP re-reads the config file. Its default action ends the process, so this handler goes
  // in before the gateway starts too; a SIGHUP that arrives while starting is applied once started.
  let reloads: ConfigReloads | undefined
  let hangupWhileStarting = false
  const onHangup = (): void => {
    if (signalled !== undefined) { logger.warn({ signal: 'SIGHUP' }, 'draining: the config is not reloaded'); return }
    if (reloads === undefined) { hangupWhileStarting = true; return }
    reloads.reload('signal')
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onHangup)
  let gw: Gateway
  try {
    try {
      gw = await startGateway({ config, logger, port })
    } catch (e) {
      logger.error({ err: e }, 'tagline could not start')
      err(`tagline start: ${(e as Error).message}`)
      return 1
    }
    reloads = startConfigReloads({ gateway: gw, file, hash, logger, watch: config.server.watchConfig })
    if (hangupWhileStarting) onHangup()
    if (signalled === undefined) await new Promise<void>(resolve => { wake = resolve })
    reloads.close()
    try {
      await gw.stop()
    } catch (e) {
      logger.error({ err: e }, 'shutdown failed')
      return 1
    }
    return 0
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHangup)
  }
}
