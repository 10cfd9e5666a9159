// Worked examples for the Meta Conversions API tag: event in (as queued, before `prepare`),
// request out. The tap test runs every case; they double as documentation of the wire format
// (docs/destinations.md shows them). Hashes are literal: Meta's own vectors where Meta publishes one
// (john_smith@gmail.com, (650)555-1212 → 16505551212, "United States" → us).
import type { TaglineEvent } from '../schemas/event.js'
import type { BuildContext, BuildResult, TagExample } from './types.js'
import { META_API_VERSION, type MetaSettings } from './meta.js'
import { messyPurchase } from './pii.examples.js'

export type MetaExample = TagExample<MetaSettings>

/** Every example is built at this instant (2026-01-15T12:00:00Z). */
export const EXAMPLE_CONTEXT: BuildContext = { now: Date.UTC(2026, 0, 15, 12, 0, 0), batchId: 'b1', attempt: 1 }

const NOW = EXAMPLE_CONTEXT.now
const NOW_S = NOW / 1000
const DAY = 86_400_000
const TOKEN = 'EAAB-example-token'
const S: MetaSettings = { pixelId: '1234567890', accessToken: TOKEN, defaultCountry: 'US' }
const URL = `https://graph.facebook.com/${META_API_VERSION}/1234567890/events`
const HEADERS = { 'content-type': 'application/json' }
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36'
const IP = '203.0.113.7'
const FBP = 'fb.1.1768000000000.1116446470'
const FBC = 'fb.1.1768470000000.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk'
const EM = '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f' // john_smith@gmail.com
const PH = 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176' // 16505551212
const COUNTRY_US = '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621'
const EXT = '3c7590c86110d900249fe34b33bae31f617e013a3a8fa345b333a6aa96797a7f' // cust-88231
const EM_BUYER = '25d14e8e4b158f20bf83cef151e4a238645ef0b1f1309238ed30d858df3791ca' // buyer@shop.example
const COUNTRY_DE = '959a45d44e6fcf58361ed004681556fe50129f2109e817dec098c00c9e5d2578'
// tags/pii.examples.ts by Meta's rules, normalised by hand, then sha256.
const MESSY = {
  em: 'd0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a', // john.smith@gmail.com (no Gmail rule at Meta)
  ph: '11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51', // 14155550132
  fn: '2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450', // zoë
  ln: '16765783f9c8c8a3accf27f1abb877688cb5904c21a4a7afb5f125bcfcb246ba', // obriensmith
  ct: '1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac', // sanfrancisco
  st: '6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126', // ca
  zp: 'e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e', // 94105
  ext: '8a3c5a67cad508582b5edf6b8352cea3ffbad7f44812c1a736b4444c0f5746aa' // cust-42
}

const browser = { ip_override: IP, user_agent: UA, browser_ids: { fbp: FBP, fbc: FBC } }
const network = { client_ip_address: IP, client_user_agent: UA, fbc: FBC, fbp: FBP }
const request = (data: unknown[], events: number[], extra: Record<string, unknown> = {}, url = URL): BuildResult['requests'][number] =>
  ({ method: 'POST', url, headers: HEADERS, body: JSON.stringify({ data, ...extra, access_token: TOKEN }), events })
const pageView = (extra: Partial<TaglineEvent> = {}): TaglineEvent =>
  ({ event_name: 'page_view', event_id: 'pv-1', timestamp_ms: NOW - 1000, page_location: 'https://shop.example/', ...browser, ...extra })
const pageViewOut = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_name: 'PageView', event_time: NOW_S - 1, event_id: 'pv-1', action_source: 'website', event_source_url: 'https://shop.example/', user_data: network, ...extra
})

export const metaExamples: MetaExample[] = [
  {
    name: 'browser purchase: fbp/fbc, IP, UA, hashed email + phone + country, user_id as external_id',
    settings: S,
    events: [{
      event_name: 'purchase',
      event_id: 'T_12345',
      timestamp_ms: NOW - 2000,
      page_location: 'https://shop.example/checkout/thank-you',
      page_referrer: 'https://shop.example/checkout',
      ...browser,
      user_id: 'cust-88231',
      user_data: { email_address: ' John_Smith@gmail.com', phone_number: '(650)555-1212', address: { country: 'United States' } },
      consent: { ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' },
      currency: 'usd',
      value: 72.05,
      transaction_id: 'T_12345',
      items: [{ item_id: 'SKU_12345', item_name: 'Socks', price: 10.01, quantity: 3 }, { item_id: 'SKU_12346', item_name: 'Cap', price: 42.02, quantity: 1 }]
    }],
    expected: {
      requests: [request([{
        event_name: 'Purchase',
        event_time: NOW_S - 2,
        event_id: 'T_12345',
        action_source: 'website',
        event_source_url: 'https://shop.example/checkout/thank-you',
        referrer_url: 'https://shop.example/checkout',
        user_data: { em: [EM], ph: [PH], country: [COUNTRY_US], external_id: [EXT], ...network },
        custom_data: {
          value: 72.05,
          currency: 'USD',
          content_ids: ['SKU_12345', 'SKU_12346'],
          contents: [{ id: 'SKU_12345', quantity: 3, item_price: 10.01 }, { id: 'SKU_12346', quantity: 1, item_price: 42.02 }],
          content_type: 'product',
          order_id: 'T_12345'
        }
      }], [0])]
    }
  },
  {
    name: 'backend purchase stitched from the browser context: value from the items, one item names the content',
    settings: S,
    events: [{
      event_name: 'purchase',
      event_id: 'order-881',
      timestamp_ms: NOW - 3 * DAY,
      source: { client: 'json', request_id: 'r-9', received_ms: NOW - 3 * DAY, trusted: true, stitched: ['ip_override', 'user_agent', 'page_location', 'browser_ids.fbp', 'browser_ids.fbc'] },
      page_location: 'https://shop.example/checkout',
      ...browser,
      user_data: { email_address: 'Buyer@Shop.example', address: { country: 'DE' } },
      currency: 'EUR',
      transaction_id: 'order-881',
      items: [{ item_id: 'SKU-9', item_name: 'Trail Runner', item_category: 'Shoes', price: 59.9, quantity: 2 }]
    }],
    expected: {
      requests: [request([{
        event_name: 'Purchase',
        event_time: NOW_S - 3 * 86400,
        event_id: 'order-881',
        action_source: 'website',
        event_source_url: 'https://shop.example/checkout',
        user_data: { em: [EM_BUYER], country: [COUNTRY_DE], ...network },
        custom_data: {
          value: 119.8,
          currency: 'EUR',
          content_ids: ['SKU-9'],
          contents: [{ id: 'SKU-9', quantity: 2, item_price: 59.9 }],
          content_type: 'product',
          content_name: 'Trail Runner',
          content_category: 'Shoes',
          order_id: 'order-881'
        }
      }], [0])]
    }
  },
  {
    name: 'view_item → ViewContent with contents',
    settings: S,
    events: [{ ...pageView(), event_name: 'view_item', event_id: 'vi-1', page_location: 'https://shop.example/p/sku-9', currency: 'EUR', value: 59.9, items: [{ item_id: 'SKU-9', item_name: 'Trail Runner', price: 59.9 }] }],
    expected: {
      requests: [request([{
        ...pageViewOut(),
        event_name: 'ViewContent',
        event_id: 'vi-1',
        event_source_url: 'https://shop.example/p/sku-9',
        custom_data: { value: 59.9, currency: 'EUR', content_ids: ['SKU-9'], contents: [{ id: 'SKU-9', item_price: 59.9 }], content_type: 'product', content_name: 'Trail Runner' }
      }], [0])]
    }
  },
  {
    name: 'begin_checkout → InitiateCheckout with num_items (Σ quantity)',
    settings: S,
    events: [{ ...pageView(), event_name: 'begin_checkout', event_id: 'bc-1', currency: 'EUR', items: [{ item_id: 'A', price: 5, quantity: 2 }, { item_id: 'B', price: 7.5, quantity: 1 }] }],
    expected: {
      requests: [request([{
        ...pageViewOut(),
        event_name: 'InitiateCheckout',
        event_id: 'bc-1',
        custom_data: {
          value: 17.5,
          currency: 'EUR',
          content_ids: ['A', 'B'],
          contents: [{ id: 'A', quantity: 2, item_price: 5 }, { id: 'B', quantity: 1, item_price: 7.5 }],
          content_type: 'product',
          num_items: 3
        }
      }], [0])]
    }
  },
  {
    name: 'page_view → PageView; a browser clock ahead of ours is clamped to now',
    settings: S,
    events: [pageView(), pageView({ event_id: 'pv-2', timestamp_ms: NOW + 90_000 })],
    expected: { requests: [request([pageViewOut(), pageViewOut({ event_id: 'pv-2', event_time: NOW_S })], [0, 1])] }
  },
  {
    name: 'eventNames override: purchase goes out as a custom event with its own params',
    settings: { ...S, eventNames: { purchase: 'OrderCompleted' } },
    events: [{ ...pageView(), event_name: 'purchase', event_id: 'T-2', currency: 'GBP', value: 20, transaction_id: 'T-2', params: { payment_type: 'card', debug_mode: true, engagement_time_msec: 12 } }],
    expected: {
      requests: [request([{
        ...pageViewOut(),
        event_name: 'OrderCompleted',
        event_id: 'T-2',
        custom_data: { payment_type: 'card', value: 20, currency: 'GBP', order_id: 'T-2' }
      }], [0])]
    }
  },
  {
    name: 'an 8-day-old event is rejected (it would fail the whole request); the rest is sent',
    settings: S,
    events: [pageView({ event_id: 'old', timestamp_ms: NOW - 8 * DAY }), pageView()],
    expected: {
      requests: [request([pageViewOut()], [1])],
      rejected: [{ index: 0, reason: 'Meta accepts event_time at most 7 days old (one older event fails the whole request); this one is 8.0 days old (2026-01-07T12:00:00.000Z)' }]
    }
  },
  {
    name: 'a purchase without currency is rejected, never sent as USD',
    settings: S,
    events: [{ ...pageView(), event_name: 'purchase', event_id: 'T-3', value: 10, transaction_id: 'T-3' }],
    expected: { requests: [], rejected: [{ index: 0, reason: 'Meta requires a currency for Purchase; the event has none (no currency is assumed)' }] }
  },
  {
    name: 'an event with no Meta name (customEvents off) is not routed here; build refuses one that gets through',
    settings: S,
    events: [pageView({ event_name: 'scroll' })],
    expected: { requests: [], rejected: [{ index: 0, reason: 'no Meta event for \'scroll\': map it in eventNames or set customEvents: true' }] }
  },
  {
    name: 'testEventCode and partnerAgent go in the body',
    settings: { ...S, testEventCode: 'TEST12345', partnerAgent: 'tagline-0.1.0' },
    events: [pageView()],
    expected: { requests: [request([pageViewOut()], [0], { test_event_code: 'TEST12345', partner_agent: 'tagline-0.1.0' })] }
  },
  {
    name: 'limitedDataUse: LDU with country 0 / state 0 (Meta geolocates)',
    settings: { ...S, limitedDataUse: true },
    events: [pageView()],
    expected: { requests: [request([pageViewOut({ data_processing_options: ['LDU'], data_processing_options_country: 0, data_processing_options_state: 0 })], [0])] }
  },
  {
    name: 'endpoint replaces the whole Graph URL (e.g. a Conversions API Gateway); apiVersion is then unused',
    settings: { ...S, apiVersion: 'v26.0', endpoint: 'https://capig.shop.example/events' },
    events: [pageView()],
    expected: { requests: [request([pageViewOut()], [0], {}, 'https://capig.shop.example/events')] }
  },
  {
    name: 'messy customer data (tags/pii.examples.ts) by Meta\'s rules: lower-case, no spaces or punctuation, state code, 5-digit ZIP, phone digits with the country code the address supplies; no street (Meta takes none)',
    settings: { pixelId: '1234567890', accessToken: TOKEN, actionSource: 'system_generated' },
    events: [messyPurchase(NOW)],
    expected: {
      requests: [request([{
        event_name: 'Purchase',
        event_time: NOW_S - 1,
        event_id: 'ORD-42',
        action_source: 'system_generated',
        user_data: { em: [MESSY.em], ph: [MESSY.ph], fn: [MESSY.fn], ln: [MESSY.ln], ct: [MESSY.ct], st: [MESSY.st], zp: [MESSY.zp], country: [COUNTRY_US], external_id: [MESSY.ext] },
        custom_data: { value: 25, currency: 'USD', order_id: 'ORD-42' }
      }], [0])]
    }
  }
]
