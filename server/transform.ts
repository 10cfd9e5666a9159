// sGTM-style per-tag transformations: `params.exclude` removes fields (dot paths), `params.set`
// writes them. Applied to a copy, so other tags still see the event as it arrived.
import { isSafeKey } from '../common/guards.js'
import type { TaglineEvent } from '../schemas/event.js'
import { rawWithout, type RawHit } from '../protocol/ga4-raw-hit.js'


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
  // A gtag hit's raw form (GA4 forwards it as it came) must say no more than the copy: the
  // excluded fields leave it too. What it cannot express (a `set`, a field inside another value)
  // drops it, and GA4 gets the copy over Measurement Protocol.
  const raw = out['x-ga-raw'] as RawHit | undefined
  if (raw !== undefined && raw !== null && typeof raw === 'object' && typeof raw.query === 'string') {
    const kept = Object.keys(t.set).length === 0 ? rawWithout(raw, t.exclude) : undefined
    if (kept === undefined) delete out['x-ga-raw']
    else out['x-ga-raw'] = kept
  }
  return out as TaglineEvent
}
