// Trigger conditions (README, "A minimal config"), compiled once at load into plain closures so the
// per-event cost is a few property reads and comparisons: no parsing, no regex compiling, no allocation.
import { RE2JS } from 're2js'
import { isSafeKey } from '../common/guards.js'
import type { ConditionSpec, TriggerRefSpec } from '../schemas/config.js'
import type { TaglineEvent } from '../schemas/event.js'

export type Predicate = (event: TaglineEvent) => boolean

/** Why a tag does or does not fire for an event (feeds metrics, `tagline try`, the debug view). */
export type FireDecision =
  | { fire: true, trigger: string }
  | { fire: false, reason: 'not_triggered' }
  | { fire: false, reason: 'blocked', trigger: string }

export type ConditionErrorCode = 'invalid_condition' | 'bad_regex' | 'unknown_trigger'
export type PathSegment = string | number

/** A condition that cannot be compiled; `path` points into the condition (for config problems). */
export class ConditionError extends Error {
  readonly code: ConditionErrorCode
  readonly path: PathSegment[]
  constructor (code: ConditionErrorCode, path: PathSegment[], message: string) {
    super(message)
    this.name = 'ConditionError'
    this.code = code
    this.path = path
  }
}

/** The built-in trigger that holds for every event. */
export const ALL_TRIGGER = 'all'
export const always: Predicate = () => true

const OPERATORS: readonly string[] = ['eq', 'ne', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'contains', 'startsWith', 'endsWith', 'matches', 'exists']
// Never followed: they would reach Object.prototype or a constructor instead of event data.
const INDEX = /^(?:0|[1-9]\d*)$/
// One way to split a run of digits (`\d+\.?\d*` had n, and a visitor's long digit string then
// took quadratic time in every numeric comparison).
const NUMERIC = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

const REFUSED = 'invalid regular expression (RE2 syntax, as in Google Tag Manager: no lookarounds, no backreferences, repeat counts up to 1000)'

/**
 * A `matches` pattern, compiled; or why it cannot be. RE2, as Google Tag Manager's triggers use
 * (https://support.google.com/tagmanager/answer/7679401): it matches in time linear in the value,
 * and a visitor chooses the value. A backtracking engine took seconds on a 64 KB URL for a pattern
 * as plain as `.*checkout`, and reading only the value's start instead let a blockOn pattern miss
 * what came after it. translateRegExp takes what a JavaScript pattern usually holds (`/`, named
 * groups, `\u` escapes).
 */
export function compilePattern (pattern: string): RE2JS | string {
  // translateRegExp would read `\k<name>` (a named backreference, which RE2 lacks) as the text
  // `k<name>`: a pattern that loads and never matches what its author meant.
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '\\') continue
    if (pattern[i + 1] === 'k' && pattern[i + 2] === '<') return `${REFUSED}: \\k<…> is a backreference`
    i++
  }
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern))
  } catch (err) {
    return `${REFUSED}: ${(err as Error).message.replace(/^error parsing regexp: /, '')}`
  }
}

type Test = (value: unknown) => boolean
type Getter = (root: unknown) => unknown

/** A decimal numeric string as a number, anything else NaN (stricter than Number(): no '', '0x1f', ' 1'). */
function numericString (s: string): number {
  return NUMERIC.test(s) ? Number(s) : Number.NaN
}

function step (cur: unknown, seg: string, index: number): unknown {
  if (cur === null || typeof cur !== 'object') return undefined
  if (Array.isArray(cur)) return index >= 0 ? cur[index] : undefined
  return Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined
}

/** Compile a dot path (`consent.ad_storage`, `items.0.item_id`) into an own-property reader. */
export function compilePath (path: string): Getter {
  const segs = path.split('.')
  if (segs.some(s => s === '' || !isSafeKey(s))) return () => undefined
  const idx = segs.map(s => INDEX.test(s) ? Number(s) : -1)
  if (segs.length === 1) {
    const [s] = segs as [string]
    const [i] = idx as [number]
    return root => step(root, s, i)
  }
  if (segs.length === 2) {
    const [s0, s1] = segs as [string, string]
    const [i0, i1] = idx as [number, number]
    return root => step(step(root, s0, i0), s1, i1)
  }
  return root => {
    let cur = root
    for (let k = 0; k < segs.length && cur !== undefined; k++) cur = step(cur, segs[k] as string, idx[k] as number)
    return cur
  }
}

function invalid (path: PathSegment[], message: string): ConditionError {
  return new ConditionError('invalid_condition', path, message)
}

function isScalar (v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}

function isMapping (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Strict equality, except a number and a numeric string compare as numbers. */
function eqTest (expected: string | number | boolean | null): Test {
  if (typeof expected === 'number') return v => v === expected || (typeof v === 'string' && numericString(v) === expected)
  if (typeof expected === 'string') {
    const n = numericString(expected)
    if (!Number.isNaN(n)) return v => v === expected || (typeof v === 'number' && v === n)
  }
  return v => v === expected
}

function inTest (list: ReadonlyArray<string | number | boolean | null>): Test {
  const exact = new Set<unknown>(list)
  const numbers = new Set<number>()
  const numericStrings = new Set<number>()
  for (const x of list) {
    if (typeof x === 'number') numbers.add(x)
    else if (typeof x === 'string' && !Number.isNaN(numericString(x))) numericStrings.add(numericString(x))
  }
  if (numbers.size === 0 && numericStrings.size === 0) return v => exact.has(v)
  return v => exact.has(v) ||
    (typeof v === 'number' && numericStrings.has(v)) ||
    (typeof v === 'string' && numbers.has(numericString(v)))
}

function asNumber (v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? numericString(v) : Number.NaN
}

function compileOperator (op: string, arg: unknown, path: PathSegment[]): Test {
  const need = (ok: boolean, what: string): void => { if (!ok) throw invalid(path, `'${op}' takes ${what}`) }
  switch (op) {
    case 'eq':
    case 'ne': {
      need(isScalar(arg), 'a string, number, boolean or null')
      const eq = eqTest(arg as string)
      return op === 'eq' ? eq : v => !eq(v)
    }
    case 'in':
    case 'nin': {
      need(Array.isArray(arg) && arg.every(isScalar), 'a list of strings, numbers, booleans or nulls')
      const has = inTest(arg as string[])
      return op === 'in' ? has : v => !has(v)
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      need(typeof arg === 'number' && !Number.isNaN(arg), 'a number')
      const b = arg as number
      if (op === 'gt') return v => asNumber(v) > b
      if (op === 'gte') return v => asNumber(v) >= b
      if (op === 'lt') return v => asNumber(v) < b
      return v => asNumber(v) <= b
    }
    case 'contains': {
      need(typeof arg === 'string', 'a string')
      const s = arg as string
      const eq = eqTest(s)
      return v => typeof v === 'string' ? v.includes(s) : Array.isArray(v) && v.some(eq)
    }
    case 'startsWith': {
      need(typeof arg === 'string', 'a string')
      return v => typeof v === 'string' && v.startsWith(arg as string)
    }
    case 'endsWith': {
      need(typeof arg === 'string', 'a string')
      return v => typeof v === 'string' && v.endsWith(arg as string)
    }
    case 'matches': {
      need(typeof arg === 'string', 'a regular expression string')
      const re = compilePattern(arg as string)
      if (typeof re === 'string') throw new ConditionError('bad_regex', path, re)
      return v => typeof v === 'string' && re.test(v)
    }
    case 'exists': {
      need(typeof arg === 'boolean', 'true or false')
      return arg === true ? v => v !== undefined : v => v === undefined
    }
    default:
      throw invalid(path, `unknown operator '${op}'; operators: ${OPERATORS.join(', ')}`)
  }
}

function compileMatcher (matcher: unknown, path: PathSegment[]): Test {
  if (isScalar(matcher)) return eqTest(matcher)
  if (!isMapping(matcher)) throw invalid(path, 'a matcher must be a scalar or a mapping of operators')
  const ops = Object.keys(matcher)
  if (ops.length === 0) throw invalid(path, 'a matcher needs at least one operator')
  const tests = ops.map(op => compileOperator(op, matcher[op], [...path, op]))
  if (tests.length === 1) return tests[0] as Test
  return v => {
    for (let i = 0; i < tests.length; i++) if (!(tests[i] as Test)(v)) return false
    return true
  }
}

function every (ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0] as Predicate
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate]
    return e => a(e) && b(e)
  }
  return e => {
    for (let i = 0; i < ps.length; i++) if (!(ps[i] as Predicate)(e)) return false
    return true
  }
}

function some (ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0] as Predicate
  return e => {
    for (let i = 0; i < ps.length; i++) if ((ps[i] as Predicate)(e)) return true
    return false
  }
}

/**
 * Compile a condition: every field entry and every `all` / `any` / `not` beside them must hold.
 * Throws ConditionError (with the path inside the condition) for a malformed condition or bad regex.
 */
export function compileCondition (spec: ConditionSpec, path: PathSegment[] = []): Predicate {
  if (!isMapping(spec)) throw invalid(path, 'a condition must be a mapping')
  const parts: Predicate[] = []
  for (const key of Object.keys(spec)) {
    const value = (spec as Record<string, unknown>)[key]
    if (key === 'all' || key === 'any') {
      if (!Array.isArray(value) || value.length === 0) throw invalid([...path, key], `'${key}' takes a non-empty list of conditions`)
      const subs = value.map((c, i) => compileCondition(c as ConditionSpec, [...path, key, i]))
      parts.push(key === 'all' ? every(subs) : some(subs))
    } else if (key === 'not') {
      const inner = compileCondition(value as ConditionSpec, [...path, key])
      parts.push(e => !inner(e))
    } else {
      const get = compilePath(key)
      const test = compileMatcher(value, [...path, key])
      parts.push(e => test(get(e)))
    }
  }
  if (parts.length === 0) throw invalid(path, 'a condition must not be empty')
  return every(parts)
}

interface Ref { test: Predicate, decision: FireDecision }

function resolveRefs (refs: readonly TriggerRefSpec[], list: 'fireOn' | 'blockOn', named: ReadonlyMap<string, Predicate>): Ref[] {
  const out: Ref[] = []
  refs.forEach((ref, i) => {
    let name: string
    let test: Predicate
    if (typeof ref === 'string') {
      const found = ref === ALL_TRIGGER ? always : named.get(ref)
      if (found === undefined) throw new ConditionError('unknown_trigger', [list, i], `unknown trigger '${ref}'`)
      name = ref
      test = found
    } else {
      name = `${list}[${i}]`
      test = compileCondition(ref as ConditionSpec, [list, i])
    }
    const decision: FireDecision = list === 'fireOn'
      ? { fire: true, trigger: name }
      : { fire: false, reason: 'blocked', trigger: name }
    out.push({ test, decision: Object.freeze(decision) })
  })
  return out
}

const NOT_TRIGGERED: FireDecision = Object.freeze({ fire: false, reason: 'not_triggered' })

/**
 * Decide fireOn / blockOn for one tag: the first fireOn trigger that holds names the firing; then
 * the first blockOn trigger that holds vetoes it (block wins). fireOn defaults to [all].
 */
export function compileTagDecision (
  fireOn: readonly TriggerRefSpec[] | undefined,
  blockOn: readonly TriggerRefSpec[] | undefined,
  named: ReadonlyMap<string, Predicate>
): (event: TaglineEvent) => FireDecision {
  const fire = resolveRefs(fireOn ?? [ALL_TRIGGER], 'fireOn', named)
  const block = resolveRefs(blockOn ?? [], 'blockOn', named)
  // Triggers after one that always holds can never name the firing.
  const firstAlways = fire.findIndex(r => r.test === always)
  if (firstAlways >= 0) fire.length = firstAlways + 1

  if (fire.length === 1 && fire[0]?.test === always && block.length === 0) {
    const d = fire[0].decision
    return () => d
  }
  return event => {
    let fired: FireDecision | undefined
    for (let i = 0; i < fire.length; i++) {
      const r = fire[i] as Ref
      if (r.test(event)) { fired = r.decision; break }
    }
    if (fired === undefined) return NOT_TRIGGERED
    for (let i = 0; i < block.length; i++) {
      const r = block[i] as Ref
      if (r.test(event)) return r.decision
    }
    return fired
  }
}
