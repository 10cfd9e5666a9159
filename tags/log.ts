// Prints what would be sent: a tag for trying a config without any account. Requests to a
// `log:` URL are written to the log by delivery instead of being sent.
import { Type } from '@sinclair/typebox'
import { defineTag } from './types.js'
import { withHashedUserData } from './pii.js'

const LogSettings = Type.Object({
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country a national phone number is read in before it is hashed (Google\'s rules, as the webhook). Overrides identity.defaultCountry.' }))
}, { additionalProperties: false })

export const log = defineTag({
  type: 'log',
  settings: LogSettings,
  secrets: [],
  defaults: { batch: { maxEvents: 100, maxWaitMs: 200 }, consent: [] },
  // Raw user data never waits in a queue, spool or dead letter, this tag's no more than any other.
  prepare: (event, settings, ctx) => event.user_data === undefined ? event : withHashedUserData(event, 'google', { defaultCountry: settings.defaultCountry, dateOrder: ctx?.dateOrder, onDrop: ctx?.dropped }),
  build (events) {
    return { requests: [{ method: 'POST', url: 'log:events', headers: {}, body: JSON.stringify({ events }), events: events.map((_, i) => i) }] }
  },
  classify: () => ({ kind: 'ok' })
})
