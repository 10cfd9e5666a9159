// The registry of tag types. A new destination is one file in tags/ plus one line here.
import type { TagDefinition } from './types.js'
import { webhook } from './webhook.js'
import { log } from './log.js'
import { ga4 } from './ga4.js'
import { posthog } from './posthog.js'
import { tiktok } from './tiktok.js'
import { meta } from './meta.js'

export const tagTypes: Record<string, TagDefinition<any>> = Object.assign(Object.create(null), {
  webhook,
  log,
  ga4,
  posthog,
  tiktok,
  meta
})
