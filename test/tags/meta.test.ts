import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { meta, MetaSettings, MAX_EVENTS, META_API_VERSION } from '../../tags/meta.js'
import { metaExamples, EXAMPLE_CONTEXT } from '../../tags/meta.examples.js'
import { sha256Hex } from '../../tags/pii.js'
import { tagTypes } from '../../tags/index.js'
import { runExamples } from './fixtures/examples.js'
import type { BuildResult, OutgoingRequest, Classification, TagResponse } from '../../tags/types.js'
import type { TaglineEvent } from '../../schemas/event.js'

const NOW = EXAMPLE_CONTEXT.now
const S = { pixelId: '1234567890', accessToken: 'tok', defaultCountry: 'US' }
const UA = 'Mozilla/5.0 (X11; Linux x86_64)'
// Bodies compared as JSON values: the examples are about content, not key order.
const readable = (r: BuildResult): unknown => ({ ...r, requests: r.requests.map(q => ({ ...q, body: JSON.parse(q.body ?? 'null') })) })
const build = (events: TaglineEvent[], settings: Record<string, unknown> = S): BuildResult => meta.build(events, settings as any, EXAMPLE_CONTEXT)
const ev = (extra: Partial<TaglineEvent> = {}): TaglineEvent =>
  ({ event_name: 'page_view', event_id: 'e1', timestamp_ms: NOW, page_location: 'https://shop.example/', user_agent: UA, ...extra })
const sent = (r: BuildResult, i = 0): any => JSON.parse(r.requests[0].body!).data[i]

t.test('examples', async t => {
  runExamples(t, meta, metaExamples, EXAMPLE_CONTEXT)
})

t.test('build hashes again (idempotently): the examples unprepared give the same requests', async t => {
  // So an event that skipped prepare still sends no raw PII.
  for (const ex of metaExamples) {
    t.strictSame(readable(meta.build(ex.events, ex.settings, EXAMPLE_CONTEXT)), readable(ex.expected), `${ex.name} (unprepared)`)
  }
})

t.test('registered, with its secret, category and defaults', async t => {
  t.equal(tagTypes.meta, meta)
  t.equal(meta.category, 'ads', 'Sec-GPC opts out of it')
  t.same(meta.secrets, ['accessToken'])
  t.same(meta.defaults, { batch: { maxEvents: 1000, maxWaitMs: 1000 }, consent: ['ad_storage', 'ad_user_data'] })
  t.notOk(Value.Check(MetaSettings, { pixelId: 'px-12', accessToken: 'x' }), 'pixel id is digits')
  t.notOk(Value.Check(MetaSettings, { pixelId: '1' }), 'accessToken required')
  t.notOk(Value.Check(MetaSettings, { ...S, apiVersion: '25' }), 'apiVersion is vNN.N')
  t.notOk(Value.Check(MetaSettings, { ...S, actionSource: 'web' }), 'actionSource is one of Meta\'s values')
  t.notOk(Value.Check(MetaSettings, { ...S, extra: 1 }), 'no extra settings')
  t.ok(Value.Check(MetaSettings, { ...S, apiVersion: 'v26.0', actionSource: 'system_generated', testEventCode: '', eventNames: { login: 'Login', page_view: '' }, customEvents: true, limitedDataUse: false }))
})

t.test('prepare: only Meta hashes survive', async t => {
  const e: TaglineEvent = {
    event_name: 'purchase',
    user_id: 'Cust 42',
    user_data: {
      email_address: 'Mary.Smith@Example.com',
      phone_number: '(650)555-1212',
      gender: 'Female',
      date_of_birth: '2/16/1997',
      address: { first_name: 'Mary', last_name: 'Smith', street: '1 Main St', city: 'New York', region: 'New York', postal_code: '10001-1234', country: 'US' }
    }
  }
  const p = meta.prepare!(e, S)
  const json = JSON.stringify(p)
  for (const raw of ['Mary', 'mary', 'Smith', 'Example.com', '650', '555-1212', 'New York', 'Main', '10001', 'Cust 42', '1997']) t.notOk(json.includes(raw), `no ${raw}`)
  t.notOk('user_id' in p, 'user_id leaves as the hashed external_id')
  t.equal(p.user_data?.sha256_phone_number, sha256Hex('16505551212'), 'Meta\'s vector: (650)555-1212 → 16505551212, no +')
  t.equal(p.user_data?.sha256_email_address, sha256Hex('mary.smith@example.com'))
  t.equal(p.user_data?.sha256_external_id, sha256Hex('cust42'))
  t.equal(p.user_data?.address?.sha256_region, sha256Hex('ny'))
  t.equal(p.user_data?.address?.sha256_postal_code, sha256Hex('10001'))
  for (const [k, v] of Object.entries(p.user_data ?? {})) if (k !== 'address') t.match(v, /^[a-f0-9]{64}$/, k)
  t.ok(e.user_data?.email_address, 'the shared event is not mutated')
  const phone = meta.prepare!({ event_name: 'x', user_data: { phone_number: '(650)555-1212' } }, S)
  t.equal(phone.user_data?.sha256_phone_number, 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176', 'defaultCountry US')
  const plain = ev()
  t.equal(meta.prepare!(plain, S), plain, 'nothing to hash: no copy')
  t.same(meta.prepare!({ event_name: 'x', user_data: { email_address: 'not an email' } }, S), { event_name: 'x' }, 'nothing usable: user_data dropped')
  const explicit = meta.prepare!({ event_name: 'x', user_id: 'u1', user_data: { external_id: 'crm-9' } }, S)
  t.equal(explicit.user_data?.sha256_external_id, sha256Hex('crm-9'), 'an explicit external_id beats user_id')
  t.equal(explicit.user_id, 'u1', 'the user id is kept then, for erasure by user id (it is not sent)')
  const sent = build([meta.prepare!(ev({ user_id: 'u1', user_data: { external_id: 'crm-9' } }), S)]).requests[0].body as string
  t.match(sent, sha256Hex('crm-9'))
  t.notMatch(sent, /u1/, 'never sent')
})

t.test('build: the rules Meta would otherwise enforce on the whole request', async t => {
  const noUa = build([ev({ user_agent: undefined })])
  t.same(noUa.requests, [])
  t.match(noUa.rejected?.[0].reason, /client_user_agent/)
  t.match(build([ev({ page_location: undefined })]).rejected?.[0].reason, /event_source_url/)
  const system = build([ev({ user_agent: undefined, page_location: undefined, ip_override: '198.51.100.1' })], { ...S, actionSource: 'system_generated' })
  t.equal(sent(system).action_source, 'system_generated', 'other action sources need neither')
  const own = build([ev({ user_agent: undefined, ip_override: '198.51.100.1', params: { action_source: 'physical_store' } })])
  t.equal(sent(own).action_source, 'physical_store', 'an event may carry its own action_source')
  t.notOk('custom_data' in sent(own), 'which is not custom data')
  t.same(build([ev({ timestamp_ms: NOW - 30 * 86_400_000, params: { action_source: 'physical_store' }, ip_override: '198.51.100.1' })]).rejected, undefined, 'physical_store: 62 days')
  t.match(build([ev({ params: { action_source: 'bogus' }, user_agent: undefined })]).rejected?.[0].reason, /client_user_agent/, 'an unknown action_source is ignored')
  t.match(build([ev({ user_agent: undefined, page_location: undefined })], { ...S, actionSource: 'email' }).rejected?.[0].reason, /at least one customer information/)
  t.match(build([ev({ event_name: 'purchase', currency: 'EUR' })]).rejected?.[0].reason, /requires a value for Purchase/)
  t.same(build([ev({ timestamp_ms: NOW - 6.9 * 86_400_000 })]).rejected, undefined, 'inside the window')
  t.same(build([ev({ timestamp_ms: undefined, source: { client: 'json', request_id: 'r', received_ms: NOW - 8 * 86_400_000, trusted: true } })]).requests, [], 'no timestamp: the receive time counts')
  t.equal(sent(build([ev({ timestamp_ms: undefined })])).event_time, NOW / 1000, 'no time at all: now')
})

t.test('build: names, skips and custom events', async t => {
  t.match(build([ev()], { ...S, eventNames: { page_view: '' } }).rejected?.[0].reason, /maps it to '' \(skip\)/)
  const custom = build([ev({ event_name: 'scroll', params: { percent_scrolled: 90, _internal: 1, nested: { a: 1 }, debug_mode: true } })], { ...S, customEvents: true })
  t.equal(sent(custom).event_name, 'scroll')
  t.same(sent(custom).custom_data, { percent_scrolled: 90 }, 'scalar params only, no housekeeping')
  const contact = build([ev({ event_name: 'lead_form', params: { form: 'newsletter', email: 'jane@example.com', Phone_Number: '+15551234567' } })], { ...S, customEvents: true })
  t.same(sent(contact).custom_data, { form: 'newsletter' }, 'contact details by name never go as custom_data (only hashed, in user_data)')
  const standard = sent(build([ev({ event_name: 'search', params: { search_term: 'red shoes', form_field: 'secret', content_category: 'Shoes' } })]))
  t.equal(standard.event_name, 'Search')
  t.same(standard.custom_data, { content_category: 'Shoes', search_string: 'red shoes' }, 'standard events: documented keys only')
  t.same(sent(build([ev({ event_name: 'add_to_cart', value: 12 })])).custom_data, undefined, 'a value without currency is left out, not guessed')
  t.equal(sent(build([ev({ consent: { ad_personalization: 'denied' } })])).opt_out, true, 'no ad personalisation: attribution only')
  t.notOk('opt_out' in sent(build([ev({ consent: { ad_personalization: 'granted' } })])))
  t.notOk('test_event_code' in JSON.parse(build([ev()], { ...S, testEventCode: '' }).requests[0].body!), 'empty testEventCode = none')
})

t.test('build: access token in the body only, ≤ 1000 events a request, indices kept', async t => {
  const events = Array.from({ length: 2003 }, (_, i) => ev({ event_id: `e${i}`, event_name: i === 5 ? 'scroll' : 'page_view' }))
  const r = build(events)
  t.same(r.requests.map(q => q.events.length), [MAX_EVENTS, MAX_EVENTS, 2])
  t.same(r.rejected?.map(x => x.index), [5])
  t.equal(r.requests[0].events[5], 6, 'indices skip the rejected event')
  t.equal(r.requests[2].events[1], 2002)
  for (const q of r.requests) {
    t.notOk(q.url.includes('tok'), 'no token in the URL')
    t.equal(JSON.parse(q.body!).access_token, 'tok')
    t.equal(JSON.parse(q.body!).data.length, q.events.length)
  }
  t.equal(r.requests[0].url, `https://graph.facebook.com/${META_API_VERSION}/1234567890/events`)
})

// ---- classify ----

const req = (n: number): OutgoingRequest => ({ method: 'POST', url: `https://graph.facebook.com/${META_API_VERSION}/1/events`, headers: {}, body: '{}', events: Array.from({ length: n }, (_, i) => i) })
const answer = (status: number, body: unknown, headers: TagResponse['headers'] = {}): TagResponse =>
  ({ status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
const error = (code: number, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ error: { message: `message ${code}`, type: 'OAuthException', code, is_transient: false, fbtrace_id: 'AbC123', ...extra } })
const kind = (status: number, body: unknown, n = 2): Classification['kind'] => meta.classify(answer(status, body), req(n)).kind

t.test('classify: success', async t => {
  t.same(meta.classify(answer(200, { events_received: 2, messages: [], fbtrace_id: 'X' }), req(2)), { kind: 'ok' })
  t.equal(kind(200, ''), 'ok', 'a 2xx without an error envelope (a gateway) is ok')
})

t.test('classify: transient and throttling errors retry', async t => {
  t.equal(kind(400, error(100, { is_transient: true })), 'retry', 'is_transient: true wins over the code')
  t.equal(kind(500, error(190, { is_transient: true })), 'retry')
  for (const code of [1, 2, 4, 17, 32, 341, 368, 613, 80000, 80001, 80003, 80004, 80014]) {
    t.equal(kind(code === 2 ? 500 : 400, error(code)), 'retry', `code ${code}`)
  }
  const usage = { 'x-business-use-case-usage': JSON.stringify({ 987: [{ type: 'ads_management', call_count: 100, estimated_time_to_regain_access: 7 }] }) }
  const buc = meta.classify(answer(400, error(80004), usage), req(2))
  t.same(buc.kind === 'retry' && buc.retryAfterMs, 7 * 60_000, 'estimated_time_to_regain_access (minutes) sets the floor')
  const blocked = meta.classify(answer(400, error(368)), req(1))
  t.same(blocked.kind === 'retry' && blocked.retryAfterMs, 15 * 60_000, '368: a long floor')
  const plain = meta.classify(answer(500, error(1)), req(1))
  t.notOk(plain.kind === 'retry' && plain.retryAfterMs !== undefined, 'no floor without a reason for one')
})

t.test('classify: invalid parameters split a batch, drop a single event', async t => {
  const tooOld = error(100, { message: 'Invalid parameter', error_subcode: 2804003, error_user_title: 'Event Timestamp Too Old', error_user_msg: 'The timestamp for this event is too far in the past.' })
  const split = meta.classify(answer(400, tooOld), req(3))
  t.equal(split.kind, 'split')
  t.equal(split.kind !== 'ok' && split.reason, 'HTTP 400; Meta error 100/2804003 (OAuthException): Invalid parameter; Event Timestamp Too Old: The timestamp for this event is too far in the past.; fbtrace_id AbC123')
  t.equal(kind(400, tooOld, 1), 'drop')
  t.equal(kind(400, error(100), 2), 'split', '100 without a subcode')
  t.equal(kind(400, error(100), 1), 'drop')
  t.match(meta.classify(answer(400, error(100, { error_subcode: null })), req(1)), { reason: /Meta error 100 \(OAuthException\): message 100;/ }, 'a null subcode is no subcode')
  t.equal(kind(400, error(999), 2), 'split', 'an unknown permanent refusal may be one event: split')
  t.equal(kind(400, error(999), 1), 'drop')
})

t.test('classify: setup errors refuse the credentials, not the events: the tag pauses', async t => {
  for (const code of [190, 102, 10, 200, 270, 299, 3]) {
    const o = meta.classify(answer(400, error(code, { error_subcode: code === 190 ? 463 : undefined })), req(5))
    t.equal(o.kind, 'credentials', `code ${code}`)
    t.match(o.kind === 'credentials' && o.reason, /check the access token/)
  }
  t.equal(kind(400, error(100, { error_subcode: 33 }), 5), 'credentials', '100/33: the pixel does not exist or the token cannot see it')
  t.equal(kind(500, error(190)), 'credentials', 'a setup error is a setup error whatever the status')
})

t.test('classify: no Meta envelope falls back to the HTTP status', async t => {
  t.equal(kind(502, '<html><body>Bad Gateway</body></html>'), 'retry')
  t.equal(kind(503, ''), 'retry')
  t.equal(kind(500, { error: 'oops' }), 'retry', 'error that is not an object')
  t.equal(kind(429, 'slow down'), 'retry')
  t.equal(kind(404, '<html>Not Found</html>'), 'drop', 'a wrong endpoint stays wrong')
  t.equal(kind(500, error(7777, { is_transient: undefined })), 'retry', 'an unknown code on a 5xx retries')
  t.match(meta.classify(answer(502, '<html>Bad Gateway</html>'), req(2)), { reason: /HTTP 502: <html>Bad Gateway/ })
})

t.test('an absurd event time is refused on its own, never failing the batch', async t => {
  const base = { event_name: 'purchase', value: 1, currency: 'EUR', user_agent: 'UA', page_location: 'https://a.example/', user_data: { sha256_email_address: 'a'.repeat(64) } }
  const out = meta.build([
    { ...base, event_id: 'bad', timestamp_ms: -1e300 },
    { ...base, event_id: 'good', timestamp_ms: EXAMPLE_CONTEXT.now - 1000 }
  ], { pixelId: '1234567890', accessToken: 'tok' }, EXAMPLE_CONTEXT)
  t.equal(out.rejected?.length, 1)
  t.equal(out.rejected?.[0].index, 0)
  t.match(out.rejected?.[0].reason, /at most 7 days old .* days old$/)
  t.same(out.requests.map(r => r.events), [[1]], 'the good event is still sent')
})

t.test('identity.dateOrder: an ambiguous date of birth is read as the shop says', async t => {
  const dob = (ctx: Record<string, unknown>): string | undefined => meta.prepare!(ev({ user_data: { date_of_birth: '03/04/1990' } }), S, ctx).user_data?.sha256_date_of_birth
  t.equal(dob({}), sha256Hex('19900304'), 'month first by default (US)')
  t.equal(dob({ dateOrder: 'dmy' }), sha256Hex('19900403'), 'dmy: 3 April')
  t.equal(meta.prepare!(ev({ user_data: { date_of_birth: '25/04/1990' } }), S, {}).user_data?.sha256_date_of_birth, sha256Hex('19900425'), 'a day past 12 is read as a day either way')
})
