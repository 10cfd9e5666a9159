// The YAML document with line positions, so every problem can name the line of the offending node.
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml'
import { readFileSync } from 'node:fs'
import { ConfigError, formatPath, type ConfigProblem, type PathSegment } from './errors.js'

export interface YamlSource {
  doc: Document.Parsed
  lines: LineCounter
}

export interface Position { line: number, column: number }

const MAX_SYNTAX_PROBLEMS = 5
// An unquoted ${…} in a flow collection: its braces end the collection early.
const FLOW_REFERENCE = /[{[][^"']*\$\{/

function lineText (text: string, lines: LineCounter, line: number): string {
  const start = lines.lineStarts[line - 1] ?? 0
  const end = lines.lineStarts[line] ?? text.length
  return text.slice(start, end)
}

/** Parse YAML text; syntax errors come back as problems with their line and column. */
export function parseYaml (text: string): { source: YamlSource, problems: ConfigProblem[] } {
  const lines = new LineCounter()
  // merge: `<<: *defaults` is common in config files; uniqueKeys (the default) reports repeated keys.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true })
  // One error per line, a few lines at most: after the first, the parser's errors are mostly echoes.
  const problems: ConfigProblem[] = []
  for (const err of doc.errors) {
    const { line, col } = lines.linePos(err.pos[0])
    if (problems.some(p => p.line === line)) continue
    if (problems.length === MAX_SYNTAX_PROBLEMS) break
    const hint = FLOW_REFERENCE.test(lineText(text, lines, line)) ? ' (inside { } or [ ], quote ${…} references: "${NAME}")' : ''
    problems.push({ line, column: col, path: '', code: 'yaml_syntax', message: `YAML syntax error: ${err.message}${hint}` })
  }
  return { source: { doc, lines }, problems }
}

function keyOf (key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value)
  return typeof key === 'string' ? key : undefined
}

/**
 * The node at a key path, or the deepest ancestor that exists (values coming from a merge key or
 * an alias may have no node of their own). `key` is the key node of the last segment, when found.
 */
export function nodeAt (source: YamlSource, segs: readonly PathSegment[]): { node?: Node, key?: Node, exact: boolean } {
  let cur: unknown = source.doc.contents
  let found: { node?: Node, key?: Node } = { node: (cur ?? undefined) as Node | undefined }
  for (const seg of segs) {
    if (isAlias(cur)) cur = cur.resolve(source.doc)
    if (isMap(cur)) {
      const pair = cur.items.find(p => keyOf(p.key) === String(seg))
      if (pair === undefined) return { ...found, exact: false }
      cur = pair.value
      found = { key: pair.key as Node, node: (pair.value ?? pair.key) as Node }
    } else if (isSeq(cur) && typeof seg === 'number' && seg < cur.items.length) {
      cur = cur.items[seg]
      found = { node: cur as Node }
    } else {
      return { ...found, exact: false }
    }
  }
  return { ...found, exact: true }
}

/** Line and column of the node at a path (its key when `at` is 'key'). */
export function positionOf (source: YamlSource, segs: readonly PathSegment[], at: 'key' | 'value' = 'value'): Position | undefined {
  const { node, key, exact } = nodeAt(source, segs)
  const target = at === 'key' && exact && key !== undefined ? key : node
  const offset = target?.range?.[0]
  if (offset === undefined) return segs.length === 0 ? { line: 1, column: 1 } : undefined
  const { line, col } = source.lines.linePos(offset)
  return { line, column: col }
}

/** A problem at a key path, placed on its line. */
export function problemAt (
  source: YamlSource,
  segs: readonly PathSegment[],
  code: ConfigProblem['code'],
  message: string,
  at: 'key' | 'value' = 'value'
): ConfigProblem {
  const pos = positionOf(source, segs, at)
  return { ...(pos ?? {}), path: formatPath(segs), code, message }
}

/** The text of a config file, or a ConfigError saying why it cannot be read. */
export function readConfigText (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message
    throw new ConfigError(file, [{ path: '', code: 'unreadable', message: `cannot read the config file: ${why}` }])
  }
}
