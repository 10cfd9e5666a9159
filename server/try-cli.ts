// `tagline try`: what each tag would do with one input, with the exact (redacted) requests it
// would send, from the config alone (server/try.ts runs it).
import { parseArgs } from 'node:util'
import { validateConfigText, formatProblems, type ConfigError } from '../config/load.js'
import { readConfigText } from '../config/source.js'
import { readTryInput, tryEvent, type TryInput } from './try.js'
import { formatTryReport } from './try-format.js'
import { isTaglineError } from '../common/errors.js'
import { scrubMessage } from './delivery/redact.js'
import type { CliIo } from './cli-io.js'

export async function tryCommand (argv: string[], { out, err, usage, defaultConfig }: CliIo): Promise<number> {
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
  } catch (e) { err(`tagline try: ${(e as Error).message}\n\n${usage}`); return 2 }
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':')
    if (colon <= 0) { err(`tagline try: --header takes "Name: value", not "${h}".`); return 2 }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
  }
  if (positionals.length !== 1) { err(`tagline try: give one INPUT (a JSON file or a hit URL).\n\n${usage}`); return 2 }
  const fail = (code: number, doc: object, text: string): number => { if (values.json === true) out(JSON.stringify(doc, null, 2)); else err(text); return code }

  const file = values.config ?? defaultConfig
  let text: string
  try { text = readConfigText(file) } catch (e) {
    const { problems } = e as ConfigError
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
