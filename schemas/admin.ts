// The bodies of the operator routes (server/routes/admin.ts), checked with Ajv as the event model is.
import { Type, type Static } from '@sinclair/typebox'

/** POST /admin/replay: one tag's dead letters back into its queue. */
export const ReplayRequest = Type.Object({
  tag: Type.String({ minLength: 1, description: 'The tag whose dead letters are replayed; no other tag is touched.' }),
  since: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.String({ minLength: 1 })], {
    description: 'Only letters of this last stretch of time: milliseconds, or a string like "30m", "2h", "2d".'
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Only the oldest this many of them.' })),
  dryRun: Type.Optional(Type.Boolean({ description: 'Count them by reason; replay nothing.' }))
}, { additionalProperties: false })

export type ReplayRequest = Static<typeof ReplayRequest>

const Identifier = (description: string) => Type.String({ minLength: 1, maxLength: 512, description })

/** POST /admin/forget: erase what the gateway keeps about one person. */
export const ForgetRequest = Type.Object({
  userId: Type.Optional(Identifier('The user id the events and stitching contexts carry (`user_id`).')),
  clientId: Type.Optional(Identifier('The browser\'s client id (`client_id`, the gtag cid).')),
  email: Type.Optional(Identifier('An e-mail address: found in the events as its SHA-256 in every destination\'s normalisation, or as clear text.'))
}, { additionalProperties: false, minProperties: 1 })

export type ForgetRequest = Static<typeof ForgetRequest>
