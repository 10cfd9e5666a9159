// Worked examples for the webhook tag: events in (as queued, before `prepare`), request out. The
// tap test runs every case and docs/destinations.md shows them. The signature is literal: it is
// Standard Webhooks v1 over "webhook-id.webhook-timestamp.body" with the spec's test secret.
import type { TaglineEvent } from '../schemas/event.js'
import type { BuildContext, TagExample } from './types.js'
import type { Static } from '@sinclair/typebox'
import type { WebhookSettings } from './webhook.js'

export type WebhookExample = TagExample<Static<typeof WebhookSettings>>

/** Every example is built at this instant, for this batch. */
export const EXAMPLE_CONTEXT: BuildContext = { now: Date.UTC(2026, 0, 15, 12, 0, 0), batchId: '01KF0ZB7G0EXAMPLEBATCH0001', attempt: 1 }

const purchase: TaglineEvent = {
  event_name: 'purchase',
  event_id: 'T_1001',
  transaction_id: 'T_1001',
  value: 72.05,
  currency: 'EUR',
  client_id: '1234567890.1768478000',
  user_id: 'cust-88231',
  user_data: { email_address: 'Jane.Doe@Example.com', phone_number: '+47 912 34 567' },
  'x-ga-measurement_id': 'G-ABC123XYZ9',
  source: { client: 'json', request_id: 'r-1', received_ms: EXAMPLE_CONTEXT.now - 1000, trusted: true }
}

const signUp: TaglineEvent = {
  event_name: 'sign_up',
  event_id: 'su-1',
  client_id: '1234567890.1768478000',
  params: { method: 'google' },
  source: { client: 'datalayer', request_id: 'r-2', received_ms: EXAMPLE_CONTEXT.now - 500, trusted: false }
}

// sha256("jane.doe@example.com") and sha256("+4791234567"): normalised, then hashed.
const HASHED = '"user_data":{"sha256_email_address":"86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d","sha256_phone_number":"ffcbee1d17948bbad790c0b467ce90267dc1d9f9f4494f28451642fee49ff9a9"}'
const PURCHASE_JSON = '{"event_name":"purchase","event_id":"T_1001","transaction_id":"T_1001","value":72.05,"currency":"EUR","client_id":"1234567890.1768478000","user_id":"cust-88231","source":{"client":"json","request_id":"r-1","received_ms":1768478399000,"trusted":true}'
const SIGN_UP_JSON = '{"event_name":"sign_up","event_id":"su-1","client_id":"1234567890.1768478000","params":{"method":"google"},"source":{"client":"datalayer","request_id":"r-2","received_ms":1768478399500,"trusted":false}}'

export const webhookExamples: WebhookExample[] = [
  {
    name: 'a signed batch: user data hashed, GA4 protocol fields left out',
    settings: { url: 'https://crm.example/hooks/tagline', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    events: [purchase, signUp],
    expected: {
      requests: [{
        method: 'POST',
        url: 'https://crm.example/hooks/tagline',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_01KF0ZB7G0EXAMPLEBATCH0001',
          'webhook-timestamp': '1768478400',
          'webhook-signature': 'v1,4xVxITUZi9wAxdbv9/esBqv3oO0JkoeCV+JlI+2yPjk='
        },
        body: `{"events":[${PURCHASE_JSON},${HASHED}},${SIGN_UP_JSON}]}`,
        events: [0, 1]
      }]
    }
  },
  {
    name: 'unsigned, PUT through a proxy endpoint, static header, user data left out',
    settings: { url: 'https://crm.example/hooks/tagline', method: 'PUT', userData: 'none', headers: { 'x-source': 'tagline' }, endpoint: 'https://proxy.internal/crm' },
    events: [purchase],
    expected: {
      requests: [{
        method: 'PUT',
        url: 'https://proxy.internal/crm',
        headers: { 'x-source': 'tagline', 'content-type': 'application/json', 'webhook-id': 'msg_01KF0ZB7G0EXAMPLEBATCH0001', 'webhook-timestamp': '1768478400' },
        body: `{"events":[${PURCHASE_JSON}}]}`,
        events: [0]
      }]
    }
  }
]
