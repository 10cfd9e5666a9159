// The `tagline` command: start, validate, help.
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadConfigFile, validateConfigText, formatProblems } from '../config/load.js'
import { startGateway } from './start.js'
import { createLogger } from './logger.js'

const here = dirname(fileURLToPath(import.meta.url))
// Works from the sources (server/) and from the build (dist/server/).
const root = here.includes(`${'/'}dist${'/'}`) ? join(here, '..', '..') : join(here, '..')
export const QUICKSTART = join(root, 'config', 'examples', 'quickstart.yaml')

const USAGE = `Usage:
  tagline start [--config FILE] [--port N]   run the gateway (default: the quickstart config)
  tagline validate FILE                      check a config file; exit 1 listing each problem
  tagline help                               this text

Environment: PORT overrides server.port; LOG_LEVEL sets the log level (info).`

export async function main (argv: string[], out: (s: string) => void = s => process.stdout.write(s + '\n'), err: (s: string) => void = s => process.stderr.write(s + '\n')): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE)
    return command === undefined ? 1 : 0
  }
  if (command === 'validate') {
    const file = rest[0]
    if (file === undefined) { err('tagline validate: give the config file to check.\n\n' + USAGE); return 2 }
    let text: string
    try { text = readFileSync(file, 'utf8') } catch (e) { err(`tagline validate: cannot read ${file}: ${(e as Error).message}`); return 2 }
    const result = validateConfigText({ text, file }, process.env)
    if (result.ok) { out(`${file}: valid (${result.config.tags.length} tags, ${result.config.triggers.size} triggers)`); return 0 }
    err(formatProblems(file, result.problems))
    return 1
  }
  if (command === 'start') {
    let values: { config?: string, port?: string }
    try {
      values = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' } } }).values
    } catch (e) { err(`tagline start: ${(e as Error).message}\n\n${USAGE}`); return 2 }
    const port = values.port !== undefined && /^\d{1,5}$/.test(values.port) ? Number(values.port) : undefined
    if (values.port !== undefined && !(port !== undefined && port <= 65535)) {
      err(`tagline start: --port must be a port number from 0 to 65535, not "${values.port}".`)
      return 2
    }
    const logger = createLogger()
    const file = values.config ?? QUICKSTART
    let config
    try {
      config = loadConfigFile(file, process.env)
    } catch (e) {
      err((e as Error).message)
      return 1
    }
    if (values.config === undefined) logger.info({ config: file }, 'no --config given: running the quickstart config')

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
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    try {
      let gw
      try {
        gw = await startGateway({ config, logger, port })
      } catch (e) {
        logger.error({ err: e }, 'tagline could not start')
        err(`tagline start: ${(e as Error).message}`)
        return 1
      }
      if (signalled === undefined) await new Promise<void>(resolve => { wake = resolve })
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
    }
  }
  err(`tagline: unknown command "${command}".\n\n${USAGE}`)
  return 2
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, e => { console.error(e); process.exitCode = 1 })
}
