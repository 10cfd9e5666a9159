// Worked examples for the TikTok Events API tag: events in (before prepare), request out. The tap
// test runs every case through prepare + build and compares the bodies byte for byte, so the key
// order below is the wire order; they double as documentation of the wire format
// (docs/destinations.md shows them). Hashes are literal on purpose: they pin TikTok's normalisation (the
// phone is hashed as E.164 *with* the '+', so it differs from Meta's hash of the same number).
import type { TaglineEvent } from '../schemas/event.js'
import type { BuildContext, OutgoingRequest, TagExample } from './types.js'
import type { TiktokSettings } from './tiktok.js'
import { messyPurchase } from './pii.examples.js'

export type TiktokExample = TagExample<TiktokSettings>

/** Every example is built at this instant (2026-01-15T12:00:00Z). */
export const EXAMPLE_CONTEXT: BuildContext = { now: Date.UTC(2026, 0, 15, 12, 0, 0), batchId: 'b1', attempt: 1 }

const NOW = EXAMPLE_CONTEXT.now
const NOW_S = NOW / 1000
const URL = 'https://business-api.tiktok.com/open_api/v1.3/event/track/'
const S = { pixelCode: 'C0PIXELCODE123', accessToken: 'tt-access-token-1' }
const HEADERS = { 'Access-Token': 'tt-access-token-1', 'content-type': 'application/json' }
const HEAD = { event_source: 'web', event_source_id: 'C0PIXELCODE123' }

// sha256 of the normalised values (recomputed with node:crypto).
const H = {
  email: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f', // john_smith@gmail.com
  phone: '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8', // +16505551212
  john: '96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a',
  smith: '6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd',
  zip: 'e443169117a184f91186b401133b20be670c7c0896f9886075e5d9b81e9d076b', // 10001
  jane: '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d', // jane.doe@example.com
  customer7: 'fbbd6eda872934a2c800d7e4e3f6061a127f2a4ef52dfd42eb44327ca394a304' // Customer-7: case kept, as TikTok's template hashes it
}

// tags/pii.examples.ts by TikTok's rules, normalised by hand, then sha256.
const MESSY = {
  email: 'd0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a', // john.smith@gmail.com
  phone: '9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462', // +14155550132
  external_id: '772b91cabe669ed0525030074170426af10a5688a186c35b19bf5e84305ffdd1', // Cust-42 (trimmed only)
  first_name: '2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450', // zoë
  last_name: '16765783f9c8c8a3accf27f1abb877688cb5904c21a4a7afb5f125bcfcb246ba', // obriensmith
  zip_code: 'e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e' // 94105
}

const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)'
const browser = {
  client_id: '1234567890.1768478000',
  page_location: 'https://shop.example/checkout/thank-you',
  page_referrer: 'https://shop.example/checkout',
  ip_override: '203.0.113.7',
  user_agent: UA,
  language: 'en-us',
  click_ids: { ttclid: 'E.C.P.example' },
  browser_ids: { ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH' },
  consent: { ad_storage: 'granted', ad_user_data: 'granted' }
} satisfies Partial<TaglineEvent>
const browserUser = { ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH', ttclid: 'E.C.P.example', ip: '203.0.113.7', user_agent: UA, locale: 'en-US' }
const browserPage = { url: 'https://shop.example/checkout/thank-you', referrer: 'https://shop.example/checkout' }

const purchase: TaglineEvent = {
  event_name: 'purchase',
  event_id: 'T_12345',
  timestamp_ms: NOW - 2500,
  ...browser,
  currency: 'USD',
  value: 72.05,
  transaction_id: 'T_12345',
  items: [
    { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_category: 'Apparel', item_brand: 'Google', price: 10.01, quantity: 3 },
    { item_id: 'SKU_12346', item_name: 'Bag', price: 42.02, quantity: 1 }
  ],
  user_data: {
    email_address: ' John_Smith@Gmail.com ',
    phone_number: '(650) 555-1212', // national: the address country supplies +1
    address: { first_name: 'John', last_name: 'Smith', city: 'New York', region: 'New York', postal_code: '10001-1234', country: 'US' }
  }
}
const purchaseProps = {
  value: 72.05,
  currency: 'USD',
  contents: [
    { content_id: 'SKU_12345', quantity: 3, price: 10.01, content_name: 'Stan and Friends Tee', content_category: 'Apparel', brand: 'Google' },
    { content_id: 'SKU_12346', quantity: 1, price: 42.02, content_name: 'Bag' }
  ],
  content_type: 'product',
  order_id: 'T_12345'
}
const purchaseOut = (event: string): Record<string, unknown> => ({
  event,
  event_time: NOW_S - 3, // seconds, rounded down
  event_id: 'T_12345',
  user: {
    email: H.email,
    phone: H.phone,
    first_name: H.john,
    last_name: H.smith,
    zip_code: H.zip,
    city: 'newyork',
    state: 'ny',
    country: 'us',
    ...browserUser
  },
  page: browserPage,
  properties: purchaseProps
})

const req = (data: unknown[], events: number[], head: Record<string, unknown> = HEAD, url = URL): OutgoingRequest =>
  ({ method: 'POST', url, headers: HEADERS, body: JSON.stringify({ ...head, data }), events })

const pageView: TaglineEvent = {
  event_name: 'page_view',
  event_id: 'pv-1',
  timestamp_ms: NOW - 1000,
  ...browser,
  page_location: 'https://shop.example/shoes',
  page_referrer: 'https://news.example/'
}

export const tiktokExamples: TiktokExample[] = [
  {
    name: 'browser purchase: event_id verbatim, ttp/ttclid/IP/UA, hashed email, phone as +E.164, address',
    settings: S,
    events: [purchase],
    expected: { requests: [req([purchaseOut('Purchase')], [0])] }
  },
  {
    name: 'backend purchase: user_id becomes the hashed external_id (trimmed, case kept), time from received_ms',
    settings: S,
    events: [{
      event_name: 'purchase',
      event_id: 'ORD-77',
      user_id: 'Customer-7',
      currency: 'eur',
      value: 120,
      transaction_id: 'ORD-77',
      items: [{ item_id: 'P-9', price: 60, quantity: 2 }],
      user_data: { email_address: 'jane.doe@example.com' },
      source: { client: 'backend', request_id: 'r-9', received_ms: NOW - 1000, trusted: true }
    }],
    expected: {
      requests: [req([{
        event: 'Purchase',
        event_time: NOW_S - 1,
        event_id: 'ORD-77',
        user: { email: H.jane, external_id: H.customer7 },
        properties: { value: 120, currency: 'EUR', contents: [{ content_id: 'P-9', quantity: 2, price: 60 }], content_type: 'product', order_id: 'ORD-77' }
      }], [0])]
    }
  },
  {
    name: 'view_item → ViewContent with contents',
    settings: S,
    events: [{
      event_name: 'view_item',
      event_id: 'vi-1',
      timestamp_ms: NOW,
      page_location: 'https://shop.example/p/runner',
      currency: 'GBP',
      value: 25,
      items: [{ item_id: 'RUN-1', item_name: 'Runner', item_brand: 'Acme', price: 25 }]
    }],
    expected: {
      requests: [req([{
        event: 'ViewContent',
        event_time: NOW_S,
        event_id: 'vi-1',
        page: { url: 'https://shop.example/p/runner' },
        properties: { value: 25, currency: 'GBP', contents: [{ content_id: 'RUN-1', price: 25, content_name: 'Runner', brand: 'Acme' }], content_type: 'product' }
      }], [0])]
    }
  },
  {
    name: 'add_to_cart → AddToCart, value computed from the items',
    settings: S,
    events: [{ event_name: 'add_to_cart', event_id: 'atc-1', timestamp_ms: NOW, currency: 'EUR', items: [{ item_id: 'SOCK', price: 19.99, quantity: 2 }] }],
    expected: {
      requests: [req([{
        event: 'AddToCart',
        event_time: NOW_S,
        event_id: 'atc-1',
        properties: { value: 39.98, currency: 'EUR', contents: [{ content_id: 'SOCK', quantity: 2, price: 19.99 }], content_type: 'product' }
      }], [0])]
    }
  },
  {
    name: 'page_view is not sent by default (it would double-count the pixel\'s Pageview): not routed here; build refuses a stray one',
    settings: S,
    events: [pageView],
    expected: { requests: [], rejected: [{ index: 0, reason: 'no TikTok event for page_view' }] }
  },
  {
    name: 'page_view sent when mapped to the pixel\'s Pageview',
    settings: { ...S, eventNames: { page_view: 'Pageview' } },
    events: [pageView],
    expected: {
      requests: [req([{
        event: 'Pageview',
        event_time: NOW_S - 1,
        event_id: 'pv-1',
        user: browserUser,
        page: { url: 'https://shop.example/shoes', referrer: 'https://news.example/' }
      }], [0])]
    }
  },
  {
    name: 'eventNames override: purchase → CompletePayment (what an older pixel sends)',
    settings: { ...S, eventNames: { purchase: 'CompletePayment' } },
    events: [purchase],
    expected: { requests: [req([purchaseOut('CompletePayment')], [0])] }
  },
  {
    name: 'an event older than 7 days is dead-lettered; the rest of the batch goes',
    settings: S,
    events: [
      { event_name: 'add_to_cart', event_id: 'old-1', timestamp_ms: NOW - 8 * 86_400_000 },
      { event_name: 'sign_up', event_id: 'su-1', timestamp_ms: NOW }
    ],
    expected: {
      requests: [req([{ event: 'CompleteRegistration', event_time: NOW_S, event_id: 'su-1' }], [1])],
      rejected: [{ index: 0, reason: 'TikTok events are sent at most 7 days late; this one is 8.0 days old (2026-01-07T12:00:00.000Z)' }]
    }
  },
  {
    name: 'a purchase with a value but no currency is dead-lettered, never sent as USD',
    settings: S,
    events: [{ event_name: 'purchase', event_id: 'T-9', timestamp_ms: NOW, value: 10, transaction_id: 'T-9' }],
    expected: {
      requests: [],
      rejected: [{ index: 0, reason: 'purchase has a value but no currency; TikTok needs an ISO 4217 currency and tagline never assumes one' }]
    }
  },
  {
    name: 'testEventCode goes in the body; events then show in Events Manager → Test Events only',
    settings: { ...S, testEventCode: 'TEST12345' },
    events: [{ event_name: 'generate_lead', event_id: 'lead-1', timestamp_ms: NOW }],
    expected: { requests: [req([{ event: 'Lead', event_time: NOW_S, event_id: 'lead-1' }], [0], { ...HEAD, test_event_code: 'TEST12345' })] }
  },
  {
    name: 'endpoint replaces the whole URL; an empty testEventCode is none',
    settings: { ...S, testEventCode: '', endpoint: 'https://tiktok-proxy.example/track' },
    events: [{ event_name: 'search', event_id: 's-1', timestamp_ms: NOW, params: { search_term: 'red shoes' } }],
    expected: { requests: [req([{ event: 'Search', event_time: NOW_S, event_id: 's-1', properties: { query: 'red shoes' } }], [0], HEAD, 'https://tiktok-proxy.example/track')] }
  },
  {
    name: 'messy customer data (tags/pii.examples.ts) by TikTok\'s rules: phone as +E.164 (the address supplies +1), external_id trimmed with its case kept, city/state/country in clear',
    settings: S,
    events: [messyPurchase(NOW)],
    expected: {
      requests: [req([{
        event: 'Purchase',
        event_time: NOW_S - 1,
        event_id: 'ORD-42',
        user: { ...MESSY, city: 'sanfrancisco', state: 'ca', country: 'us' },
        properties: { value: 25, currency: 'USD', order_id: 'ORD-42' }
      }], [0])]
    }
  }
]
