// The `tagline` command: start, validate, try, queues, replay, forget, health, help.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

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
async function validateFile (file: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) { err(`tagline validate: cannot read ${file}: ${(e as Error).message}`); return 2 }
  const { validateConfigText, formatProblems } = await import('../config/load.js')
  const result = validateConfigText({ text, file }, process.env)
  if (result.ok) {
    out(`${file}: valid (${plural(result.config.tags.length, 'tag')}, ${plural(result.config.triggers.size, 'trigger')})`)
    const { consentNotices } = await import('../config/notices.js')
    for (const notice of consentNotices(result.config)) out(`  note: ${notice.message}`)
    return 0
  }
  err(formatProblems(file, result.problems))
  return 1
}

export async function main (argv: string[], out: (s: string) => void = s => process.stdout.write(s + '\n'), err: (s: string) => void = s => process.stderr.write(s + '\n')): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE)
    return command === undefined ? 1 : 0
  }
  // Each command's modules are loaded when it runs (server/cli-io.ts says why).
  if (command === 'validate') {
    if (rest.length === 0) { err('tagline validate: give the config file to check.\n\n' + USAGE); return 2 }
    // Each file on its own (`tagline validate config/*.yaml`): the worst result is the exit code.
    let code = 0
    for (const file of rest) code = Math.max(code, await validateFile(file, out, err))
    return code
  }
  if (command === 'try') return await (await import('./try-cli.js')).tryCommand(rest, { out, err, usage: USAGE, defaultConfig: QUICKSTART })
  // Every other command reads the config the gateway runs: `docker exec … tagline queues` needs no --config.
  const defaultConfig = process.env.TAGLINE_CONFIG ?? QUICKSTART
  const io = { out, err, usage: USAGE, defaultConfig }
  if (command === 'queues') return await (await import('./admin-cli.js')).queuesCommand(rest, io)
  if (command === 'replay') return await (await import('./admin-cli.js')).replayCommand(rest, io)
  if (command === 'forget') return await (await import('./admin-cli.js')).forgetCommand(rest, io)
  if (command === 'health') return await (await import('./health-cli.js')).healthCommand(rest, io)
  if (command === 'start') return await (await import('./start-cli.js')).startCommand(rest, io, QUICKSTART)
  err(`tagline: unknown command "${command}".\n\n${USAGE}`)
  return 2
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, e => { console.error(e); process.exitCode = 1 })
}
