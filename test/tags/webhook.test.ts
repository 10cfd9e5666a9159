import t from 'tap'
import { createHash } from 'node:crypto'
import { webhook, signWebhook } from '../../tags/webhook.js'
import { log } from '../../tags/log.js'
import { webhookExamples, EXAMPLE_CONTEXT } from '../../tags/webhook.examples.js'
import { runExamples } from './fixtures/examples.js'
import { WHSEC } from '../fixtures/standard-webhooks.js'

t.test('signature matches the Standard Webhooks reference vector', async t => {
  t.equal(
    signWebhook(WHSEC, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
  )
})

t.test('build: one signed request per batch, id stable across attempts', async t => {
  const events = [{ event_name: 'purchase', event_id: 'T1', value: 10 }, { event_name: 'page_view', event_id: 'e2' }]
  const settings = { url: 'https://crm.example/hook', secret: WHSEC, headers: { 'x-team': 'growth' } }
  const a = webhook.build(events, settings, { now: 1_700_000_000_500, batchId: 'b1', attempt: 1 })
  const b = webhook.build(events, settings, { now: 1_700_000_060_000, batchId: 'b1', attempt: 2 })
  t.equal(a.requests.length, 1)
  const [ra] = a.requests
  const [rb] = b.requests
  t.same(ra.events, [0, 1])
  t.equal(ra.method, 'POST')
  t.equal(ra.url, 'https://crm.example/hook')
  t.same(JSON.parse(ra.body!), { events })
  t.equal(ra.headers['webhook-id'], 'msg_b1')
  t.equal(rb.headers['webhook-id'], 'msg_b1', 'same id on retry')
  t.equal(ra.headers['webhook-timestamp'], '1700000000')
  t.equal(rb.headers['webhook-timestamp'], '1700000060', 'fresh timestamp on retry')
  t.equal(ra.headers['webhook-signature'], signWebhook(settings.secret, 'msg_b1', 1700000000, ra.body!))
  t.not(ra.headers['webhook-signature'], rb.headers['webhook-signature'])
  t.equal(ra.headers['x-team'], 'growth')
  t.equal(ra.headers['content-type'], 'application/json')
})

t.test('build: unsigned without a secret; endpoint overrides url', async t => {
  const out = webhook.build([{ event_name: 'x' }], { url: 'https://a.example/', endpoint: 'http://127.0.0.1:9/h' } as any, { now: 0, batchId: 'z', attempt: 1 })
  t.equal(out.requests[0].headers['webhook-signature'], undefined)
  t.equal(out.requests[0].url, 'http://127.0.0.1:9/h')
})

t.test('classify by status', async t => {
  const c = (status: number, body = '') => webhook.classify({ status, headers: {}, body }, { method: 'POST', url: 'x', headers: {}, events: [] })
  t.same(c(200), { kind: 'ok' })
  t.same(c(204), { kind: 'ok' })
  for (const s of [400, 404, 410, 413, 422]) t.equal(c(s).kind, 'drop', `${s} drops`)
  for (const s of [401, 403]) t.equal(c(s).kind, 'credentials', `${s}: the credentials, not the events: the tag pauses`)
  for (const s of [301, 408, 409, 429, 500, 502, 503, 504]) t.equal(c(s).kind, 'retry', `${s} retries`)
  const dropped = c(422, '{"error":"bad field"}')
  t.match(dropped, { kind: 'drop', reason: /422.*bad field/ })
})

t.test('log tag builds a log: request carrying the batch', async t => {
  const out = log.build([{ event_name: 'a' }], {}, { now: 0, batchId: 'b', attempt: 1 })
  t.equal(out.requests[0].url, 'log:events')
  t.same(JSON.parse(out.requests[0].body!), { events: [{ event_name: 'a' }] })
})

t.test('protocol fields stay out of the body unless asked for; nested keys are untouched', async t => {
  const ev = { event_name: 'page_view', 'x-ga-raw': { query: 'v=2&en=page_view' }, 'x-sst-system_properties': { uc: 'NO' }, params: { 'x-ga-like': 1 } }
  const plain = webhook.build([ev], { url: 'https://a.example/' }, { now: 0, batchId: 'b', attempt: 1 })
  t.same(JSON.parse(plain.requests[0].body!), { events: [{ event_name: 'page_view', params: { 'x-ga-like': 1 } }] })
  const full = webhook.build([ev], { url: 'https://a.example/', includeProtocolFields: true }, { now: 0, batchId: 'b', attempt: 1 })
  t.same(JSON.parse(full.requests[0].body!), { events: [ev] })
  const again = webhook.build([ev, ev], { url: 'https://a.example/' }, { now: 0, batchId: 'c', attempt: 1 })
  t.same(JSON.parse(again.requests[0].body!).events.length, 2, 'a cached event serialises the same')
})

t.test('prepare: user data goes hashed (or not at all), never raw', async t => {
  const ev = { event_name: 'sign_up', user_data: { email_address: ' Jane.Doe@Example.com ', phone_number: '+1 (650) 555-1212', address: { first_name: 'Jane', city: 'Paris' } } }
  const hashed = webhook.prepare!(ev, { url: 'https://a.example/' })
  t.equal(hashed.user_data?.sha256_email_address, createHash('sha256').update('jane.doe@example.com').digest('hex'))
  t.equal(hashed.user_data?.sha256_phone_number, createHash('sha256').update('+16505551212').digest('hex'))
  t.equal(hashed.user_data?.address?.sha256_first_name, createHash('sha256').update('jane').digest('hex'))
  t.notMatch(JSON.stringify(hashed), /jane\.doe|5551212|"Jane"/i, 'no raw value survives')
  t.notOk('user_data' in webhook.prepare!(ev, { url: 'https://a.example/', userData: 'none' }))
  t.equal(ev.user_data.email_address, ' Jane.Doe@Example.com ', 'the shared event is untouched')
  const plain = { event_name: 'x' }
  t.equal(webhook.prepare!(plain, { url: 'https://a.example/' }), plain)
})

t.test('examples (as docs/destinations.md shows them)', async t => {
  runExamples(t, webhook, webhookExamples, EXAMPLE_CONTEXT)
})

t.test('the log tag queues user data hashed, as every tag does', async t => {
  const p = log.prepare!({ event_name: 'sign_up', user_data: { email_address: ' Jane@Example.com ' } }, {}, {})
  t.same(p.user_data, { sha256_email_address: createHash('sha256').update('jane@example.com').digest('hex') })
  t.notMatch(JSON.stringify(p), /jane/i)
  const plain = { event_name: 'page_view' }
  t.equal(log.prepare!(plain, {}, {}), plain, 'nothing to hash: the same event')
})
