import { ADD_TO_CART_ITEM } from './fixtures/add-to-cart.js'
import t from 'tap'
import { ADD_TO_CART_QUERY, BATCH_BODY, BATCH_QUERY, PAGE_VIEW_QUERY, PURCHASE_LINE, PURCHASE_QUERY, VIEW_ITEM_QUERY } from '../fixtures/ga4-hits.js'
import { gtag } from '../../clients/gtag.js'
import type { RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'

function snap (o: Partial<RequestSnapshot>): RequestSnapshot {
  return { method: 'POST', path: '/g/collect', query: '', body: '', json: undefined, contentType: 'text/plain', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

function failure (fn: () => unknown): TaglineError {
  try { fn() } catch (err) { if (err instanceof TaglineError) return err; throw err }
  throw new Error('expected a TaglineError')
}

const ALL_GRANTED = { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' }

t.test('claims /g/collect by path, and v=2 hits on /collect by query', async t => {
  t.ok(gtag.claims(snap({ path: '/g/collect' })))
  t.ok(gtag.claims(snap({ path: '/metrics/g/collect', method: 'GET' })))
  t.ok(gtag.claims(snap({ path: '/collect', query: PAGE_VIEW_QUERY })))
  t.ok(gtag.claims(snap({ path: '/collect', query: 'en=x&v=2' })))
  t.notOk(gtag.claims(snap({ path: '/collect', query: 'v=2' })), 'v=2 alone is not enough')
  t.notOk(gtag.claims(snap({ path: '/collect', query: 'v=20&tid=G-1' })))
  t.notOk(gtag.claims(snap({ path: '/collect', query: 'xv=2&tid=G-1' })))
  t.notOk(gtag.claims(snap({ path: '/collect', query: '' })))
  t.notOk(gtag.claims(snap({ path: '/mp/collect', query: 'measurement_id=G-1' })))
})

t.test('a page_view hit, POST with an empty body, maps every shared field', async t => {
  const [ev, ...rest] = gtag.parse(snap({ query: PAGE_VIEW_QUERY }))
  t.equal(rest.length, 0)
  t.match(ev, {
    event_name: 'page_view',
    client_id: '1234567890.1717000000',
    ga_session_id: '1718000000',
    ga_session_number: 7,
    page_location: 'https://shop.example/category/shirts?utm_source=newsletter',
    page_referrer: 'https://www.google.com/',
    page_title: 'Shirts | Shop',
    language: 'en-us',
    screen_resolution: '1920x1080',
    'x-ga-protocol_version': '2',
    'x-ga-measurement_id': 'G-ABC123XYZ9',
    'x-ga-gtm_version': '45je4ca0v9123456789za200',
    'x-ga-page_id': '1718000012345',
    'x-ga-request_count': '1',
    'x-ga-gcs': 'G111',
    'x-ga-gcd': '13t3t3t3t5l1',
    'x-ga-npa': '0',
    'x-ga-dma': '0',
    'x-ga-are': '1',
    'x-ga-pscdl': 'noapi',
    'x-ga-tfd': '1422',
    'x-ga-mp2-seg': '1',
    'x-ga-mp2-frm': '0',
    'x-ga-mp2-richsstsse': ''
  })
  t.strictSame(ev.consent, ALL_GRANTED)
  t.strictSame(ev['x-ga-system_properties'], { eu: 'AAI', ee: '1' })
  t.strictSame(ev['x-ga-client_hints'], {
    architecture: 'x86',
    bitness: '64',
    full_version_list: [
      { brand: 'Chromium', version: '126.0.6478.61' },
      { brand: 'Google Chrome', version: '126.0.6478.61' },
      { brand: 'Not-A.Brand', version: '99.0.0.0' }
    ],
    mobile: false,
    model: '',
    platform: 'Windows',
    platform_version: '15.0.0',
    wow64: false
  })
  t.strictSame(ev['x-ga-raw'], { query: PAGE_VIEW_QUERY })
  t.equal(ev.params, undefined)
  t.equal(ev.items, undefined)
  t.equal(ev.engagement_time_msec, undefined)
  t.equal(ev.campaign, undefined, 'utm_* in dl is the pipeline\'s business')
})

t.test('the page_view hit as a GET gives the same event', async t => {
  t.same(gtag.parse(snap({ method: 'GET', query: PAGE_VIEW_QUERY })), gtag.parse(snap({ query: PAGE_VIEW_QUERY })))
})

t.test('a view_item hit: value, currency, event_id and one item', async t => {
  const [ev] = gtag.parse(snap({ query: VIEW_ITEM_QUERY }))
  t.match(ev, { event_name: 'view_item', engagement_time_msec: 5230, currency: 'USD', value: 10.01, event_id: 'vi-1718000104-8842' })
  t.strictSame(ev.items, [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', item_category: 'Apparel', item_category2: 'Adult', item_category3: 'Shirts', item_variant: 'green', price: 10.01, quantity: 1 }])
})

t.test('an add_to_cart hit: every item token and the k0/v0 custom pair', async t => {
  const [ev] = gtag.parse(snap({ query: ADD_TO_CART_QUERY }))
  t.match(ev, { event_name: 'add_to_cart', value: 30.03, currency: 'USD', event_id: 'atc-1718000112-1207' })
  t.strictSame(ev.items?.[0], ADD_TO_CART_ITEM)
})

t.test('a purchase in one body line, merged over the query', async t => {
  const events = gtag.parse(snap({ query: PURCHASE_QUERY, body: PURCHASE_LINE }))
  t.equal(events.length, 1)
  const [ev] = events
  t.match(ev, {
    event_name: 'purchase',
    client_id: '1234567890.1717000000',
    user_id: 'cust-88231',
    page_title: 'Thank you',
    page_referrer: 'https://shop.example/checkout',
    engagement_time_msec: 2100,
    currency: 'USD',
    transaction_id: 'T_12345',
    value: 72.05,
    tax: 4.9,
    shipping: 5.99,
    coupon: 'SUMMER_FUN',
    event_id: 'T_12345'
  })
  t.strictSame(ev['x-ga-system_properties'], { c: '1' })
  t.strictSame(ev.items, [
    { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', item_category: 'Apparel', item_variant: 'green', price: 10.01, quantity: 3 },
    { item_id: 'SKU_12346', item_name: 'Friends Hoodie', item_brand: 'Google', item_category: 'Apparel', item_category2: 'Adult', item_variant: 'black', coupon: 'SUMMER_FUN', discount: 2.22, price: 42.02, quantity: 1 }
  ])
  t.strictSame(ev['x-ga-raw'], { query: PURCHASE_QUERY, line: PURCHASE_LINE })
  t.equal(ev.params, undefined, 'every ep/epn of this hit is a model key')
})

t.test('a batched POST: one event per line, sharing the query', async t => {
  const [list, select] = gtag.parse(snap({ query: BATCH_QUERY, body: BATCH_BODY }))
  t.match(list, { event_name: 'view_item_list', engagement_time_msec: 3120, client_id: '1234567890.1717000000', ga_session_id: '1718000000', params: { item_list_id: 'related_products', item_list_name: 'Related products' } })
  t.strictSame(list.items, [
    { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', index: 0, price: 10.01 },
    { item_id: 'SKU_12346', item_name: 'Friends Hoodie', index: 1, price: 42.02 }
  ])
  t.match(select, { event_name: 'select_item', engagement_time_msec: 640, client_id: '1234567890.1717000000' })
  t.strictSame(select.items, [{ item_id: 'SKU_12346', item_name: 'Friends Hoodie', index: 1, price: 42.02 }])
  t.strictSame(list.consent, ALL_GRANTED)
  t.strictSame(select.consent, ALL_GRANTED)
  t.equal((select['x-ga-raw'] as { line: string }).line, BATCH_BODY.split('\n')[1])
  t.not(list.consent, select.consent, 'events share no mutable objects')
})

t.test('a body line wins over the query; CRLF, blank lines and whitespace are tolerated', async t => {
  const events = gtag.parse(snap({ query: 'v=2&tid=G-1&en=query_event&cid=1.1&gcs=G111&dt=Query', body: '\r\n  en=first&dt=Line&gcs=G100  \r\n\r\nen=second\r\n' }))
  t.equal(events.length, 2)
  t.match(events[0], { event_name: 'first', page_title: 'Line', client_id: '1.1', consent: { ad_storage: 'denied', analytics_storage: 'denied' } })
  t.match(events[1], { event_name: 'second', page_title: 'Query', consent: { ad_storage: 'granted', analytics_storage: 'granted' } })
  t.equal((events[0]['x-ga-raw'] as { line: string }).line, 'en=first&dt=Line&gcs=G100')
})

t.test('a body of blank lines is one event from the query', async t => {
  const events = gtag.parse(snap({ query: 'v=2&tid=G-1&en=page_view', body: '\n \n' }))
  t.equal(events.length, 1)
  t.equal(events[0].event_name, 'page_view')
})

t.test('missing en is a 400 naming each broken line', async t => {
  const single = failure(() => gtag.parse(snap({ query: 'v=2&tid=G-1' })))
  t.equal(single.code, 'invalid_event')
  t.equal(single.statusCode, 400)
  t.strictSame(single.details.map(d => d.path), ['en'])
  const lines = failure(() => gtag.parse(snap({ query: 'v=2&tid=G-1', body: 'en=ok\n_et=5\nen=' })))
  t.strictSame(lines.details.map(d => d.path), ['lines[1].en', 'lines[2].en'])
  t.equal(failure(() => gtag.parse(snap({ query: 'en=' + 'x'.repeat(101) }))).code, 'invalid_event')
})

t.test('a hit of more than 500 parameters is a 400, not hundreds of thousands of fields', async t => {
  const params = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => `ep.p${from + i}=v`).join('&')
  const [ok] = gtag.parse(snap({ query: `en=x&${params(499)}` }))
  t.equal(Object.keys(ok.params ?? {}).length, 499, '500 parameters are read')
  const over = failure(() => gtag.parse(snap({ query: `en=x&${params(500)}` })))
  t.equal(over.code, 'invalid_event')
  t.strictSame(over.details.map(d => d.path), ['query'])
  t.match(over.message, /more than 500 parameters/)
  // In a batch, each line counts with the query's parameters it inherits.
  const batch = failure(() => gtag.parse(snap({ query: `v=2&${params(450)}`, body: `en=a\nen=b&${params(60, 1000)}\nen=c` })))
  t.strictSame(batch.details.map(d => d.path), ['lines[1]'])
  // 3,000 empty parameters × 100 lines: refused, not turned into 300,000 fields.
  const hostile = failure(() => gtag.parse(snap({ query: '&'.repeat(1) + Array.from({ length: 3000 }, (_, i) => `k${i}=`).join('&'), body: Array.from({ length: 100 }, (_, i) => `en=e${i}`).join('\n') })))
  t.equal(hostile.details.length, 100, 'every line refused')
})

t.test('missing v and tid are accepted and not invented', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=page_view' }))
  t.equal(ev['x-ga-protocol_version'], undefined)
  t.equal(ev['x-ga-measurement_id'], undefined)
  t.equal(ev.client_id, undefined)
})

t.test('at most 100 body lines', async t => {
  const hundred = Array.from({ length: 100 }, (_, i) => `en=e${i}`).join('\n')
  t.equal(gtag.parse(snap({ query: 'v=2', body: hundred })).length, 100)
  const err = failure(() => gtag.parse(snap({ query: 'v=2', body: hundred + '\nen=one_more' })))
  t.equal(err.code, 'invalid_event')
  t.equal(err.statusCode, 400)
  const huge = failure(() => gtag.parse(snap({ query: 'v=2', body: 'en=x\n'.repeat(10000) })))
  t.equal(huge.code, 'invalid_event')
})

t.test('ep / epn / up / upn parameters', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=sign_up&ep.method=Google&ep.count=12&epn.score=42.5&epn.level=abc&epn.value=abc&ep.value=12.5&epn.transaction_id=12345&up.plan=pro&upn.age=33&upn.tier=gold&ep.=x&epn.=1&up.=z' }))
  t.strictSame(ev.params, { method: 'Google', count: '12', score: 42.5, level: 'abc', value: 'abc' })
  t.equal(ev.value, 12.5, 'ep.value is the fallback when epn.value is not a number')
  t.equal(ev.transaction_id, '12345', 'numeric ids arrive as epn but stay strings')
  t.strictSame(ev.user_properties, { plan: 'pro', age: 33, tier: 'gold' })
  const [both] = gtag.parse(snap({ query: 'en=x&ep.value=1&epn.value=2' }))
  t.equal(both.value, 2, 'epn wins over ep')
  t.equal(both.params, undefined)
})

t.test('debug mode: _dbg and ep.debug_mode', async t => {
  const [dbg] = gtag.parse(snap({ query: 'en=x&_dbg=1&ep.debug_mode=true' }))
  t.strictSame(dbg.params, { debug_mode: true })
  t.strictSame(dbg['x-ga-system_properties'], { dbg: '1' })
  const [ep] = gtag.parse(snap({ query: 'en=x&ep.debug_mode=true' }))
  t.strictSame(ep.params, { debug_mode: true })
  const [off] = gtag.parse(snap({ query: 'en=x&_dbg=0' }))
  t.equal(off.params, undefined)
})

t.test('campaign overrides and system properties', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=x&cs=newsletter&cm=email&cn=summer&ck=tees&cc=hero&ci=c-1&_ss=1&_fv=2&_c=1&_ee=1&_eu=AAAAAAQ&_tu=AAI&_z=ccd.tbB&cn2=not_campaign' }))
  t.strictSame(ev.campaign, { source: 'newsletter', medium: 'email', name: 'summer', term: 'tees', content: 'hero', id: 'c-1' })
  t.strictSame(ev['x-ga-system_properties'], { ss: '1', fv: '2', c: '1', ee: '1', eu: 'AAAAAAQ', tu: 'AAI', z: 'ccd.tbB' })
  t.equal(ev['x-ga-mp2-cn2'], 'not_campaign', 'unknown params keep their value in the mp2 bucket')
})

t.test('sst.* and other x-ga keys', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=x&sst.tft=1718000000000&sst.etld=shop.example&sst.__proto__=bad&gcu=1&dma_cps=syphamo&em=tv.1~em.abc&ur=US&tt=internal&ir=1' }))
  t.strictSame(ev['x-sst-system_properties'], { tft: '1718000000000', etld: 'shop.example' })
  t.match(ev, { 'x-ga-gcu': '1', 'x-ga-dma_cps': 'syphamo', 'x-ga-em': 'tv.1~em.abc', 'x-ga-ur': 'US', 'x-ga-mp2-tt': 'internal', 'x-ga-mp2-ir': '1' })
})

t.test('ep.user_data.* becomes user_data', async t => {
  const q = 'en=purchase&ep.user_data.email=jane%40example.com&ep.user_data.phone_number=%2B15551234567&ep.user_data.address.0.first_name=Jane&ep.user_data.address.0.last_name=Doe&ep.user_data.address.0.city=Oslo&ep.user_data.address.0.postal_code=0150&ep.user_data.address.0.country=NO&ep.user_data.address.1.first_name=Other&ep.user_data._tag_mode=CODE&ep.user_data.sha256_email_address=abc'
  const [ev] = gtag.parse(snap({ query: q }))
  t.strictSame(ev.user_data, {
    email_address: 'jane@example.com',
    phone_number: '+15551234567',
    sha256_email_address: 'abc',
    address: { first_name: 'Jane', last_name: 'Doe', city: 'Oslo', postal_code: '0150', country: 'NO' }
  })
  t.equal(ev.params, undefined, 'user data never lands in params')
  const [flat] = gtag.parse(snap({ query: 'en=x&ep.user_data.address.street=Main%201&ep.user_data.email_address=a%40b.c' }))
  t.strictSame(flat.user_data, { email_address: 'a@b.c', address: { street: 'Main 1' } })
  const [none] = gtag.parse(snap({ query: 'en=x&ep.user_data._tag_mode=CODE' }))
  t.equal(none.user_data, undefined)
  // A bare `address` (a string where the model holds fields) is dropped, before or after its fields.
  for (const q of ['en=x&ep.user_data.address=x&ep.user_data.address.city=Paris', 'en=x&ep.user_data.address.city=Paris&ep.user_data.address=x']) {
    const [ev] = gtag.parse(snap({ query: q }))
    t.strictSame(ev.user_data, { address: { city: 'Paris' } }, q)
  }
})

t.test('consent: G100, G101, gcd variants and npa=1 on real hits', async t => {
  const c = (extra: string): unknown => gtag.parse(snap({ query: 'v=2&en=page_view&' + extra }))[0].consent
  t.strictSame(c('gcs=G100&gcd=13p3p3p2p5l1'), { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' })
  t.strictSame(c('gcs=G101&gcd=13p3t3p2p5l1'), { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied', ad_personalization: 'denied' })
  t.strictSame(c('gcs=G101&gcd=13l3l3l3l1l1'), { ad_storage: 'denied', analytics_storage: 'granted' })
  t.strictSame(c('gcs=G111&gcd=13l3l3l3l1l1&npa=1'), { ad_storage: 'granted', analytics_storage: 'granted', ad_personalization: 'denied' })
  t.equal(c('gcs=&npa=0'), undefined)
})

t.test('_uip from the browser is ignored, and dropped from the raw query', async t => {
  const query = 'v=2&en=page_view&_uip=198.51.100.9'
  const [ev] = gtag.parse(snap({ query }))
  t.equal(ev.ip_override, undefined)
  t.equal(ev['x-ga-mp2-_uip'], undefined)
  t.strictSame(ev['x-ga-raw'], { query: 'v=2&en=page_view' })
})

t.test('items are ordered by suffix; out-of-range and empty items are skipped', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=x&pr10=idJ&pr2=idB&pr1=idA&pr0=idZero&pr201=idTooFar&pr3=~~&pr200=idLast' }))
  t.strictSame(ev.items, [{ item_id: 'A' }, { item_id: 'B' }, { item_id: 'J' }, { item_id: 'Last' }])
  t.equal(ev['x-ga-mp2-pr0'], 'idZero')
})

t.test('repeated keys: the last one wins', async t => {
  t.equal(gtag.parse(snap({ query: 'en=a&en=b' }))[0].event_name, 'b')
})

t.test('non-numeric sct/_et are dropped rather than stored as NaN', async t => {
  const [ev] = gtag.parse(snap({ query: 'en=x&sct=&_et=abc&cid=&uid=&dr=' }))
  t.equal(ev.ga_session_number, undefined)
  t.equal(ev.engagement_time_msec, undefined)
  t.equal(ev.client_id, undefined)
  t.equal(ev.user_id, undefined)
  t.equal(ev.page_referrer, undefined)
})

t.test('x-ga-raw never keeps plain-text user data or a browser _uip', async t => {
  const { gtag } = await import('../../clients/gtag.js')
  const query = 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=sign_up&ep.user_data.email=jane%40example.com&_uip=1.2.3.4&ep.user%5Fdata.phone_number=%2B15551234567&ep.plan=pro'
  const [ev] = gtag.parse({ method: 'POST', path: '/g/collect', query, body: 'en=purchase&ep.user_data.address.0.first_name=Jane&epn.value=1', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })
  const raw = ev['x-ga-raw'] as { query: string, line: string }
  t.equal(raw.query, 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=sign_up&ep.plan=pro')
  t.equal(raw.line, 'en=purchase&epn.value=1')
  t.equal(ev.user_data?.email_address, 'jane@example.com', 'the data itself is kept in user_data')
  t.notMatch(JSON.stringify(ev['x-ga-raw']), /jane|5551234567|1\.2\.3\.4/i)

  // A key with a broken escape: URLSearchParams reads `ep.user_data.email_address%` (user data),
  // so the scrub must read it the same way.
  const broken = gtag.parse({ method: 'GET', path: '/g/collect', query: 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=sign_up&ep%2Euser_data.email_address%=alice@example.com&epn%2Euser_data.phone_number%FF=15551234567', body: '', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })[0]
  t.equal((broken['x-ga-raw'] as { query: string }).query, 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=sign_up', 'keys with broken escapes are scrubbed too')
  t.notMatch(JSON.stringify(broken['x-ga-raw']), /alice|5551234567/)

  // A body line of only user data keeps its event: GA4 reads no event in an empty line.
  const lines = gtag.parse({ method: 'POST', path: '/g/collect', query: 'v=2&tid=G-ABC123XYZ9&cid=1.2&en=sign_up', body: 'ep.user_data.email_address=alice%40example.com\nen=login', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })
  t.same(lines.map(e => [e.event_name, (e['x-ga-raw'] as { line: string }).line]), [['sign_up', 'en=sign_up'], ['login', 'en=login']])
})
