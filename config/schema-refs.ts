// TypeBox writes a recursive schema (Condition) inline with its `$id` wherever it is used. Ajv
// refuses one `$id` twice in a schema (fireOn and blockOn both hold it) and editors want
// `#/definitions/...`, so both the loader and the generator hoist such schemas out first.

export type JsonSchema = Record<string, unknown>

/**
 * A plain-JSON copy of `schema` (TypeBox symbols dropped) where every nested schema carrying an
 * `$id`, and every `$ref` to one, points to `refFor(id)`. The hoisted bodies (without `$id`, their
 * own inner refs rewritten) are collected in `defs`.
 */
export function hoistIds (schema: unknown, refFor: (id: string) => string, defs: Record<string, JsonSchema> = {}): { schema: JsonSchema, defs: Record<string, JsonSchema> } {
  const copy = (node: unknown, top: boolean): unknown => {
    if (Array.isArray(node)) return node.map(n => copy(n, false))
    if (node === null || typeof node !== 'object') return node
    const obj = node as JsonSchema
    if (!top && typeof obj.$id === 'string') {
      const id = obj.$id
      if (!(id in defs)) {
        defs[id] = {} // placeholder first: the body refers to itself
        const { $id: _, ...body } = copy(obj, true) as JsonSchema
        defs[id] = body
      }
      return { $ref: refFor(id) }
    }
    const out: JsonSchema = {}
    for (const key of Object.keys(obj)) {
      const v = obj[key]
      out[key] = key === '$ref' && typeof v === 'string' && !v.startsWith('#') ? refFor(v) : copy(v, false)
    }
    return out
  }
  return { schema: copy(schema, true) as JsonSchema, defs }
}
