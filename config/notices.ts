// What a valid config may do that its author may not mean: said by `tagline validate`, and logged
// at start and at each reload. Not problems: the config loads all the same.
import type { CompiledConfig } from './types.js'

/**
 * A tag whose own `consent:` list leaves out a type its destination is gated on by default: events
 * whose visitor denied that type now reach it. Meant for a shop that gates elsewhere (its CMP
 * keeps refusing visitors from sending), and a leak for one that copied a list from another tag.
 */
export function consentNotices (config: Pick<CompiledConfig, 'tags'>): string[] {
  const out: string[] = []
  for (const tag of config.tags) {
    if (!tag.enabled) continue
    const left = tag.def.defaults.consent.filter(type => !tag.consent.includes(type))
    if (left.length === 0) continue
    out.push(`tag "${tag.name}" (${tag.type}): its consent list leaves out ${left.join(' and ')}, which ${tag.type} is gated on by default: events whose visitor denied ${left.length === 1 ? 'it' : 'them'} are sent to it.`)
  }
  return out
}
