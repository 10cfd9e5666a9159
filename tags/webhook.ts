// Generic webhook: batches POSTed as { events: [...] }, signed per Standard Webhooks v1.0.0
// (https://www.standardwebhooks.com/).
import { createHmac } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { defineTag } from './types.js'
import { classifyByStatus } from './http-status.js'
import { withHashedUserData } from './pii.js'
import { withoutProtocolFields, type TaglineEvent } from '../schemas/event.js'

export const WebhookSettings = Type.Object({
  url: Type.String({ pattern: '^https?://', description: 'Where batches are POSTed as { events: [...] }.' }),
  secret: Type.Optional(Type.String({ pattern: '^(whsec_)?[A-Za-z0-9+/]+={0,2}$', description: 'Standard Webhooks secret: "whsec_" + base64 of 24–64 random bytes. Requests are unsigned when absent.' })),
  method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH')])),
  headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Static headers added to every request.' })),
  userData: Type.Optional(Type.Union([Type.Literal('hashed'), Type.Literal('none')], {
    description: 'hashed (default): user_data goes as SHA-256 of the normalised values (sha256_* keys, Google\'s rules); none: left out.'
  })),
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Country (ISO 3166-1 alpha-2) a phone number written without + or 00 is read in when the address gives none: 07700 900123 with GB is +447700900123. Overrides identity.defaultCountry. With neither, such a number is not sent (tagline_user_data_dropped_total, reason no_country).' })),
  includeProtocolFields: Type.Optional(Type.Boolean({ description: 'Also send the raw GA4 protocol values (x-ga-*, x-sst-*) kept for lossless GA4 forwarding. Off by default: they are internal and make each event about twice as large.' }))
}, { additionalProperties: false })

// Several webhook tags usually get the same event object (events are never mutated after they
// are queued), so each is serialised once per shape rather than once per tag.
const plainJson = new WeakMap<object, string>()
const fullJson = new WeakMap<object, string>()

function eventJson (event: TaglineEvent, full: boolean): string {
  const cache = full ? fullJson : plainJson
  let json = cache.get(event)
  if (json === undefined) {
    // Queued copies have no protocol values unless the tag keeps them (protocolFields below);
    // events queued by an older version may still carry them.
    json = JSON.stringify(full ? event : withoutProtocolFields(event))
    cache.set(event, json)
  }
  return json
}

/**
 * The `webhook-signature` value for one attempt. The HMAC key is the decoded secret bytes,
 * not the string, and the signed content is "id.timestamp.body" with the body as sent.
 */
export function signWebhook (secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  const mac = createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')
  return `v1,${mac}`
}

export const webhook = defineTag({
  type: 'webhook',
  settings: WebhookSettings,
  secrets: ['secret'],
  defaults: { batch: { maxEvents: 50, maxWaitMs: 1000 }, consent: [] },
  protocolFields: settings => settings.includeProtocolFields === true ? 'all' : [],
  prepare (event, settings, ctx) {
    // Raw user data never leaves the gateway, nor waits in its queue, spool or dead letters.
    if (event.user_data === undefined) return event
    if (settings.userData === 'none') {
      const { user_data: _raw, ...rest } = event
      return rest
    }
    return withHashedUserData(event, 'google', { defaultCountry: settings.defaultCountry, dateOrder: ctx?.dateOrder, onDrop: ctx?.dropped })
  },
  build (events, settings, ctx) {
    const body = `{"events":[${events.map(e => eventJson(e, settings.includeProtocolFields === true)).join(',')}]}`
    // webhook-id is the batch id, constant across retries (the receiver's idempotency key);
    // the timestamp and signature are fresh per attempt because receivers reject stale ones.
    const id = `msg_${ctx.batchId}`
    const timestamp = Math.floor(ctx.now / 1000)
    const headers: Record<string, string> = {
      ...settings.headers,
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp)
    }
    if (settings.secret) headers['webhook-signature'] = signWebhook(settings.secret, id, timestamp, body)
    const url = (settings as { endpoint?: string }).endpoint ?? settings.url
    return { requests: [{ method: settings.method ?? 'POST', url, headers, body, events: events.map((_, i) => i) }] }
  },
  classify: res => classifyByStatus(res)
})
