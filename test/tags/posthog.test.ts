import t from 'tap'
import { posthog, posthogUuid, posthogSessionId, POSTHOG_US_HOST, QUOTA_BACKOFF_MS } from '../../tags/posthog.js'
import { posthogExamples, EXAMPLE_CONTEXT } from '../../tags/posthog.examples.js'
import { tagTypes } from '../../tags/index.js'
import { runExamples } from './fixtures/examples.js'
import type { OutgoingRequest } from '../../tags/types.js'
import type { TaglineEvent } from '../../schemas/event.js'

t.test('examples', async t => {
  runExamples(t, posthog, posthogExamples, EXAMPLE_CONTEXT)
})

t.test('registered, with its secret and defaults', async t => {
  t.equal(tagTypes.posthog, posthog)
  t.same(posthog.secrets, ['apiKey'])
  t.same(posthog.defaults, { batch: { maxEvents: 100, maxWaitMs: 1000 }, consent: [] })
})

t.test('uuid is deterministic per (event_name, event_id) and a valid v5', async t => {
  const a = posthogUuid('purchase', 'T-1')
  t.equal(a, posthogUuid('purchase', 'T-1'), 'same input, same uuid')
  t.not(a, posthogUuid('purchase', 'T-2'), 'different event_id')
  t.not(a, posthogUuid('refund', 'T-1'), 'different event_name')
  t.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(posthogUuid('purchase', 'T-1'), 'b1b50c48-5dd9-55cf-bff4-029f45b9bc76', 'pinned: the namespace never changes')
})

t.test('the same event keeps its uuid and timestamp on retries and across batches', async t => {
  const e: TaglineEvent = { event_name: 'purchase', event_id: 'T-9', timestamp_ms: 1_768_000_000_000, client_id: 'c' }
  const first = JSON.parse(posthog.build([e], { apiKey: 'k' }, { now: 1_768_000_001_000, batchId: 'a', attempt: 1 }).requests[0].body!).batch[0]
  const later = JSON.parse(posthog.build([{ event_name: 'x', client_id: 'd' }, e], { apiKey: 'k' }, { now: 1_768_000_900_000, batchId: 'b', attempt: 3 }).requests[0].body!).batch[1]
  t.equal(later.uuid, first.uuid)
  t.equal(later.timestamp, first.timestamp)
})

t.test('an event without event_id still gets a stable uuid', async t => {
  const e: TaglineEvent = { event_name: 'click', timestamp_ms: 1_768_000_000_000, client_id: 'c' }
  const uuid = (ev: TaglineEvent): string => JSON.parse(posthog.build([ev], { apiKey: 'k' }, EXAMPLE_CONTEXT).requests[0].body!).batch[0].uuid
  t.equal(uuid(e), uuid({ ...e }))
  t.not(uuid(e), uuid({ ...e, timestamp_ms: 1_768_000_000_001 }))
})

t.test('session id: GA4 session start becomes a UUID v7 carrying that time', async t => {
  const sid = posthogSessionId('1768478000', 'client-a')
  t.match(sid, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(parseInt(sid.replace(/-/g, '').slice(0, 12), 16), 1768478000 * 1000, 'timestamp bits = session start')
  t.equal(sid, posthogSessionId('1768478000', 'client-a'), 'stable for the session')
  t.not(sid, posthogSessionId('1768478000', 'client-b'), 'two visitors starting the same second differ')
  t.equal(posthogSessionId('abc', 'client-a'), 'abc', 'a non-GA session id passes through')
})

t.test('prepare: no user_data survives', async t => {
  const e: TaglineEvent = {
    event_name: 'purchase',
    client_id: 'c',
    ip_override: '203.0.113.1',
    user_data: { email_address: 'a@b.example', phone_number: '+15555550100', address: { city: 'Paris' } }
  }
  const sent = posthog.prepare!(e, { apiKey: 'k' })
  t.notOk('user_data' in sent)
  t.equal(sent.ip_override, '203.0.113.1')
  t.notOk(JSON.stringify(sent).includes('a@b.example'))
  t.ok(e.user_data, 'the shared event is not mutated')
  const plain: TaglineEvent = { event_name: 'x', client_id: 'c' }
  t.equal(posthog.prepare!(plain, { apiKey: 'k' }), plain, 'nothing to drop: no copy')
})

t.test('build: person properties', async t => {
  const props = (e: Partial<TaglineEvent>, settings = {}): Record<string, unknown> =>
    JSON.parse(posthog.build([{ event_name: 'x', client_id: 'c', ...e }], { apiKey: 'k', ...settings }, EXAMPLE_CONTEXT).requests[0].body!).batch[0].properties
  const user_properties = { plan: 'pro' }
  t.same(props({ user_properties }).$set, { plan: 'pro' }, 'no consent signal: sent')
  t.same(props({ user_properties, consent: { ad_storage: 'denied', ad_user_data: 'denied' } }).$set, { plan: 'pro' }, 'ad consent does not gate analytics person data')
  t.equal(props({ user_properties, consent: { analytics_storage: 'denied' } }).$set, undefined, 'analytics denied: not sent')
  t.equal(props({ user_properties }, { personProperties: false }).$set, undefined, 'personProperties false: not sent')
  t.equal(props({ user_properties: {} }).$set, undefined, 'empty: not sent')
  t.equal(props({ params: { $set_once: { a: 1 }, $ip: '1.2.3.4' } }).$set_once, undefined, 'params cannot smuggle person data')
  t.equal(props({ params: { $ip: '1.2.3.4' } }).$ip, undefined, 'params cannot smuggle an IP')
})

t.test('build: IP, URL pieces, screen, user_id over client_id', async t => {
  const one = (e: Partial<TaglineEvent>, settings = {}): Record<string, any> =>
    JSON.parse(posthog.build([{ event_name: 'x', client_id: 'c', ...e }], { apiKey: 'k', ...settings }, EXAMPLE_CONTEXT).requests[0].body!).batch[0]
  t.equal(one({ ip_override: '198.51.100.2' }).properties.$ip, '198.51.100.2')
  t.equal(one({ ip_override: '198.51.100.2' }).properties.$geoip_disable, undefined)
  const omitted = one({}).properties // what `ip: none` leaves
  t.equal(omitted.$ip, undefined)
  t.equal(omitted.$geoip_disable, true, 'no IP: PostHog must not locate the gateway')
  const p = one({ page_location: 'https://a.example:8443/p/q?x=1', screen_resolution: '390x844' }).properties
  t.equal(p.$host, 'a.example:8443')
  t.equal(p.$pathname, '/p/q')
  t.equal(p.$screen_width, 390)
  t.equal(p.$screen_height, 844)
  t.equal(one({ page_location: 'not a url', page_hostname: 'h.example', page_path: '/x' }).properties.$host, 'h.example')
  t.equal(one({ user_id: 'u' }).distinct_id, 'u')
  t.equal(one({ event_name: 'page_view' }).event, '$pageview')
  t.equal(one({ event_name: 'purchase' }).event, 'purchase')
})

t.test('build: timestamps', async t => {
  const item = (e: Partial<TaglineEvent>): Record<string, unknown> =>
    JSON.parse(posthog.build([{ event_name: 'x', client_id: 'c', ...e }], { apiKey: 'k' }, EXAMPLE_CONTEXT).requests[0].body!).batch[0]
  t.equal(item({ source: { client: 'gtag', request_id: 'r', received_ms: 0, trusted: false } }).timestamp, '1970-01-01T00:00:00.000Z', 'falls back to received time')
  t.equal(item({ timestamp_ms: 1e300 }).timestamp, undefined, 'an unrepresentable time is left to PostHog rather than throwing')
  const justUnder = posthog.build([{ event_name: 'x', client_id: 'c', timestamp_ms: EXAMPLE_CONTEXT.now - 48 * 3_600_000 + 1 }], { apiKey: 'k' }, EXAMPLE_CONTEXT)
  t.notOk(JSON.parse(justUnder.requests[0].body!).historical_migration, 'just under 48 h: real time')
  const at = posthog.build([{ event_name: 'x', client_id: 'c', timestamp_ms: EXAMPLE_CONTEXT.now - 48 * 3_600_000 }], { apiKey: 'k' }, EXAMPLE_CONTEXT)
  t.equal(JSON.parse(at.requests[0].body!).historical_migration, true, '48 h: historical')
})

t.test('build: default host, nothing to send', async t => {
  t.equal(posthog.build([{ event_name: 'x', client_id: 'c' }], { apiKey: 'k' }, EXAMPLE_CONTEXT).requests[0].url, `${POSTHOG_US_HOST}/batch/`)
  t.same(posthog.build([], { apiKey: 'k' }, EXAMPLE_CONTEXT), { requests: [] })
})

t.test('classify', async t => {
  const req: OutgoingRequest = { method: 'POST', url: 'x', headers: {}, events: [0] }
  const c = (status: number, body = '') => posthog.classify({ status, headers: {}, body }, req)
  t.same(c(200, '{"status":1}'), { kind: 'ok' })
  t.same(c(204), { kind: 'ok' })
  t.match(c(400, 'missing distinct_id'), { kind: 'drop', reason: /400.*distinct_id/ })
  t.match(c(401, 'invalid api key'), { kind: 'credentials', reason: /401/ })
  t.match(c(429, '{"quota_limited":["events"]}'), { kind: 'retry', reason: /billing quota.*quota_limited/, retryAfterMs: QUOTA_BACKOFF_MS })
  for (const s of [500, 502, 503, 504]) t.equal(c(s).kind, 'retry', `${s} retries`)
})
