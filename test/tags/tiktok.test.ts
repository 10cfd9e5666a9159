import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { tiktok, TiktokSettings, TIKTOK_URL, TIKTOK_MAX_EVENTS } from '../../tags/tiktok.js'
import { tiktokExamples, EXAMPLE_CONTEXT } from '../../tags/tiktok.examples.js'
import { sha256Hex } from '../../tags/pii.js'
import { tagTypes } from '../../tags/index.js'
import { runExamples } from './fixtures/examples.js'
import type { OutgoingRequest, Classification } from '../../tags/types.js'
import type { TaglineEvent } from '../../schemas/event.js'

const NOW = EXAMPLE_CONTEXT.now
const S = { pixelCode: 'C0PIXEL', accessToken: 'tok-123456' }
const build = (events: TaglineEvent[], settings: Record<string, unknown> = S) => tiktok.build(events.map(e => tiktok.prepare!(e, settings as any)), settings as any, EXAMPLE_CONTEXT)
const first = (e: Partial<TaglineEvent>, settings: Record<string, unknown> = S): any =>
  JSON.parse(build([{ event_name: 'purchase', currency: 'USD', timestamp_ms: NOW, ...e }], settings).requests[0].body!).data[0]

t.test('examples', async t => {
  runExamples(t, tiktok, tiktokExamples, EXAMPLE_CONTEXT)
})

t.test('registered, with its secret, category and defaults', async t => {
  t.equal(tagTypes.tiktok, tiktok)
  t.equal(tiktok.category, 'ads', 'Sec-GPC opts out of it')
  t.same(tiktok.secrets, ['accessToken'])
  t.same(tiktok.defaults, { batch: { maxEvents: 1000, maxWaitMs: 1000 }, consent: ['ad_storage', 'ad_user_data'] })
  t.notOk(Value.Check(TiktokSettings, { pixelCode: 'C0' }), 'accessToken required')
  t.notOk(Value.Check(TiktokSettings, { accessToken: 'x' }), 'pixelCode required')
  t.notOk(Value.Check(TiktokSettings, { ...S, extra: 1 }), 'no extra settings')
  t.notOk(Value.Check(TiktokSettings, { ...S, defaultCountry: 'USA' }), 'defaultCountry is alpha-2')
})

t.test('prepare: only digests survive; phone hashed as E.164 with +', async t => {
  const e: TaglineEvent = {
    event_name: 'purchase',
    user_id: 'U-1',
    user_data: {
      email_address: 'Someone@Example.com',
      phone_number: '+1 (650) 555-1212',
      gender: 'female',
      address: { first_name: 'Zoë', last_name: 'Ng', street: '1 Main St', city: 'San Francisco', region: 'California', postal_code: '94105', country: 'United States' }
    }
  }
  const p = tiktok.prepare!(e, S)
  const json = JSON.stringify(p)
  for (const raw of ['Someone', 'someone@example.com', '650', 'Zoë', 'Main', '94105']) t.notOk(json.toLowerCase().includes(raw.toLowerCase()), `no "${raw}"`)
  t.equal(p.user_data?.sha256_phone_number, '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8', 'reference vector: sha256("+16505551212")')
  t.not(p.user_data?.sha256_phone_number, sha256Hex('16505551212'), 'differs from Meta\'s digits-only hash')
  t.equal(p.user_data?.sha256_external_id, sha256Hex('U-1'), 'user_id → external_id (trimmed, case kept: TikTok\'s template does not lower-case it)')
  t.same(p.user_data?.address && { city: p.user_data.address.city, region: p.user_data.address.region, country: p.user_data.address.country },
    { city: 'sanfrancisco', region: 'ca', country: 'us' }, 'city/region/country stay cleartext, normalised')
  t.equal(e.user_data?.email_address, 'Someone@Example.com', 'the shared event is not mutated')
  t.equal(e.user_data?.external_id, undefined)

  const own = tiktok.prepare!({ event_name: 'x', user_id: 'u-2', user_data: { external_id: 'crm-9' } }, S)
  t.equal(own.user_data?.sha256_external_id, sha256Hex('crm-9'), 'an explicit external_id wins over user_id')
  const national = tiktok.prepare!({ event_name: 'x', user_data: { phone_number: '0151 12345678' } }, { ...S, defaultCountry: 'DE' })
  t.equal(national.user_data?.sha256_phone_number, sha256Hex('+4915112345678'), 'defaultCountry supplies the calling code')
  // TikTok's template: "If the country code is 86, then do not include country code (example: 13800000000)".
  const china = tiktok.prepare!({ event_name: 'x', user_data: { phone_number: '+86 138 0013 8000' } }, S)
  t.equal(china.user_data?.sha256_phone_number, sha256Hex('13800138000'), '+86: hashed without its country code')
  const drops: string[] = []
  const lost = tiktok.prepare!({ event_name: 'x', user_data: { phone_number: '07700 900123', email_address: 'a@b.co' } }, S, { dropped: (f, r) => drops.push(`${f}:${r}`) })
  t.same(drops, ['phone_number:no_country'], 'a national number with no country is reported, not guessed')
  t.same(Object.keys(lost.user_data ?? {}), ['sha256_email_address'])
  const plain: TaglineEvent = { event_name: 'x', client_id: 'c' }
  t.equal(tiktok.prepare!(plain, S), plain, 'nothing to hash: no copy')
  t.notOk('user_data' in tiktok.prepare!({ event_name: 'x', user_data: { email_address: 'not an email' } }, S), 'nothing usable: user_data dropped')
  const hostile = { event_name: 'x', user_data: new Proxy({}, { ownKeys () { throw new Error('boom') } }) } as TaglineEvent
  t.notOk('user_data' in tiktok.prepare!(hostile, S), 'a hostile user_data object is dropped, the event kept')
})

t.test('build: raw PII never leaves, even without prepare', async t => {
  const r = tiktok.build([{ event_name: 'sign_up', timestamp_ms: NOW, user_data: { email_address: 'a@b.example', sha256_phone_number: 'not a hash', address: { sha256_city: sha256Hex('paris') } } }], S, EXAMPLE_CONTEXT)
  const body = r.requests[0].body!
  t.notOk(body.includes('a@b.example'))
  t.notOk(body.includes('not a hash'))
  t.notOk(JSON.parse(body).data[0].user, 'no usable key: no user object (a hashed city is useless to TikTok)')
})

t.test('build: headers, URL, body head', async t => {
  const [r] = build([{ event_name: 'sign_up', timestamp_ms: NOW }]).requests
  t.equal(r.url, TIKTOK_URL)
  t.same(r.headers, { 'Access-Token': 'tok-123456', 'content-type': 'application/json' }, 'raw token, no Bearer')
  const body = JSON.parse(r.body!)
  t.equal(body.event_source, 'web')
  t.equal(body.event_source_id, 'C0PIXEL')
  t.notOk('test_event_code' in body)
  t.notOk('partner_name' in body, 'TikTok validates partner_name (40063): never sent')
})

t.test('build: at most 1000 events a request, indices follow', async t => {
  const events: TaglineEvent[] = Array.from({ length: 2003 }, (_, i) => ({ event_name: i === 5 ? 'page_view' : 'add_to_cart', event_id: `e${i}`, timestamp_ms: NOW }))
  const r = build(events)
  t.same(r.requests.map(q => q.events.length), [TIKTOK_MAX_EVENTS, TIKTOK_MAX_EVENTS, 2])
  t.same(r.requests[0].events.slice(4, 7), [4, 6, 7], 'the rejected event is skipped')
  t.equal(r.requests[2].events.at(-1), 2002)
  t.same(r.requests.map(q => JSON.parse(q.body!).data.length), [1000, 1000, 2])
  t.same(r.rejected, [{ index: 5, reason: 'no TikTok event for page_view' }])
  t.same(tiktok.build([], S, EXAMPLE_CONTEXT), { requests: [] })
})

t.test('build: event names', async t => {
  const one = (event_name: string, settings: Record<string, unknown> = S) => build([{ event_name, timestamp_ms: NOW }], settings)
  t.same(one('level_up').rejected, [{ index: 0, reason: 'no TikTok event for level_up' }])
  t.equal(JSON.parse(one('level_up', { ...S, customEvents: true }).requests[0].body!).data[0].event, 'level_up', 'customEvents: own name')
  t.same(one('purchase', { ...S, eventNames: { purchase: '' } }).rejected, [{ index: 0, reason: 'eventNames maps purchase to "" (skipped)' }])
  t.equal(JSON.parse(one('file_download').requests[0].body!).data[0].event, 'Download')
})

t.test('build: time', async t => {
  t.equal(first({ timestamp_ms: NOW + 3_600_000 }).event_time, NOW / 1000, 'a future time (browser clock ahead) is clamped to now')
  t.equal(first({ timestamp_ms: undefined }).event_time, NOW / 1000, 'no time at all: now')
  t.equal(first({ timestamp_ms: NOW - 7 * 86_400_000 }).event_time, NOW / 1000 - 7 * 86_400, 'exactly 7 days: still sent')
  t.equal(build([{ event_name: 'sign_up', timestamp_ms: NOW - 7 * 86_400_000 - 1 }]).rejected?.length, 1, 'a millisecond more: refused')
  t.match(build([{ event_name: 'sign_up', timestamp_ms: -1e300 }]).rejected?.[0].reason, /7 days late; this one is .* days old$/, 'an absurd time does not throw')
})

t.test('build: properties', async t => {
  t.notOk(first({ event_name: 'add_to_cart', currency: undefined, value: 5 }).properties, 'no currency on a non-purchase: the value is left out, the event sent')
  t.equal(first({ currency: undefined, items: [{ item_id: 'a', price: 2, currency: 'chf' } as any] }).properties.currency, 'CHF', 'currency from the items')
  t.same(build([{ event_name: 'purchase', timestamp_ms: NOW, items: [{ item_id: 'a', price: 2 }] }]).rejected?.[0].index, 0, 'a value computed from items also needs a currency')
  t.equal(first({ value: undefined }).properties.currency, 'USD', 'a purchase without value is sent')
  t.notOk(first({ items: [{ item_name: 'no id' }] }).properties.contents, 'items without an id are not contents')
  t.notOk(first({ items: [{ item_name: 'no id' }] }).properties.content_type, 'content_type only with contents')
  t.equal(first({ event_id: 'T-1' }).event_id, 'T-1')
  t.notOk('event_id' in first({}), 'no event_id: TikTok falls back to ttp for dedup')
})

t.test('build: locale', async t => {
  t.equal(first({ language: 'fr-ca' }).user.locale, 'fr-CA')
  t.equal(first({ language: 'de' }).user.locale, 'de')
  t.equal(first({ language: 'zh_hant_tw' }).user.locale, 'zh_hant_tw', 'anything else as given')
})

t.test('classify', async t => {
  const one: OutgoingRequest = { method: 'POST', url: TIKTOK_URL, headers: {}, events: [0] }
  const many: OutgoingRequest = { ...one, events: [0, 1, 2] }
  const c = (code: number | undefined, req = many, status = 200, message = 'msg'): Classification =>
    tiktok.classify({ status, headers: {}, body: code === undefined ? '' : JSON.stringify({ code, message, request_id: 'rq-1', data: {} }) }, req)

  t.same(c(0), { kind: 'ok' })
  t.same(c(20001), { kind: 'ok' }, 'partial success')
  for (const code of [40100, 40132, 50000, 50002, 51000, 51021, 51038]) {
    t.same(c(code), { kind: 'retry', reason: `TikTok code ${code}: msg (request_id rq-1)` }, `${code} retries`)
  }
  for (const code of [40000, 40002, 40004, 40061, 40062, 40063]) {
    t.same(c(code), { kind: 'split', reason: `TikTok code ${code}: msg (request_id rq-1)` }, `${code} with 3 events: split`)
    t.same(c(code, one), { kind: 'drop', reason: `TikTok code ${code}: msg (request_id rq-1)` }, `${code} with 1 event: drop`)
  }
  for (const code of [40102, 40104, 40105]) {
    for (const req of [one, many]) t.match(c(code, req), { kind: 'credentials', reason: new RegExp(`^TikTok code ${code}: msg \\(request_id rq-1\\); the accessToken .* Events Manager`) }, `${code}: fix the token`)
  }
  for (const code of [40001, 40003]) t.match(c(code), { kind: 'credentials', reason: /no permission/ }, `${code}: permission, no split`)
  t.match(c(41234), { kind: 'retry', reason: /unknown code/ })
  t.same(tiktok.classify({ status: 200, headers: {}, body: '{"code":40002}' }, one), { kind: 'drop', reason: 'TikTok code 40002' }, 'no message or request id')

  t.match(c(undefined, many, 429), { kind: 'retry', reason: /^HTTP 429/ })
  t.match(c(0, many, 500), { kind: 'retry', reason: /^HTTP 500/ }, 'HTTP 5xx retries whatever the body')
  t.match(c(undefined, many, 503), { kind: 'retry' })
  const html = '<html><body>Service Unavailable</body></html>'
  t.match(tiktok.classify({ status: 200, headers: {}, body: html }, many), { kind: 'retry', reason: /not a TikTok answer.*Service Unavailable/ }, 'HTML body with 200')
  t.match(tiktok.classify({ status: 200, headers: {}, body: '{"ok":true}' }, many), { kind: 'retry' }, 'JSON without a code')
  t.match(tiktok.classify({ status: 404, headers: {}, body: html }, many), { kind: 'drop', reason: /^HTTP 404/ }, 'HTML 404: wrong endpoint, dropped')
  t.same(c(40105, one, 401), c(40105, one), 'a JSON code decides even on a 4xx status')
})
