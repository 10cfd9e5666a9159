// The requests the benchmark sends. `[<id>]` is replaced by autocannon (idReplacement) with a
// fresh 33-character id on every request, so event ids never repeat and dedup lets every event
// through while still doing its store lookup, as it does for real traffic.

/**
 * A real-format GA4 `view_item` hit (the parameters gtag.js sends for a page view and a
 * view_item, merged): 40 parameters, 715 bytes once the id is in, close to the 703-byte,
 * 40-parameter query the bare-Fastify baseline was measured with (bench/README.md, "Caveats").
 */
export const GTAG_QUERY = [
  'v=2', 'tid=G-ABC123XYZ9', 'gtm=45je4ca0v9123456789za200', '_p=1718000098765',
  'gcs=G111', 'gcd=13t3t3t3t5l1', 'npa=0', 'dma=0', 'cid=1234567890.1717000000',
  'ul=en-us', 'sr=1920x1080', 'uaa=x86', 'uab=64',
  'uafvl=Chromium%3B126.0.6478.61%7CGoogle%2520Chrome%3B126.0.6478.61%7CNot-A.Brand%3B99.0.0.0',
  'uamb=0', 'uam=', 'uap=Windows', 'uapv=15.0.0', 'uaw=0', 'are=1', 'frm=0', 'pscdl=noapi',
  '_eu=AAI', '_s=2', 'sid=1718000000', 'sct=7', 'seg=1',
  'dl=https%3A%2F%2Fshop.example%2Fp%2Fstan-tee', 'dr=https%3A%2F%2Fwww.google.com%2F',
  'dt=Stan%20and%20Friends%20Tee', 'en=view_item', '_et=5230', 'cu=USD', 'epn.value=10.01',
  'ep.event_id=[<id>]', 'up.customer_tier=gold', '_ee=1',
  'pr1=idSKU_12345~nmStan%20and%20Friends%20Tee~brGoogle~caApparel~c2Adult~c3Shirts~vagreen~pr10.01~qt1',
  'tfd=6011', 'richsstsse'
].join('&')

/**
 * A GA4 `page_view` hit, the commonest event: the same hit without the product and value
 * parameters (`pr1`, `cu`, `epn.value`, `_et`), 582 bytes once the id is in. It keeps
 * `ep.event_id` so that, with dedup on, every tag sets its dedup mark (a gtag page_view without an
 * event id gets a minted one and no mark). TikTok does not map page_view by default, so four of
 * the five tags take it.
 */
export const PAGE_VIEW_QUERY = GTAG_QUERY.split('&')
  .filter(p => !/^(pr1|cu|epn\.value|_et)=/.test(p))
  .map(p => p === 'en=view_item' ? 'en=page_view' : p)
  .join('&')

/** The visitor's public IP. The gateway sits behind a proxy on 127.0.0.1 (`trustProxy`), which
 * passes it in X-Forwarded-For, so every tag gets a real-looking IP (GA4 `_uip`, Meta
 * `client_ip_address`, TikTok `user.ip`, PostHog `$ip`), not the loopback address. */
export const VISITOR_IP = '203.0.113.7'

/** What a returning visitor's browser sends with a beacon (cookies already set: no minting).
 * No `Sec-GPC`, and the hits carry consent granted, so no ads tag is held back. */
export const BROWSER_HEADERS: Record<string, string> = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'accept-language': 'en-US,en;q=0.9',
  origin: 'https://shop.example',
  referer: 'https://shop.example/p/stan-tee',
  'x-forwarded-for': VISITOR_IP,
  cookie: 'FPID=FPID2.2.q3kQ0v1nE7m6yq0rZ8m5cT2u0bq1mH3g1H0n4o6yJ9k%3D.1717000000; _ga=GA1.1.1234567890.1717000000; _fbp=fb.1.1717000000000.1234567890; _ttp=2F7h37YkS1j57AYSKTI7IHhJPYH'
}

/** A tagline-JSON purchase (schemas/event.ts), about 1 KB like the baseline's 1043-byte body. */
export const PURCHASE_BODY = JSON.stringify({
  event_name: 'purchase',
  event_id: 'T-[<id>]',
  transaction_id: 'T-[<id>]',
  client_id: '1234567890.1717000000',
  user_id: 'cust-88231',
  ga_session_id: '1718000000',
  ga_session_number: 7,
  page_location: 'https://shop.example/checkout/thank-you',
  page_title: 'Thank you',
  currency: 'USD',
  value: 72.05,
  tax: 4.9,
  shipping: 5.99,
  coupon: 'SUMMER_FUN',
  items: [
    { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', item_category: 'Apparel', item_category2: 'Adult', item_variant: 'green', price: 10.01, quantity: 3 },
    { item_id: 'SKU_12346', item_name: 'Friends Hoodie', item_brand: 'Google', item_category: 'Apparel', item_variant: 'black', coupon: 'SUMMER_FUN', discount: 2.22, price: 42.02, quantity: 1 }
  ],
  user_data: {
    sha256_email_address: 'a8af8341993604f29cd4e0e5a5a4b5d48c575436c38b28abbfd7d481f345d5db'
  },
  consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' },
  params: { payment_type: 'card', shipping_tier: 'standard' }
})

// ---------------------------------------------------------------------------------------------
// The five destination tags (one of each type), all pointed at the local sink.

export const TAGS = ['ga4', 'meta', 'tiktok', 'posthog', 'webhook'] as const
export type TagName = typeof TAGS[number]

/** Credentials the sink checks (fictitious). */
export const CREDENTIALS = {
  ga4: { measurementId: 'G-ABC123XYZ9', apiSecret: 'bench-mp-secret' },
  meta: { pixelId: '1234567890123456', accessToken: 'EAAbenchMetaAccessToken0123456789' },
  tiktok: { pixelCode: 'CBENCH0123456789', accessToken: 'bench-tiktok-access-token-0123456789' },
  posthog: { apiKey: 'phc_benchPosthogProjectKey0123456789' }
} as const

/**
 * Which tags each request should reach, and under which destination event name(s): the GA4 hit is
 * a view_item (forwarded as-is to /g/collect; Meta and TikTok map it to ViewContent), the JSON
 * body a purchase (GA4 over Measurement Protocol; Meta and TikTok: Purchase). Every tag fires
 * once per event in both loads; the sink checks the names so a tag sending the wrong event, or
 * the GA4 tag using the wrong transport, fails the run.
 */
export const EXPECTED: Record<'gtag' | 'json', Record<TagName, { perRequest: number, names: string[], transport?: string }>> = {
  gtag: {
    ga4: { perRequest: 1, names: ['view_item'], transport: 'g/collect' },
    meta: { perRequest: 1, names: ['ViewContent'] },
    tiktok: { perRequest: 1, names: ['ViewContent'] },
    posthog: { perRequest: 1, names: ['view_item'] },
    webhook: { perRequest: 1, names: ['view_item'] }
  },
  json: {
    ga4: { perRequest: 1, names: ['purchase'], transport: 'mp/collect' },
    meta: { perRequest: 1, names: ['Purchase'] },
    tiktok: { perRequest: 1, names: ['Purchase'] },
    posthog: { perRequest: 1, names: ['purchase'] },
    webhook: { perRequest: 1, names: ['purchase'] }
  }
}
