// YAML text → env interpolation → schema validation → semantic checks → compiled config.
// An invalid file yields every problem found, each with its line and key path; nothing half-loaded.
import { isScalar } from 'yaml'
import type { Config } from '../schemas/config.js'
import { ConditionError } from '../tags/triggers.js'
import { parseYaml, nodeAt, problemAt, readConfigText, type YamlSource } from './source.js'
import { interpolateDocument, type Env } from './env.js'
import { validateConfigShape, type Issue } from './validate.js'
import { checkConfig } from './checks.js'
import { compileConfig } from './compile.js'
import { portFromEnv } from './address.js'
import { ConfigError, formatPath, tidyProblems, type ConfigProblem } from './errors.js'
import type { CompiledConfig } from './types.js'

export { ConfigError, formatProblems, type ConfigProblem } from './errors.js'
export type { Env } from './env.js'

export interface ConfigSource {
  text: string
  /** Shown in problems (`tagline.yaml:14:5 …`) and kept as CompiledConfig.file. */
  file?: string
}

export type ValidationResult =
  | { ok: true, config: CompiledConfig }
  | { ok: false, problems: ConfigProblem[] }

function place (source: YamlSource, issue: Issue, coerced: Map<unknown, string>): ConfigProblem {
  let message = issue.message
  if (issue.code === 'type') {
    const { node, exact } = nodeAt(source, issue.segs)
    const name = coerced.get(node)
    if (name !== undefined) message += ` (\${${name}} was read as a number or boolean; quote it, "\${${name}}", to keep it a string)`
    else if (exact && message === 'must be a string' && isScalar(node) && node.type === 'PLAIN' && typeof node.value !== 'string') message += ' (put the value in quotes)'
  }
  return problemAt(source, issue.segs, issue.code, message, issue.at)
}

/** Validate and compile config text; every problem is reported, none thrown. */
export function validateConfigText (source: ConfigSource | string, env: Env = process.env): ValidationResult {
  const { text, file } = typeof source === 'string' ? { text: source, file: undefined } : source
  const parsed = parseYaml(text)
  if (parsed.problems.length > 0) return { ok: false, problems: tidyProblems(parsed.problems) }
  const yaml = parsed.source

  const interpolated = interpolateDocument(yaml, env)
  const problems: ConfigProblem[] = [...interpolated.problems]
  // A value whose variable is missing still holds "${VAR}": do not also complain about its type.
  const envPaths = new Set(interpolated.problems.map(p => p.path))

  const data: unknown = yaml.doc.toJS() ?? {}
  const issues = [...validateConfigShape(data), ...checkConfig(data)]
  for (const issue of issues) {
    if (envPaths.has(formatPath(issue.segs))) continue
    problems.push(place(yaml, issue, interpolated.coerced))
  }
  const port = portFromEnv(env)
  if (port.problem !== undefined) problems.push(port.problem)
  if (problems.length > 0) return { ok: false, problems: tidyProblems(problems) }

  try {
    const config = compileConfig(data as Config, file)
    if (port.port !== undefined) config.server.port = port.port
    return { ok: true, config }
  } catch (err) {
    // The checks above should have caught it; still report it as a problem, never crash the caller.
    if (!(err instanceof ConditionError)) throw err
    return { ok: false, problems: [problemAt(yaml, err.path, err.code === 'bad_regex' ? 'bad_regex' : 'invalid_condition', err.message)] }
  }
}

/** Validate and compile, or throw a ConfigError whose message lists every problem. */
export function loadConfig (source: ConfigSource, env: Env = process.env): CompiledConfig {
  const result = validateConfigText(source, env)
  if (!result.ok) throw new ConfigError(source.file, result.problems)
  return result.config
}

/** Read, validate and compile a config file. */
export function loadConfigFile (path: string, env: Env = process.env): CompiledConfig {
  return loadConfig({ text: readConfigText(path), file: path }, env)
}
