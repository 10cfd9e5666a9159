// Config problems: each names the line, the key path and what is wrong, in a human sentence.

export type ConfigProblemCode =
  | 'unreadable'
  | 'yaml_syntax'
  | 'env_missing'
  | 'env_malformed'
  | 'type'
  | 'missing_key'
  | 'unknown_key'
  | 'invalid_value'
  | 'unknown_tag_type'
  | 'duplicate_tag'
  | 'unknown_trigger'
  | 'reserved_trigger'
  | 'bad_regex'
  | 'invalid_condition'

export interface ConfigProblem {
  /** 1-based, when the problem has a place in the file. */
  line?: number
  column?: number
  /** Key path such as `tags[1].fireOn[0]`; '' for the whole file. */
  path: string
  /** A human sentence, never echoing secret values. */
  message: string
  /** Stable code for tests and tooling (messages may be reworded). */
  code: ConfigProblemCode
}

export type PathSegment = string | number

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** `['tags', 1, 'fireOn', 0]` → `tags[1].fireOn[0]`; odd keys are quoted: `triggers.x["consent.ad_storage"]`. */
export function formatPath (segs: readonly PathSegment[]): string {
  let out = ''
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`
    else if (PLAIN_KEY.test(s)) out += out === '' ? s : `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** One line per problem: `tagline.yaml:14:5 tags[1].measurementId: must be a string`. */
export function formatProblems (file: string | undefined, problems: readonly ConfigProblem[]): string {
  const name = file ?? '<config>'
  return problems.map(p => {
    const where = p.line !== undefined ? `${name}:${p.line}:${p.column ?? 1}` : name
    return p.path === '' ? `${where} ${p.message}` : `${where} ${p.path}: ${p.message}`
  }).join('\n')
}

/** Thrown by loadConfig: the file is not usable. A running config is never replaced by one of these. */
export class ConfigError extends Error {
  readonly code = 'invalid_config'
  readonly problems: ConfigProblem[]
  readonly file?: string
  constructor (file: string | undefined, problems: ConfigProblem[]) {
    super(formatProblems(file, problems))
    this.name = 'ConfigError'
    this.problems = problems
    if (file !== undefined) this.file = file
  }

  toJSON (): { error: string, message: string, details: ConfigProblem[] } {
    return { error: this.code, message: this.message, details: this.problems }
  }
}

/** Sort by position (problems without a line last) and drop exact repeats. */
export function tidyProblems (problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  const out: ConfigProblem[] = []
  for (const p of problems) {
    const key = `${p.path}\u0000${p.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(p)
  }
  const pos = (p: ConfigProblem): number => p.line === undefined ? Number.MAX_SAFE_INTEGER : p.line * 100000 + (p.column ?? 0)
  return out.sort((a, b) => pos(a) - pos(b))
}
