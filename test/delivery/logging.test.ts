import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import { describeRequest, REDACTED } from '../../server/delivery/redact.js'
import type { CompiledTag } from '../../config/types.js'
import { captureLogger, count, ev, metrics, received, tag } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'

const SECRET = 'sk_live_0123456789abcdef'

t.test('dryRun builds and logs every request, sends nothing, redacted', async t => {
  const sink = await startSink(t)
  const log = captureLogger('info')
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url, token: SECRET }, { dryRun: true })], metrics: m, logger: log.logger })
  d.enqueue([{ tag: 'a', event: ev('purchase', { user_data: { email_address: 'jane@example.com' } }) }])
  await until(() => d.depth('a') === 0, 2000, 'the dry run')
  t.equal(received(sink).length, 0, 'nothing sent')
  t.equal(await count(m, 'a', 'sent'), 1, 'counts as ok')
  const text = log.text()
  t.notMatch(text, SECRET, 'the secret setting appears nowhere')
  t.notMatch(text, 'jane@example.com', 'user_data is masked')
  const line = log.lines.map(l => JSON.parse(l)).find(l => l.msg === 'dry run: request not sent')
  t.ok(line, 'the request is logged')
  t.equal(line.tag, 'a')
  t.equal(line.request.headers.authorization, REDACTED)
  t.equal(line.request.url, sink.url)
  const body = JSON.parse(line.request.body)
  t.equal(body.token, REDACTED)
  t.equal(body.events[0].user_data, REDACTED)
  t.equal(body.events[0].event_name, 'purchase', 'the rest of the body is there')
  await d.close(1000)
})

t.test('log: URLs are logged, not sent', async t => {
  const log = captureLogger('info')
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: `log:stdout?api_key=${SECRET}&v=2`, token: SECRET })], metrics: m, logger: log.logger })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(() => d.depth('a') === 0, 2000, 'the log request')
  t.equal(await count(m, 'a', 'sent'), 1)
  t.notMatch(log.text(), SECRET)
  const line = log.lines.map(l => JSON.parse(l)).find(l => l.msg === 'log request')
  t.equal(line.request.url, `log:stdout?api_key=${REDACTED}&v=2`)
  t.equal(line.request.method, 'POST')
  await d.close(1000)
})

t.test('describeRequest masks secret names, secret values and user_data', async t => {
  const out = describeRequest({
    method: 'POST',
    url: `https://x.example/p?access_token=abc&id=1&sig=${encodeURIComponent('s3cr3t/+value')}`,
    headers: { 'X-Api-Key': 'k1', Cookie: 'c=1', 'webhook-signature': 'v1,xyz', 'content-type': 'application/json', 'x-note': 'carries s3cr3t/+value inline' },
    body: JSON.stringify({ data: [{ user_data: { em: 'h' }, custom: { password: 'p', value: 3 } }], client_secret: 'cs' }),
    events: [0]
  }, ['s3cr3t/+value'])
  t.equal(out.url, `https://x.example/p?access_token=${REDACTED}&id=1&sig=${REDACTED}`)
  t.same(out.headers, {
    'X-Api-Key': REDACTED, Cookie: REDACTED, 'webhook-signature': REDACTED, 'content-type': 'application/json', 'x-note': `carries ${REDACTED} inline`
  })
  t.same(JSON.parse(out.body as string), { data: [{ user_data: REDACTED, custom: { password: REDACTED, value: 3 } }], client_secret: REDACTED })
  const form = describeRequest({ method: 'POST', url: 'https://g.example/g/collect', headers: {}, body: 'v=2&tid=G-1&api_secret=zz\nv=2&en=x', events: [] })
  t.equal(form.body, `v=2&tid=G-1&api_secret=${REDACTED}\nv=2&en=x`)
})

t.test('describeRequest masks contact fields a sender put in custom parameters, and e-mail addresses anywhere', async t => {
  const out = describeRequest({
    method: 'POST',
    url: 'https://hooks.example/in?ref=jane%40example.com',
    headers: {},
    body: JSON.stringify({ events: [{ params: { email: 'dl.top@example.com', Phone: '+16505551212', plan: 'pro' }, user_properties: { email: 'upx@example.com' }, page_location: 'https://shop.example/?email=url.leak@example.com' }] }),
    events: [0]
  })
  t.equal(out.url, `https://hooks.example/in?ref=${REDACTED}`)
  t.same(JSON.parse(out.body as string), { events: [{ params: { email: REDACTED, Phone: REDACTED, plan: 'pro' }, user_properties: { email: REDACTED }, page_location: `https://shop.example/?email=${REDACTED}` }] })
  const docs = describeRequest({ method: 'POST', url: 'https://x.example/', headers: {}, body: JSON.stringify({ user: { email: 'abc@example.com' } }), events: [] }, [], { keepUserData: true })
  t.same(JSON.parse(docs.body as string), { user: { email: 'abc@example.com' } }, 'the documentation\'s examples keep their (test) values')
})

t.test('a tag built with a redacting def: secret settings never reach the log even in a URL path', async t => {
  const log = captureLogger('info')
  const base = tag('p', { url: 'log:x', token: SECRET })
  const pathTag: CompiledTag = {
    ...base,
    def: {
      ...base.def,
      build: (events, s: { token: string }) => ({ requests: [{ method: 'GET', url: `log:https://v.example/${s.token}/events`, headers: {}, events: events.map((_, i) => i) }] })
    }
  }
  const d = new Delivery({ tags: [pathTag], metrics: metrics(), logger: log.logger })
  d.enqueue([{ tag: 'p', event: ev() }])
  await until(() => d.depth('p') === 0, 2000, 'the log request')
  t.notMatch(log.text(), SECRET)
  t.match(log.text(), `log:https://v.example/${REDACTED}/events`)
  await d.close(1000)
})
