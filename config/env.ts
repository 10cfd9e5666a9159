// `${VAR}` and `${VAR:-default}` in string values, replaced on the parsed YAML nodes so problems keep
// their line. `$${` writes a literal `${`.
import { isMap, isScalar, isSeq, type Node, type Scalar } from 'yaml'
import { formatPath, type ConfigProblem, type PathSegment } from './errors.js'
import { positionOf, type YamlSource } from './source.js'

export type Env = Readonly<Record<string, string | undefined>>

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/
const NUMBER = /^-?(?:\d+|\d*\.\d+)(?:[eE][+-]?\d+)?$/

export interface Interpolated {
  value: string
  /** Variable names referenced (for messages). */
  names: string[]
  /** The whole text was exactly one `${…}` reference. */
  whole: boolean
  errors: Array<{ code: 'env_missing' | 'env_malformed', message: string }>
}

/** Replace the references in one string. */
export function interpolate (text: string, env: Env): Interpolated {
  const out: Interpolated = { value: '', names: [], whole: false, errors: [] }
  let refs = 0
  let i = 0
  let value = ''
  for (let j = text.indexOf('$', i); j !== -1; j = text.indexOf('$', i)) {
    value += text.slice(i, j)
    if (text.startsWith('$${', j)) {
      value += '${'
      i = j + 3
      continue
    }
    if (text[j + 1] !== '{') {
      value += '$'
      i = j + 1
      continue
    }
    const end = text.indexOf('}', j + 2)
    if (end === -1) {
      out.errors.push({ code: 'env_malformed', message: 'unterminated "${": write ${NAME} or ${NAME:-default} (or $${ for a literal "${")' })
      value += text.slice(j)
      i = text.length
      break
    }
    const body = text.slice(j + 2, end)
    const m = REFERENCE.exec(body)
    refs++
    i = end + 1
    if (m === null) {
      out.errors.push({ code: 'env_malformed', message: `malformed reference "\${${body}}": write \${NAME} or \${NAME:-default}` })
      continue
    }
    const [, name, fallback] = m as unknown as [string, string, string | undefined]
    out.names.push(name)
    // Own keys only: process.env inherits Object's members (`${toString}` would read a function).
    const set = Object.hasOwn(env, name) && typeof env[name] === 'string' ? env[name] : undefined
    if (set !== undefined && set !== '') value += set
    else if (fallback !== undefined) value += fallback
    else out.errors.push({ code: 'env_missing', message: `environment variable ${name} is ${set === '' ? 'empty' : 'not set'}` })
  }
  value += text.slice(i)
  out.value = value
  out.whole = refs === 1 && text.startsWith('${') && text.indexOf('}') === text.length - 1
  return out
}

/** The YAML reading of a substituted whole-reference: integers, floats and true/false. */
function coerce (text: string): string | number | boolean {
  if (text === 'true') return true
  if (text === 'false') return false
  if (NUMBER.test(text)) return Number(text)
  return text
}

/**
 * Interpolate every string value (not keys) of the document in place. A plain (unquoted) scalar that
 * is exactly one reference becomes a number or boolean when its text reads as one, like YAML would;
 * quote it to keep a string. Returns the problems and the coerced nodes (for type-error hints).
 */
export function interpolateDocument (source: YamlSource, env: Env): { problems: ConfigProblem[], coerced: Map<Node, string> } {
  const problems: ConfigProblem[] = []
  const coerced = new Map<Node, string>()

  const visitScalar = (node: Scalar, segs: PathSegment[]): void => {
    if (typeof node.value !== 'string' || !node.value.includes('$')) return
    const r = interpolate(node.value, env)
    if (r.errors.length > 0) {
      const pos = positionOf(source, segs)
      for (const e of r.errors) problems.push({ ...(pos ?? {}), path: formatPath(segs), code: e.code, message: e.message })
      return
    }
    if (r.whole && node.type === 'PLAIN') {
      const v = coerce(r.value)
      if (typeof v !== 'string') coerced.set(node, r.names[0] as string)
      node.value = v
    } else {
      node.value = r.value
    }
  }

  const walk = (node: unknown, segs: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
        walk(pair.value, [...segs, key])
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...segs, i]))
    } else if (isScalar(node)) {
      visitScalar(node, segs)
    }
  }
  walk(source.doc.contents, [])
  return { problems, coerced }
}
