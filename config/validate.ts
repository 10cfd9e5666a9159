// Schema validation with Ajv (each schema compiled once) and its errors turned into plain sentences.
import { TIME_WINDOW_PATTERN } from '../schemas/config.js'
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { TSchema } from '@sinclair/typebox'
import { Config, tagEntrySchema } from '../schemas/config.js'
import { hoistIds, type JsonSchema } from './schema-refs.js'
import { didYouMean } from './suggest.js'
import type { ConfigProblemCode, PathSegment } from './errors.js'

/** A schema problem before it is placed on a line: `at: 'key'` points at the key, not its value. */
export interface Issue {
  segs: PathSegment[]
  code: ConfigProblemCode
  message: string
  at: 'key' | 'value'
}

const Ajv = AjvModule.default
const addFormats = addFormatsModule.default
type AjvInstance = InstanceType<typeof Ajv>

let ajv: AjvInstance | undefined
let configValidator: ValidateFunction | undefined
const tagValidators = new Map<string, { settings: TSchema, validate: ValidateFunction }>()
const branchValidators = new WeakMap<object, ValidateFunction>()
const addedIds = new Set<string>()

function instance (): AjvInstance {
  if (ajv === undefined) {
    ajv = new Ajv({ allErrors: true, verbose: true })
    addFormats(ajv)
  }
  return ajv
}

/** Compile with nested `$id` schemas registered once on the shared instance. */
function compile (schema: unknown): ValidateFunction {
  const a = instance()
  const { schema: body, defs } = hoistIds(schema, id => id)
  for (const [id, def] of Object.entries(defs)) {
    if (addedIds.has(id)) continue
    a.addSchema({ $id: id, ...def })
    addedIds.add(id)
  }
  return a.compile(body)
}

export function validateConfigShape (data: unknown): Issue[] {
  configValidator ??= compile(Config)
  return configValidator(data) ? [] : explain(configValidator.errors ?? [], [])
}

/** Validate one tag entry against the common settings plus its type's settings. */
export function validateTagEntry (type: string, settings: TSchema, entry: unknown, base: PathSegment[]): Issue[] {
  let cached = tagValidators.get(type)
  if (cached === undefined || cached.settings !== settings) {
    cached = { settings, validate: compile(tagEntrySchema(type, settings)) }
    tagValidators.set(type, cached)
  }
  return cached.validate(entry) ? [] : explain(cached.validate.errors ?? [], base)
}

function segments (pointer: string): PathSegment[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map(s => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(?:0|[1-9]\d*)$/.test(k) ? Number(k) : k
  })
}

const UNION = new Set(['anyOf', 'oneOf'])
// Errors that only say "this branch is for another kind of value".
const SHAPE = new Set(['type', 'const', 'enum', 'anyOf', 'oneOf'])

/** Turn Ajv errors (relative to `base`) into issues, resolving unions to their most useful branch. */
function explain (errors: readonly ErrorObject[], base: PathSegment[]): Issue[] {
  // Outermost first: shallower paths, and at one path the later error (Ajv reports a union after its branches).
  const unions = errors.map((e, i) => ({ e, i })).filter(x => UNION.has(x.e.keyword))
    .sort((a, b) => a.e.instancePath.length - b.e.instancePath.length || b.i - a.i).map(x => x.e)
  const claimed: string[] = []
  const within = (p: string): boolean => claimed.some(c => p === c || p.startsWith(c + '/'))
  const issues: Issue[] = []
  for (const u of unions) {
    if (within(u.instancePath)) continue
    claimed.push(u.instancePath)
    issues.push(...explainUnion(u, [...base, ...segments(u.instancePath)]))
  }
  for (const e of errors) {
    if (UNION.has(e.keyword) || within(e.instancePath)) continue
    issues.push(describe(e, base))
  }
  return issues
}

function branchErrors (branch: object, data: unknown): ErrorObject[] {
  let v = branchValidators.get(branch)
  if (v === undefined) {
    v = instance().compile(branch)
    branchValidators.set(branch, v)
  }
  return v(data) ? [] : [...(v.errors ?? [])]
}

/** Re-check the value against each branch: explain the branch it nearly fits, or list the kinds allowed. */
function explainUnion (u: ErrorObject, segs: PathSegment[]): Issue[] {
  const branches = (Array.isArray(u.schema) ? u.schema : []) as object[]
  const results = branches.map(b => branchErrors(b, u.data))
  const shallow = (errs: ErrorObject[]): boolean => errs.every(e => e.instancePath === '' && SHAPE.has(e.keyword))
  const near = results.filter(r => r.length > 0 && !shallow(r))
  if (near.length === 0) {
    const all = results.flat()
    const code = all.some(e => e.keyword === 'type' && e.instancePath === '') ? 'type' : 'invalid_value'
    return [{ segs, code, at: 'value', message: `must be ${expectations(all)}` }]
  }
  const depth = (errs: ErrorObject[]): number => Math.max(...errs.map(e => e.instancePath.split('/').length))
  near.sort((a, b) => depth(b) - depth(a) || a.length - b.length)
  return explain(near[0] as ErrorObject[], segs)
}

const NOUNS: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean',
  array: 'a list', object: 'a mapping', null: 'null'
}

function noun (type: string, alone: boolean): string {
  if (type === 'boolean' && alone) return 'true or false'
  return NOUNS[type] ?? type
}

function orList (items: string[]): string {
  return items.length <= 1 ? (items[0] ?? 'something else') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}

function expectations (errors: ErrorObject[]): string {
  const types: string[] = []
  const values: unknown[] = []
  for (const e of errors) {
    if (e.instancePath !== '') continue
    if (e.keyword === 'type') types.push(String(e.params.type))
    else if (e.keyword === 'const') values.push(e.params.allowedValue)
    else if (e.keyword === 'enum') values.push(...(e.params.allowedValues as unknown[]))
  }
  const shown = (v: unknown): string => typeof v === 'string' ? v : JSON.stringify(v)
  if (types.length === 0) return `one of: ${[...new Set(values.map(shown))].join(', ')}`
  const kinds = [...new Set(types)]
  const parts = [...values.map(shown), ...kinds.map(t => noun(t, kinds.length + values.length === 1))]
  return orList(parts)
}

const PATTERNS: Record<string, string> = {
  [TIME_WINDOW_PATTERN]: 'must be a time window such as "1 minute", "30s" or "2 hours" (or a number of milliseconds)',
  '^https?://': 'must be a URL starting with http:// or https://',
  '^[A-Za-z0-9_.-]{1,64}$': "must be 1 to 64 letters, digits, '_', '.' or '-'",
  '^[A-Za-z0-9_.-]+$': "must be letters, digits, '_', '.' or '-'",
  '^\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)$': 'must be a duration such as "500ms", "30s", "10m", "4h" or "2d" (or a number of milliseconds)'
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function describe (e: ErrorObject, base: PathSegment[]): Issue {
  const segs = [...base, ...segments(e.instancePath)]
  const p = e.params as Record<string, unknown>
  const value = (code: ConfigProblemCode, message: string): Issue => ({ segs, code, message, at: 'value' })
  switch (e.keyword) {
    case 'type': return value('type', `must be ${noun(String(p.type), true)}`)
    case 'required': return value('missing_key', `missing required key '${String(p.missingProperty)}'`)
    case 'additionalProperties': return unknownKey(e, segs, String(p.additionalProperty))
    case 'const': return value('invalid_value', `must be ${JSON.stringify(p.allowedValue)}`)
    case 'enum': return value('invalid_value', `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`)
    case 'minimum': return value('invalid_value', `must be at least ${String(p.limit)}`)
    case 'exclusiveMinimum': return value('invalid_value', `must be more than ${String(p.limit)}`)
    case 'maximum': return value('invalid_value', `must be at most ${String(p.limit)}`)
    case 'exclusiveMaximum': return value('invalid_value', `must be less than ${String(p.limit)}`)
    case 'minItems': return value('invalid_value', p.limit === 1 ? 'must not be an empty list' : `must have at least ${plural(Number(p.limit), 'item')}`)
    case 'maxItems': return value('invalid_value', `must have at most ${plural(Number(p.limit), 'item')}`)
    case 'minLength': return value('invalid_value', p.limit === 1 ? 'must not be empty' : `must be at least ${plural(Number(p.limit), 'character')} long`)
    case 'maxLength': return value('invalid_value', `must be at most ${plural(Number(p.limit), 'character')} long`)
    case 'minProperties': return value('invalid_value', p.limit === 1 ? 'must not be empty' : `must have at least ${plural(Number(p.limit), 'key')}`)
    case 'pattern': return value('invalid_value', PATTERNS[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`)
    case 'format': return value('invalid_value', `must be a valid ${String(p.format)}`)
    default: return value('invalid_value', e.message ?? 'is not valid')
  }
}

function unknownKey (e: ErrorObject, parent: PathSegment[], key: string): Issue {
  const schema = (e.parentSchema ?? {}) as JsonSchema
  const known = Object.keys((schema.properties ?? {}) as object).filter(k => k !== '$schema')
  const segs = [...parent, key]
  if (known.length === 0 && schema.patternProperties !== undefined) {
    const pattern = Object.keys(schema.patternProperties as object)[0] ?? ''
    const rule = PATTERNS[pattern]?.replace(/^must be /, '')
    return { segs, code: 'invalid_value', at: 'key', message: `'${key}' is not a valid name${rule !== undefined ? `: use ${rule}` : ''}` }
  }
  const what = known.includes('matches') && known.includes('eq') ? 'operator' : 'key'
  const guess = didYouMean(key, known)
  const hint = guess !== undefined ? `; did you mean '${guess}'?` : known.length > 0 && known.length <= 16 ? `; expected one of: ${known.join(', ')}` : ''
  return { segs, code: 'unknown_key', at: 'key', message: `unknown ${what} '${key}'${hint}` }
}
