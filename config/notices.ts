// What a valid config may do that its author may not mean: said by `tagline validate`, and logged
// at start and at each reload. Not problems: the config loads all the same.
import type { ConsentType } from '../schemas/event.js'
import type { CompiledConfig } from './types.js'

export interface ConsentNotice {
  tag: string
  type: string
  /** The consent types the tag's type is gated on by default that nothing gates it on here. */
  ungated: ConsentType[]
  message: string
}

/**
 * A tag whose own `consent:` list leaves out a type its destination is gated on by default, with
 * no blockOn trigger that stops an event denying it either: events whose visitor denied that type
 * reach the destination. Meant for a shop that gates elsewhere (its CMP keeps refusing visitors
 * from sending), and a leak for one that copied a list from another tag.
 */
export function consentNotices (config: Pick<CompiledConfig, 'tags'>): ConsentNotice[] {
  const out: ConsentNotice[] = []
  for (const tag of config.tags) {
    if (!tag.enabled) continue
    const ungated = tag.def.defaults.consent.filter(type =>
      !tag.consent.includes(type) && !tag.blocks({ event_name: 'consent_probe', consent: { [type]: 'denied' } }))
    if (ungated.length === 0) continue
    out.push({
      tag: tag.name,
      type: tag.type,
      ungated,
      message: `tag "${tag.name}" (${tag.type}): neither its consent list nor a blockOn trigger stops an event that denies ${ungated.join(' or ')}, which ${tag.type} is gated on by default: such events are sent to it.`
    })
  }
  return out
}
