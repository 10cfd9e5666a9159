// Worked examples for the PostHog tag: event in, request out. The tap test runs every case; they
// double as documentation of the wire format (docs/destinations.md shows them). The uuid values are literal
// on purpose: they pin the UUID namespace (cross-checked with Python's uuid.uuid5).
import type { TaglineEvent } from '../schemas/event.js'
import type { BuildContext, TagExample } from './types.js'
import type { PosthogSettings } from './posthog.js'

export type PosthogExample = TagExample<PosthogSettings>

/** Every example is built at this instant. */
export const EXAMPLE_CONTEXT: BuildContext = { now: Date.UTC(2026, 0, 15, 12, 0, 0), batchId: 'b1', attempt: 1 }

const NOW = EXAMPLE_CONTEXT.now
const KEY = 'phc_exampleProjectKey'
const US = 'https://us.i.posthog.com/batch/'
const HEADERS = { 'content-type': 'application/json' }
const SID = '1768478000'

const pageView: TaglineEvent = {
  event_name: 'page_view',
  event_id: 'pv-1',
  timestamp_ms: NOW - 5000,
  client_id: '1234567890.1768478000',
  ga_session_id: SID,
  page_location: 'https://shop.example/shoes?utm_source=news',
  page_referrer: 'https://news.example/',
  page_title: 'Shoes',
  ip_override: '203.0.113.7',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
  language: 'en-gb',
  campaign: { source: 'news', medium: 'email' },
  click_ids: { gclid: 'Cj0KCQ' }
}

const pageViewItem = {
  event: '$pageview',
  distinct_id: '1234567890.1768478000',
  timestamp: '2026-01-15T11:59:55.000Z',
  uuid: 'b04d1c23-0f0d-5f99-96c7-24915a9ce1b1',
  properties: {
    $lib: 'tagline',
    $ip: '203.0.113.7',
    $current_url: 'https://shop.example/shoes?utm_source=news',
    $host: 'shop.example',
    $pathname: '/shoes',
    $referrer: 'https://news.example/',
    title: 'Shoes',
    $raw_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    $browser_language: 'en-gb',
    $session_id: '019bc180-c380-7a50-a4e8-0d792f3bd4f5',
    ga_session_id: SID,
    utm_source: 'news',
    utm_medium: 'email',
    gclid: 'Cj0KCQ'
  }
}

const purchase = (consent: TaglineEvent['consent']): TaglineEvent => ({
  event_name: 'purchase',
  event_id: 'T-1001',
  timestamp_ms: NOW - 1000,
  user_id: 'u-42',
  client_id: '1234567890.1768478000',
  currency: 'EUR',
  value: 59.9,
  transaction_id: 'T-1001',
  items: [{ item_id: 'SKU-1', item_name: 'Runner', price: 59.9, quantity: 1 }],
  params: { payment_type: 'card', $set: { plan: 'smuggled past consent' } },
  user_properties: { plan: 'pro', lifetime_orders: 3 },
  consent
})

const purchaseItem = (withSet: boolean): Record<string, unknown> => ({
  event: 'purchase',
  distinct_id: 'u-42',
  timestamp: '2026-01-15T11:59:59.000Z',
  uuid: '5e79cd98-4b55-5799-b1c8-e7eeb58912c8',
  properties: {
    payment_type: 'card',
    $lib: 'tagline',
    $geoip_disable: true,
    currency: 'EUR',
    value: 59.9,
    transaction_id: 'T-1001',
    items: [{ item_id: 'SKU-1', item_name: 'Runner', price: 59.9, quantity: 1 }],
    ...(withSet ? { $set: { plan: 'pro', lifetime_orders: 3 } } : {})
  }
})

const body = (batch: unknown[], historical = false): string =>
  JSON.stringify({ api_key: KEY, ...(historical ? { historical_migration: true } : {}), batch })

export const posthogExamples: PosthogExample[] = [
  {
    name: 'page_view becomes $pageview with URL, referrer, session, IP and campaign',
    settings: { apiKey: KEY },
    events: [pageView],
    expected: { requests: [{ method: 'POST', url: US, headers: HEADERS, body: body([pageViewItem]), events: [0] }] }
  },
  {
    name: 'purchase with analytics consent granted: user_properties go as $set',
    settings: { apiKey: KEY },
    events: [purchase({ analytics_storage: 'granted', ad_storage: 'granted' })],
    expected: { requests: [{ method: 'POST', url: US, headers: HEADERS, body: body([purchaseItem(true)]), events: [0] }] }
  },
  {
    name: 'purchase with analytics_storage denied: the event goes, $set does not',
    settings: { apiKey: KEY },
    events: [purchase({ analytics_storage: 'denied', ad_storage: 'granted' })],
    expected: { requests: [{ method: 'POST', url: US, headers: HEADERS, body: body([purchaseItem(false)]), events: [0] }] }
  },
  {
    name: 'a 3-day-old event goes in its own historical_migration request',
    settings: { apiKey: KEY },
    events: [
      { event_name: 'sign_up', event_id: 's-1', timestamp_ms: NOW - 3 * 86_400_000, client_id: 'c-1' },
      { event_name: 'login', event_id: 'l-1', timestamp_ms: NOW - 60_000, client_id: 'c-1' }
    ],
    expected: {
      requests: [
        {
          method: 'POST',
          url: US,
          headers: HEADERS,
          body: body([{ event: 'login', distinct_id: 'c-1', timestamp: '2026-01-15T11:59:00.000Z', uuid: '783e9f89-13e2-56e6-a192-d64ba1acda1a', properties: { $lib: 'tagline', $geoip_disable: true } }]),
          events: [1]
        },
        {
          method: 'POST',
          url: US,
          headers: HEADERS,
          body: body([{ event: 'sign_up', distinct_id: 'c-1', timestamp: '2026-01-12T12:00:00.000Z', uuid: '3b57a8a7-3d77-52a3-961a-a7d295d7e2e1', properties: { $lib: 'tagline', $geoip_disable: true } }], true),
          events: [0]
        }
      ]
    }
  },
  {
    name: 'an event with neither user_id nor client_id is rejected, the rest still go',
    settings: { apiKey: KEY },
    events: [
      { event_name: 'generate_lead', event_id: 'g-1', timestamp_ms: NOW, user_id: '' },
      { event_name: 'generate_lead', event_id: 'g-2', timestamp_ms: NOW, client_id: 'c-2' }
    ],
    expected: {
      requests: [{
        method: 'POST',
        url: US,
        headers: HEADERS,
        body: body([{ event: 'generate_lead', distinct_id: 'c-2', timestamp: '2026-01-15T12:00:00.000Z', uuid: 'da7c9505-b21a-5f70-acea-33db2fad5793', properties: { $lib: 'tagline', $geoip_disable: true } }]),
        events: [1]
      }],
      rejected: [{ index: 0, reason: 'no user_id or client_id: PostHog needs a distinct_id' }]
    }
  },
  {
    name: 'EU Cloud host (a trailing slash is tolerated)',
    settings: { apiKey: KEY, host: 'https://eu.i.posthog.com/' },
    events: [{ event_name: 'add_to_cart', event_id: 'a-1', timestamp_ms: NOW, client_id: 'c-3', value: 12 }],
    expected: {
      requests: [{
        method: 'POST',
        url: 'https://eu.i.posthog.com/batch/',
        headers: HEADERS,
        body: body([{ event: 'add_to_cart', distinct_id: 'c-3', timestamp: '2026-01-15T12:00:00.000Z', uuid: '17567cb8-facd-59ec-8996-fbd0c3e70ded', properties: { $lib: 'tagline', $geoip_disable: true, value: 12 } }]),
        events: [0]
      }]
    }
  },
  {
    name: 'endpoint replaces the whole URL (proxies, local sinks)',
    settings: { apiKey: KEY, host: 'https://ph.shop.example', endpoint: 'http://127.0.0.1:9999/sink' },
    events: [{ event_name: 'view_item', event_id: 'v-1', timestamp_ms: NOW, client_id: 'c-4' }],
    expected: {
      requests: [{
        method: 'POST',
        url: 'http://127.0.0.1:9999/sink',
        headers: HEADERS,
        body: body([{ event: 'view_item', distinct_id: 'c-4', timestamp: '2026-01-15T12:00:00.000Z', uuid: '59e053cb-2508-5b20-b076-445294b17856', properties: { $lib: 'tagline', $geoip_disable: true } }]),
        events: [0]
      }]
    }
  }
]
