// Prints what would be sent: a tag for trying a config without any account.
import { Type } from '@sinclair/typebox'
import { defineTag } from './types.js'

export const LogSettings = Type.Object({
  level: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('debug')]))
}, { additionalProperties: false })

export const log = defineTag({
  type: 'log',
  settings: LogSettings,
  secrets: [],
  defaults: { batch: { maxEvents: 100, maxWaitMs: 200 }, consent: [] },
  build () { return { requests: [] } },
  classify () { return { kind: 'ok' } }
})
