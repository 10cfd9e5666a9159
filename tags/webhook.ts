// Generic webhook, signed per Standard Webhooks v1 (HMAC-SHA256 of "id.timestamp.body").
import { Type } from '@sinclair/typebox'
import { defineTag } from './types.js'

export const WebhookSettings = Type.Object({
  url: Type.String({ pattern: '^https?://', description: 'Where batches are POSTed as { events: [...] }.' }),
  secret: Type.Optional(Type.String({ description: 'Standard Webhooks secret, "whsec_" + base64 (24–64 bytes). Unsigned when absent.' })),
  method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH')])),
  headers: Type.Optional(Type.Record(Type.String(), Type.String()))
}, { additionalProperties: false })

export const webhook = defineTag({
  type: 'webhook',
  settings: WebhookSettings,
  secrets: ['secret'],
  defaults: { batch: { maxEvents: 50, maxWaitMs: 1000 }, consent: [] },
  build () { throw new Error('not yet') },
  classify () { return { kind: 'ok' } }
})
