// The `tagline` command: start, validate, try, queues, replay, forget, health, help.
import { parseArgs } from 'node:util'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { validateConfigText, formatProblems, type ConfigProblem } from '../config/load.js'
import { startGateway, type Gateway } from './start.js'
import { readConfigFile, startConfigReloads, type ConfigReloads } from './config-reload.js'
import { createLogger } from './logger.js'
import { readTryInput, tryEvent, type TryInput } from './try.js'
import { formatTryReport } from './try-format.js'
import { isTaglineError } from '../common/errors.js'
import { scrubMessage } from './delivery/redact.js'
import { forgetCommand, queuesCommand, replayCommand } from './admin-cli.js'
import { healthCommand } from './health-cli.js'

/** The installation: the nearest folder above this file with a package.json (from server/, dist/server/ or any other copy). */
function installRoot (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) return join(here, '..')
  }
}
const root = installRoot()
export const QUICKSTART = join(root, 'config', 'examples', 'quickstart.yaml')

const USAGE = `Usage:
  tagline start [--config FILE] [--port N]   run the gateway (default: the quickstart config)
  tagline validate FILE...                   check config files; exit 1 listing each problem
  tagline try [--config FILE] INPUT [options]
                                             show what each tag does with one input, and the
                                             exact (redacted) requests it would send
  tagline queues [--config FILE] [--json]    per tag: events waiting, in flight, scheduled for
                                             retry, dead letters, and how long the oldest waits
  tagline replay --tag NAME [--since 2h] [--limit N] [--dry-run] [--config FILE] [--json]
                                             put one tag's dead letters back into its queue
  tagline forget (--user-id ID | --client-id ID | --email ADDRESS) [--offline] [--config FILE] [--json]
                                             erase what the gateway keeps about one person
  tagline health [--config FILE] [--url URL] exit 0 when the gateway answers /healthz with 200 (on
                                             server.opsPort when set); the image's HEALTHCHECK
  tagline help                               this text

tagline try: INPUT is a JSON file (tagline JSON, a dataLayer push or Measurement Protocol JSON),
taken as a trusted backend POST /collect, or a hit URL (https://host/g/collect?v=2&… or
/g/collect?…), taken as an untrusted browser GET from 203.0.113.10.
  --config, -c FILE     the config (default: the quickstart config)
  --trusted             treat the input as a trusted backend request (with an API key)
  --no-trusted          treat it as an untrusted browser request (also --trusted=false)
  --header, -H "N: V"   a request header, repeatable (User-Agent, Cookie, Sec-GPC, Referer…)
  --ip ADDR             the visitor IP of an untrusted request
  --send                send each built request once; print the status, body and outcome
  --json                print the report as one JSON document
  Exit 0 when it ran (even if no tag fires), 1 for a config error, 2 for bad input.
  Secrets and user data are redacted; stitching and dedup (which need the store) are not simulated.

tagline queues, tagline replay: they read the config the gateway runs. With store.redis set they
work on the queues and dead letters in Redis directly, with every gateway up or down. Without it
(embedded mode) those live in the gateway's memory: the command asks the running gateway
(GET /admin/queues, POST /admin/replay at server.host:server.port) with the first of auth.apiKeys.
  --config, -c FILE     the config (default: the quickstart config)
  --url URL             embedded mode: the gateway's address (default http://127.0.0.1:<server.port>)
  --tag, -t NAME        replay: the tag; no other tag is touched, so no other destination gets a
                        second copy
  --since DURATION      replay: only letters of the last 30m, 2h, 2d…
  --limit N             replay: only the oldest N of them
  --dry-run             replay: count the letters by reason and change nothing
  --json                print JSON
  Replayed events are new events of the tag (attempts from 0, no dedup check, past maxQueue), and
  each letter is removed only once its event is queued again: a crash in between sends it twice,
  never loses it. Exit 0 done, 1 for a config error or an unreachable Redis or gateway, 2 for bad
  arguments or a tag the config does not deliver to.

tagline forget: removes the stitching contexts under the person's user id, client id or order ids
(and, for a user id, those of the browsers their contexts name), their queued events (waiting or
scheduled for a retry) and dead letters at every tag, and their events in the spool file of this
host; it prints what it removed. The identifiers may be combined. An e-mail address is found as its
SHA-256 in every destination's normalisation, or as clear text. Events being sent at that moment are
left and counted: run it again a few minutes later. Redis mode works on Redis directly; embedded
mode asks the running gateway (POST /admin/forget). --config, --url and --json as above.
  --offline             embedded mode, the gateway stopped: erase from its dead-letter file and
                        spool (its queues and contexts were in its memory and went with it)
  Exit codes as above.

Environment: PORT overrides server.port; LOG_LEVEL sets the log level (info); TAGLINE_CONFIG is the
config file of start, health, queues, replay and forget when --config is not given (the image sets
/etc/tagline/tagline.yaml).
Signals: SIGTERM or SIGINT drains and stops; SIGHUP re-reads the config file and applies it (an
invalid file is refused and the running config stays; the listening address, body limit, proxy
trust, store, spool file, queue bounds and turning the rate limit on or off need a restart). A
change of the config file does the same unless server.watchConfig is false.`

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** 0 valid, 1 problems (listed), 2 unreadable. */
function validateFile (file: string, out: (s: string) => void, err: (s: string) => void): number {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) { err(`tagline validate: cannot read ${file}: ${(e as Error).message}`); return 2 }
  const result = validateConfigText({ text, file }, process.env)
  if (result.ok) { out(`${file}: valid (${plural(result.config.tags.length, 'tag')}, ${plural(result.config.triggers.size, 'trigger')})`); return 0 }
  err(formatProblems(file, result.problems))
  return 1
}

export async function main (argv: string[], out: (s: string) => void = s => process.stdout.write(s + '\n'), err: (s: string) => void = s => process.stderr.write(s + '\n')): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE)
    return command === undefined ? 1 : 0
  }
  if (command === 'validate') {
    if (rest.length === 0) { err('tagline validate: give the config file to check.\n\n' + USAGE); return 2 }
    // Each file on its own (`tagline validate config/*.yaml`): the worst result is the exit code.
    let code = 0
    for (const file of rest) code = Math.max(code, validateFile(file, out, err))
    return code
  }
  if (command === 'try') return await tryCommand(rest, out, err)
  // Every command reads the config the gateway runs: `docker exec … tagline queues` needs no --config.
  const defaultConfig = process.env.TAGLINE_CONFIG ?? QUICKSTART
  if (command === 'queues') return await queuesCommand(rest, { out, err, usage: USAGE, defaultConfig })
  if (command === 'replay') return await replayCommand(rest, { out, err, usage: USAGE, defaultConfig })
  if (command === 'forget') return await forgetCommand(rest, { out, err, usage: USAGE, defaultConfig })
  if (command === 'health') return await healthCommand(rest, { out, err, usage: USAGE, defaultConfig })
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
    const file = values.config ?? process.env.TAGLINE_CONFIG ?? QUICKSTART
    let config, hash: string
    try {
      ({ config, hash } = readConfigFile(file, process.env))
    } catch (e) {
      err((e as Error).message)
      return 1
    }
    if (file === QUICKSTART) logger.info({ config: file }, 'no --config given: running the quickstart config')

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
  err(`tagline: unknown command "${command}".\n\n${USAGE}`)
  return 2
}

async function tryCommand (argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  // parseArgs has no `--flag=false`; accept it for --trusted, as people will type it.
  const args = argv.map(a => /^--trusted=(false|no|0)$/i.test(a) ? '--no-trusted' : /^--trusted=(true|yes|1)$/i.test(a) ? '--trusted' : a)
  let values: { config?: string, send?: boolean, trusted?: boolean, json?: boolean, ip?: string, header?: string[] }
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      allowNegative: true,
      options: { config: { type: 'string', short: 'c' }, send: { type: 'boolean' }, trusted: { type: 'boolean' }, json: { type: 'boolean' }, ip: { type: 'string' }, header: { type: 'string', short: 'H', multiple: true } }
    }))
  } catch (e) { err(`tagline try: ${(e as Error).message}\n\n${USAGE}`); return 2 }
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':')
    if (colon <= 0) { err(`tagline try: --header takes "Name: value", not "${h}".`); return 2 }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
  }
  if (positionals.length !== 1) { err(`tagline try: give one INPUT (a JSON file or a hit URL).\n\n${USAGE}`); return 2 }
  const fail = (code: number, doc: object, text: string): number => { if (values.json === true) out(JSON.stringify(doc, null, 2)); else err(text); return code }

  const file = values.config ?? QUICKSTART
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message
    const problems: ConfigProblem[] = [{ path: '', code: 'unreadable', message: `cannot read the config file: ${why}` }]
    return fail(1, { error: 'invalid_config', problems }, formatProblems(file, problems))
  }
  const result = validateConfigText({ text, file }, process.env)
  if (!result.ok) return fail(1, { error: 'invalid_config', problems: result.problems }, formatProblems(file, result.problems))

  let input: TryInput
  try { input = readTryInput(positionals[0]) } catch (e) {
    return fail(2, { error: 'unreadable_input', message: (e as Error).message }, `tagline try: ${(e as Error).message}`)
  }
  try {
    const report = await tryEvent(result.config, input, { send: values.send, trusted: values.trusted, ip: values.ip, headers })
    out(values.json === true ? JSON.stringify(report, null, 2) : formatTryReport(report))
    return 0
  } catch (e) {
    if (!isTaglineError(e)) throw e
    // A JSON parse error quotes the input around the fault: keep e-mail addresses out of it.
    const message = scrubMessage(e.message, {})
    const details = e.details.map(d => ({ ...d, message: scrubMessage(d.message, {}) }))
    return fail(2, { status: e.statusCode, error: e.code, message, details }, `tagline try: ${positionals[0]}: ${e.statusCode} ${e.code}: ${message}${details.map(d => `\n  ${d.path ?? ''} ${d.message}`).join('')}`)
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, e => { console.error(e); process.exitCode = 1 })
}
