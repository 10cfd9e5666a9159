// sGTM-style per-tag transformations: `params.exclude` removes fields (dot paths), `params.set`
// writes them. Applied to a copy, so other tags still see the event as it arrived.
import { isSafeKey } from '../common/guards.js'
import type { TaglineEvent } from '../schemas/event.js'


export interface ParamTransform { exclude: string[], set: Record<string, unknown> }

export function hasTransform (t: ParamTransform): boolean {
  return t.exclude.length > 0 || Object.keys(t.set).length > 0
}

/** Walk to the parent of `path`, copying each object on the way so the original stays intact. */
function parentFor (root: Record<string, unknown>, parts: string[], create: boolean): Record<string, unknown> | undefined {
  let node = root
  for (const key of parts.slice(0, -1)) {
    if (!isSafeKey(key)) return undefined
    const next = Object.hasOwn(node, key) ? node[key] : undefined
    if (next === null || typeof next !== 'object') {
      if (!create) return undefined
      node[key] = {}
    } else {
      node[key] = Array.isArray(next) ? [...next] : { ...next }
    }
    node = node[key] as Record<string, unknown>
  }
  return node
}

export function applyTransform (event: TaglineEvent, t: ParamTransform): TaglineEvent {
  const out = { ...event } as Record<string, unknown>
  for (const path of t.exclude) {
    const parts = path.split('.')
    const parent = parentFor(out, parts, false)
    const last = parts[parts.length - 1]
    if (parent !== undefined && isSafeKey(last)) delete parent[last]
  }
  for (const [path, value] of Object.entries(t.set)) {
    const parts = path.split('.')
    const parent = parentFor(out, parts, true)
    const last = parts[parts.length - 1]
    if (parent !== undefined && isSafeKey(last)) parent[last] = value
  }
  return out as TaglineEvent
}
