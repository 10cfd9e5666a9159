// Input → output cases of the ga4 tag, run by test/tags/ga4.test.ts and readable as documentation.
// Events are as queued, before prepare(): the test runs them through prepare() then build(), as
// delivery does, so user data goes in raw and comes out hashed.
// Hits are in the format gtag.js sends, with fictitious ids.
import type { TaglineEvent } from '../schemas/event.js'
import type { OutgoingRequest, TagExample } from './types.js'
import { MESSY_USER_DATA, MESSY_USER_ID } from './pii.examples.js'

export type Ga4Example = TagExample<{ measurementId: string, apiSecret: string, region?: 'global' | 'eu', forwardGtag?: boolean, debug?: boolean, defaultCountry?: string }>

/** Build-time clock of every example: 2024-06-10T12:00:00Z. */
export const NOW = Date.UTC(2024, 5, 10, 12)

const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const IP = '203.0.113.7'
const CID = '1234567890.1717000000'
const SETTINGS = { measurementId: 'G-ABC123XYZ9', apiSecret: 'mp-secret-1' }
const GTAG_HEADERS = { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA }
const MP_URL = 'https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123XYZ9&api_secret=mp-secret-1'
const MP_HEADERS = { 'content-type': 'application/json' }
const json = (body: unknown): string => JSON.stringify(body)
/** A Measurement Protocol request of the default settings: the body, and the events it carries. */
const mpRequest = (body: unknown, events: number[]): OutgoingRequest => ({ method: 'POST', url: MP_URL, headers: MP_HEADERS, body: json(body), events })
// A landing URL whose 1,000th character falls inside an escape (%C3%A9 at 998), and a product name
// of 104 characters.
const LONG_URL = 'https://shop.example/landing?utm_source=partner&utm_campaign=' + 'spring-sale-'.repeat(78) + 'x%C3%A9'
const LONG_NAME = 'Organic cotton crew-neck T-shirt, heavyweight 240 gsm, garment-dyed, relaxed fit, unisex, twelve colours'

// page_view: everything in the query, empty body.
const Q_PAGE_VIEW = 'v=2&tid=G-ABC123XYZ9&gtm=45je4ca0v9123456789za200&_p=1718000012345&gcs=G111&gcd=13t3t3t3t5l1&npa=0&dma=0&cid=1234567890.1717000000&ul=en-us&sr=1920x1080&uaa=x86&uab=64&uafvl=Chromium%3B126.0.6478.61%7CGoogle%2520Chrome%3B126.0.6478.61%7CNot-A.Brand%3B99.0.0.0&uamb=0&uam=&uap=Windows&uapv=15.0.0&uaw=0&are=1&frm=0&pscdl=noapi&_eu=AAI&_s=1&sid=1718000000&sct=7&seg=1&dl=https%3A%2F%2Fshop.example%2Fcategory%2Fshirts%3Futm_source%3Dnewsletter&dr=https%3A%2F%2Fwww.google.com%2F&dt=Shirts%20%7C%20Shop&en=page_view&_ee=1&tfd=1422&richsstsse'
// purchase: shared query, the event in one body line.
const Q_PURCHASE = 'v=2&tid=G-ABC123XYZ9&gtm=45je4ca0v9123456789za200&_p=1718000300000&gcs=G111&gcd=13t3t3t3t5l1&npa=0&dma=0&cid=1234567890.1717000000&uid=cust-88231&ul=en-us&sr=1920x1080&_s=1&sid=1718000000&sct=7&seg=1&dl=https%3A%2F%2Fshop.example%2Fcheckout%2Fthank-you&dr=https%3A%2F%2Fshop.example%2Fcheckout&dt=Thank%20you&tfd=902&richsstsse'
const L_PURCHASE = 'en=purchase&_et=2100&_c=1&cu=USD&ep.transaction_id=T_12345&epn.value=72.05&epn.tax=4.90&epn.shipping=5.99&ep.coupon=SUMMER_FUN&ep.event_id=T_12345&pr1=idSKU_12345~nmStan%20and%20Friends%20Tee~brGoogle~caApparel~vagreen~pr10.01~qt3&pr2=idSKU_12346~nmFriends%20Hoodie~brGoogle~caApparel~c2Adult~vablack~cpSUMMER_FUN~ds2.22~pr42.02~qt1'
// two events in one hit.
const Q_BATCH = 'v=2&tid=G-ABC123XYZ9&gtm=45je4ca0v9123456789za200&_p=1718000400000&gcs=G111&gcd=13t3t3t3t5l1&npa=0&cid=1234567890.1717000000&ul=en-us&sr=1920x1080&_s=4&sid=1718000000&sct=7&seg=1&dl=https%3A%2F%2Fshop.example%2Fcategory%2Fshirts&dt=Shirts%20%7C%20Shop&tfd=30211&richsstsse'
const L_LIST = 'en=view_item_list&_et=3120&ep.item_list_id=related_products&ep.item_list_name=Related%20products&pr1=idSKU_12345~nmStan%20and%20Friends%20Tee~lp0~pr10.01&pr2=idSKU_12346~nmFriends%20Hoodie~lp1~pr42.02'
const L_SELECT = 'en=select_item&_et=640&ep.item_list_id=related_products&ep.item_list_name=Related%20products&pr1=idSKU_12346~nmFriends%20Hoodie~lp1~pr42.02'

function gtagEvent (event_name: string, query: string, line?: string, extra: Partial<TaglineEvent> = {}): TaglineEvent {
  return {
    event_name,
    client_id: CID,
    timestamp_ms: NOW - 1000,
    ip_override: IP,
    user_agent: UA,
    'x-ga-measurement_id': 'G-ABC123XYZ9',
    'x-ga-raw': line === undefined ? { query } : { query, line },
    ...extra
  }
}

// sha256 of what prepare() normalises Jane.Doe@Example.com, Jane and Doe to: "jane.doe@example.com",
// "jane", "doe".
const H_EMAIL = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d'
const H_FIRST = '81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2'
const H_LAST = '799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f'
// tags/pii.examples.ts by Google's rules, normalised by hand, then sha256.
const MESSY = {
  email: '3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586', // johnsmith@gmail.com (Gmail dots go)
  phone: '9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462', // +14155550132
  first: '2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450', // zoë
  last: '16765783f9c8c8a3accf27f1abb877688cb5904c21a4a7afb5f125bcfcb246ba', // obriensmith
  street: '32dfa2ffc5c68adba136638c0642aa9cea28deec9bbff9f6c20e46d149297f11' // 500 howard st apt 4
}

const ITEMS = [
  { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 3 },
  { item_id: 'SKU_12346', item_name: 'Friends Hoodie', price: 42.02, quantity: 1 }
]

const backendPurchase: TaglineEvent = {
  event_name: 'purchase',
  event_id: 'T_12345',
  timestamp_ms: NOW - 60_000,
  client_id: CID,
  user_id: 'cust-88231',
  ga_session_id: '1718000000',
  ip_override: IP,
  user_agent: UA,
  currency: 'USD',
  value: 72.05,
  transaction_id: 'T_12345',
  tax: 4.9,
  shipping: 5.99,
  coupon: 'SUMMER_FUN',
  items: ITEMS,
  consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'denied' },
  user_properties: { customer_tier: 'premium' },
  user_data: { email_address: 'Jane.Doe@Example.com', address: { first_name: 'Jane', last_name: 'Doe', city: 'Oslo', country: 'NO' } },
  params: { payment_type: 'card' },
  source: { client: 'mp', request_id: 'r1', received_ms: NOW - 60_000, trusted: true }
}

const lead = (i: number): TaglineEvent => ({ event_name: 'generate_lead', client_id: CID, timestamp_ms: NOW - 100_000 + i, currency: 'EUR', value: i })
const leadJson = (i: number): object => ({ name: 'generate_lead', timestamp_micros: (NOW - 100_000 + i) * 1000, params: { currency: 'EUR', value: i } })
const LEADS = Array.from({ length: 26 }, (_, i) => i)

export const GA4_EXAMPLES: Ga4Example[] = [
  {
    name: 'gtag page_view: the original hit, plus _uip and the visitor UA',
    settings: SETTINGS,
    events: [gtagEvent('page_view', Q_PAGE_VIEW)],
    expected: {
      requests: [{ method: 'POST', url: `https://www.google-analytics.com/g/collect?${Q_PAGE_VIEW}&_uip=203.0.113.7`, headers: GTAG_HEADERS, body: '', events: [0] }]
    }
  },
  {
    name: 'gtag purchase: the body line travels as it came; tid stays as sent even when measurementId differs',
    settings: { ...SETTINGS, measurementId: 'G-OTHER00001' },
    events: [gtagEvent('purchase', Q_PURCHASE, L_PURCHASE, { ip_override: '2001:db8::7' })],
    expected: {
      requests: [{ method: 'POST', url: `https://www.google-analytics.com/g/collect?${Q_PURCHASE}&_uip=2001%3Adb8%3A%3A7`, headers: GTAG_HEADERS, body: L_PURCHASE, events: [0] }]
    }
  },
  {
    name: 'gtag batch: lines of one hit go together again, one line per event',
    settings: SETTINGS,
    events: [gtagEvent('view_item_list', Q_BATCH, L_LIST), gtagEvent('select_item', Q_BATCH, L_SELECT)],
    expected: {
      requests: [{ method: 'POST', url: `https://www.google-analytics.com/g/collect?${Q_BATCH}&_uip=203.0.113.7`, headers: GTAG_HEADERS, body: `${L_LIST}\n${L_SELECT}`, events: [0, 1] }]
    }
  },
  {
    name: 'backend purchase over Measurement Protocol: hashed user data with user_id, consent, session',
    settings: SETTINGS,
    events: [backendPurchase],
    expected: {
      requests: [mpRequest({
        client_id: CID,
        user_id: 'cust-88231',
        timestamp_micros: (NOW - 60_000) * 1000,
        ip_override: IP,
        user_agent: UA,
        consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' },
        user_properties: { customer_tier: { value: 'premium' } },
        user_data: { sha256_email_address: [H_EMAIL], address: [{ sha256_first_name: H_FIRST, sha256_last_name: H_LAST, city: 'oslo', country: 'NO' }] },
        events: [{
          name: 'purchase',
          timestamp_micros: (NOW - 60_000) * 1000,
          params: { session_id: '1718000000', engagement_time_msec: 1, currency: 'USD', value: 72.05, transaction_id: 'T_12345', tax: 4.9, shipping: 5.99, coupon: 'SUMMER_FUN', items: ITEMS, payment_type: 'card' }
        }]
      }, [0])]
    }
  },
  {
    name: 'eu region: both transports go to region1; user_data hashed Google\'s way, also without a user_id; empty transaction_id left out',
    settings: { ...SETTINGS, region: 'eu' },
    events: [
      gtagEvent('page_view', Q_PAGE_VIEW),
      { event_name: 'refund', client_id: CID, timestamp_ms: NOW, transaction_id: '', currency: 'EUR', value: 5, user_data: { email_address: 'jane.doe@example.com' } }
    ],
    expected: {
      requests: [
        { method: 'POST', url: `https://region1.google-analytics.com/g/collect?${Q_PAGE_VIEW}&_uip=203.0.113.7`, headers: GTAG_HEADERS, body: '', events: [0] },
        {
          method: 'POST',
          url: 'https://region1.google-analytics.com/mp/collect?measurement_id=G-ABC123XYZ9&api_secret=mp-secret-1',
          headers: MP_HEADERS,
          body: json({ client_id: CID, timestamp_micros: NOW * 1000, user_data: { sha256_email_address: ['86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d'] }, events: [{ name: 'refund', timestamp_micros: NOW * 1000, params: { currency: 'EUR', value: 5 } }] }),
          events: [1]
        }
      ]
    }
  },
  {
    name: '26 events of one client: 25 + 1 (MP takes at most 25 per request)',
    settings: SETTINGS,
    events: LEADS.map(lead),
    expected: {
      requests: [
        mpRequest({ client_id: CID, timestamp_micros: (NOW - 100_000) * 1000, events: LEADS.slice(0, 25).map(leadJson) }, LEADS.slice(0, 25)),
        mpRequest({ client_id: CID, timestamp_micros: (NOW - 100_000 + 25) * 1000, events: [leadJson(25)] }, [25])
      ]
    }
  },
  {
    name: 'events whose own name MP refuses are dead-lettered with the reason; a parameter it refuses by name or value is left out and the event sent',
    settings: SETTINGS,
    events: [
      { event_name: 'add-to-cart', client_id: CID, timestamp_ms: NOW },
      { event_name: 'session_start', client_id: CID, timestamp_ms: NOW },
      { event_name: 'sign_up', client_id: CID, timestamp_ms: NOW, params: { method: 'email', ga_source: 'x', 'signup-form': 'footer', answers: ['a'] } },
      { event_name: 'login', client_id: CID, timestamp_ms: NOW, params: { method: 'email' } }
    ],
    expected: {
      requests: [mpRequest({
        client_id: CID,
        timestamp_micros: NOW * 1000,
        events: [
          { name: 'sign_up', timestamp_micros: NOW * 1000, params: { method: 'email' } },
          { name: 'login', timestamp_micros: NOW * 1000, params: { method: 'email' } }
        ]
      }, [2, 3])],
      rejected: [
        { index: 0, reason: 'Measurement Protocol would refuse this event: Event name "add-to-cart" is not valid: names start with a letter and hold only letters, digits and underscores. (NAME_INVALID at event.name)' },
        { index: 1, reason: 'Measurement Protocol would refuse this event: Event name "session_start" is reserved by Google Analytics. (NAME_RESERVED at event.name)' }
      ]
    }
  },
  {
    name: 'an event older than 72 h is dead-lettered (MP would silently re-date it)',
    settings: SETTINGS,
    events: [{ event_name: 'purchase', client_id: CID, timestamp_ms: NOW - 73 * 3600_000, transaction_id: 'T_9', currency: 'USD', value: 1 }],
    expected: {
      requests: [],
      rejected: [{ index: 0, reason: 'Measurement Protocol accepts events at most 72 h old; this one is 73.0 h old (2024-06-07T11:00:00.000Z)' }]
    }
  },
  {
    name: 'values past GA4\'s length limits are cut to them, not refused (GA4 keeps such an event): page_location at 1,000 characters, outside a percent escape; an item name at 100',
    settings: SETTINGS,
    events: [{
      event_name: 'purchase',
      client_id: CID,
      timestamp_ms: NOW,
      transaction_id: 'T_77',
      currency: 'EUR',
      value: 59,
      page_location: LONG_URL,
      items: [{ item_id: 'SKU_7', item_name: LONG_NAME, price: 59 }]
    }],
    expected: {
      requests: [mpRequest({
        client_id: CID,
        timestamp_micros: NOW * 1000,
        events: [{ name: 'purchase', timestamp_micros: NOW * 1000, params: { page_location: LONG_URL.slice(0, 998), currency: 'EUR', value: 59, transaction_id: 'T_77', items: [{ item_id: 'SKU_7', item_name: LONG_NAME.slice(0, 100), price: 59 }] } }]
      }, [0])]
    }
  },
  {
    name: 'messy customer data (tags/pii.examples.ts) by Google\'s rules: Gmail dots removed, +E.164 phone, street hashed, city and region in clear with their spaces (no state code), postal code as written, country upper-case',
    settings: SETTINGS,
    events: [{ event_name: 'purchase', client_id: CID, user_id: MESSY_USER_ID, timestamp_ms: NOW - 1000, transaction_id: 'ORD-42', currency: 'USD', value: 25, user_data: MESSY_USER_DATA }],
    expected: {
      requests: [mpRequest({
        client_id: CID,
        user_id: MESSY_USER_ID,
        timestamp_micros: (NOW - 1000) * 1000,
        user_data: {
          sha256_email_address: [MESSY.email],
          sha256_phone_number: [MESSY.phone],
          address: [{ sha256_first_name: MESSY.first, sha256_last_name: MESSY.last, sha256_street: MESSY.street, city: 'san francisco', region: 'california', postal_code: '94105-1234', country: 'US' }]
        },
        events: [{ name: 'purchase', timestamp_micros: (NOW - 1000) * 1000, params: { currency: 'USD', value: 25, transaction_id: 'ORD-42' } }]
      }, [0])]
    }
  }
]
