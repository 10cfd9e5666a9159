// The live debug view's server side: the token gate (404 when off, 401 without the token, the
// one-time ?token= turned into an HttpOnly cookie), the SSE stream of redacted traces with per-tag
// outcomes and the destinations' answers, marked traffic kept while nobody watches, nothing traced
// while nobody watches, the ops-port variant, and, with Redis, every replica's traces in one view.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { loadConfig } from '../../config/load.js'
import { startGateway, type Gateway } from '../../server/start.js'
import { REDIS_URL, silent } from './fixtures/harness.js'
import { startSink, freePort, type Sink } from '../fixtures/sink.js'
import { request, tempDir } from '../e2e/fixtures/util.js'
import { openSse } from '../fixtures/sse.js'

const TOKEN = 'dbg_4f9a1c7e2b8d6a3f5e0c'
const META_TOKEN = 'EAAGm0PX4ZCpsBAmetasecret'
const EMAIL = 'jane.doe@example.com'

interface Setup { server?: string[], debug?: string[], store?: string }

function yaml (t: Test, sink: Sink, s: Setup = {}): string {
  const dir = tempDir(t)
  return [
    'server:',
    `  spoolFile: ${JSON.stringify(join(dir, 'spool.jsonl'))}`,
    `  deadLetterFile: ${JSON.stringify(join(dir, 'dead.jsonl'))}`,
    '  rateLimit: false',
    ...(s.server ?? []).map(l => '  ' + l),
    ...(s.store !== undefined ? ['store:', ...s.store.split('\n').map(l => '  ' + l)] : []),
    ...(s.debug !== undefined ? ['debug:', ...s.debug.map(l => '  ' + l)] : []),
    'auth: { apiKeys: [tl_debug_key_00112233] }',
    'triggers:',
    '  purchases: { event_name: purchase }',
    'tags:',
    '  - name: hook',
    '    type: webhook',
    `    url: ${sink.origin}/hook`,
    '    batch: { maxEvents: 10, maxWaitMs: 0 }',
    `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: ${META_TOKEN}, endpoint: "${sink.origin}/meta", consent: [], batch: { maxEvents: 10, maxWaitMs: 0 } }`,
    '  - name: purchases-only',
    '    type: webhook',
    `    url: ${sink.origin}/only`,
    '    fireOn: [purchases]'
  ].join('\n')
}

async function gateway (t: Test, text: string): Promise<Gateway> {
  const gw = await startGateway({ config: loadConfig({ text }, {}), logger: silent(), port: 0 })
  t.teardown(async () => { await gw.stop() })
  return gw
}

/** Signs in as a browser does: ?token= once, then the cookie. */
async function signIn (t: Test, base: string): Promise<string> {
  const res = await request(`${base}/debug?token=${TOKEN}`)
  t.equal(res.status, 303, 'the token is swapped for a cookie')
  t.equal(res.headers.location, '/debug', 'and leaves the address bar')
  const set = res.setCookie.find(c => c.startsWith('tagline_debug_view='))
  t.ok(set, 'a view cookie')
  t.match(set, /HttpOnly/i)
  t.match(set, /SameSite=Strict/i)
  t.match(set, /Path=\/debug/)
  t.notMatch(set, TOKEN, 'the cookie is not the token')
  return `tagline_debug_view=${res.cookies.tagline_debug_view}`
}

function hit (base: string, params: Record<string, string>, headers: Record<string, string> = {}): ReturnType<typeof request> {
  const q = new URLSearchParams({ v: '2', tid: 'G-DEBUG12345', cid: '555.666', ...params }).toString()
  return request(`${base}/g/collect?${q}`, { method: 'POST', headers: { 'user-agent': 'Mozilla/5.0 test', ...headers }, body: '' })
}

t.test('off without a token: every /debug route is a 404', async t => {
  const sink = await startSink(t)
  const gw = await gateway(t, yaml(t, sink))
  for (const path of ['/debug', `/debug?token=${TOKEN}`, '/debug/stream', '/debug/traces']) {
    const res = await request(gw.url + path)
    t.equal(res.status, 404, path)
    t.equal(res.json.error, 'not_found')
  }
})

t.test('the token gate', async t => {
  const sink = await startSink(t)
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`], server: ['cors: { origins: ["https://www.shop.example"] }'] }))
  for (const path of ['/debug', '/debug/stream', '/debug/traces', '/debug?token=wrong-token-0000000000']) {
    const res = await request(gw.url + path)
    t.equal(res.status, 401, `${path} without the token`)
    t.equal(res.json.error, 'unauthorized')
    t.match(res.json.message, /debug\.token/)
  }
  const cookie = await signIn(t, gw.url)
  const page = await request(`${gw.url}/debug`, { headers: { cookie, origin: 'https://www.shop.example' } })
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /EventSource/)
  t.match(page.headers['content-security-policy'], /script-src 'sha256-[A-Za-z0-9+/=]+'/, 'only the page\'s own script runs')
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.notOk(page.headers['access-control-allow-origin'], 'no CORS for the view, even from an allowed shop origin')
  const byHeader = await request(`${gw.url}/debug/traces`, { headers: { 'x-tagline-debug-token': TOKEN } })
  t.equal(byHeader.status, 200, 'the header works for scripts')
  t.same(byHeader.json.entries, [], 'nothing traced yet')
  t.equal((await request(`${gw.url}/debug/traces`, { headers: { 'x-tagline-debug-token': 'nope' } })).status, 401)
  t.equal((await request(`${gw.url}/debug/traces`, { headers: { cookie: 'tagline_debug_view=forged' } })).status, 401)

  // A new token signs every open session out.
  gw.reload(loadConfig({ text: yaml(t, sink, { debug: ['token: dbg_another_token_9876543210'] }) }, {}))
  t.equal((await request(`${gw.url}/debug`, { headers: { cookie } })).status, 401, 'the old cookie no longer works')
})

t.test('a token shorter than 16 characters is refused by the config', async t => {
  t.throws(() => loadConfig({ text: 'debug: { token: short }\n' }, {}), /debug\.token|debug\/token/)
})

t.test('the stream: each request, its events, per-tag outcomes, the exchanges and answers, redacted', async t => {
  const sink = await startSink(t, req => req.path === '/meta'
    ? { status: 200, body: JSON.stringify({ events_received: 1, fbtrace_id: 'AbC123' }) }
    : { status: 200, body: 'ok' })
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`] }))
  const cookie = await signIn(t, gw.url)
  const view = await openSse(t, `${gw.url}/debug/stream`, { cookie })
  t.equal(view.status, 200)
  t.match(view.headers['content-type'], /^text\/event-stream/)
  const hello = await view.next(m => m.event === 'hello')
  t.match(hello.data, { fleet: false, ring: 0 })

  // A backend purchase with user data, an API key and the visitor's cookies.
  const sent = await request(`${gw.url}/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tl_debug_key_00112233', cookie: '_ga=GA1.1.555.666; _fbp=fb.1.1700000000000.42', 'x-forwarded-for': '203.0.113.77' },
    body: JSON.stringify({ event_name: 'purchase', event_id: 'ord-1001', client_id: '555.666', user_agent: 'Mozilla/5.0 test', page_location: 'https://shop.example/thank-you', user_data: { email_address: EMAIL }, currency: 'EUR', value: 42 })
  })
  t.equal(sent.status, 202)
  // A browser hit with no event_id of its own.
  t.equal((await hit(gw.url, { en: 'page_view', dl: 'https://shop.example/?email=' + EMAIL })).status, 204)

  const req1 = await view.next(m => m.event === 'trace' && m.data.kind === 'request' && m.data.client === 'json', 5000, 'the purchase request')
  t.match(req1.data, { status: 202, marked: false, request: { method: 'POST', url: '/collect' } })
  t.equal(req1.data.request.headers.authorization, '[redacted]', 'the API key is not shown')
  t.equal(req1.data.request.headers.cookie, '_ga=[redacted]; _fbp=[redacted]', 'cookie names only')
  t.same(req1.data.events.map((e: any) => [e.event_name, e.event_id, e.browser_event_id]), [['purchase', 'ord-1001', 'ord-1001']])
  t.same(req1.data.events[0].event.user_data, { email_address: '[redacted]' }, 'which user data came, not what')
  t.same(req1.data.decisions.map((d: any) => [d.tag, d.outcome]).sort(), [['hook', 'queued'], ['meta', 'queued'], ['purchases-only', 'queued']])

  const req2 = await view.next(m => m.event === 'trace' && m.data.kind === 'request' && m.data.client === 'gtag', 5000, 'the page_view request')
  t.equal(req2.data.status, 204)
  t.equal(req2.data.events[0].browser_event_id, null, 'the browser sent no event_id: the view says the gateway minted one')
  t.match(req2.data.decisions.find((d: any) => d.tag === 'purchases-only'), { outcome: 'not_triggered' })
  t.match(req2.data.decisions.find((d: any) => d.tag === 'meta'), { outcome: 'queued' })

  // A refused request is traced too, with its answer.
  const bad = await request(`${gw.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_name: 'purchase', value: 'lots' }) })
  t.equal(bad.status, 400)
  const refused = await view.next(m => m.event === 'trace' && m.data.kind === 'request' && m.data.status === 400, 5000, 'the refused request')
  t.match(refused.data, { error: bad.json.error, events: [], decisions: [] })
  t.equal(refused.data.client, 'json', 'with the client that refused it')

  const metaSent = await view.next(m => m.data.kind === 'outcome' && m.data.tag === 'meta' && m.data.event_id === 'ord-1001', 5000, 'meta\'s outcome')
  t.match(metaSent.data, { outcome: 'sent', sent_event_id: 'ord-1001' }, JSON.stringify(metaSent.data))
  const exchange = await view.next(m => m.data.kind === 'exchange' && m.data.tag === 'meta' && m.data.event_ids.includes('ord-1001'), 5000, 'meta\'s exchange')
  t.match(exchange.data, { result: 'ok', attempt: 1, answer: { status: 200, body: /fbtrace_id/ } })
  t.match(exchange.data.request.url, `${sink.origin}/meta`)

  const text = view.text()
  t.notMatch(text, META_TOKEN, 'the access token never reaches the view')
  t.notMatch(text, 'tl_debug_key_00112233', 'nor the API key')
  t.notMatch(text, EMAIL, 'nor the raw e-mail, in the body or the page URL')
  t.notMatch(text, encodeURIComponent(EMAIL))
  t.notMatch(text, '203.0.113.77', 'nor the full visitor IP')
})

t.test('a marked request whose body would make an e-mail pattern backtrack is traced, and the gateway stays responsive', async t => {
  const sink = await startSink(t)
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`] }))
  // Any visitor can mark its requests; 16 KB of `a%2540` blocked the event loop for hours before.
  const body = `en=search&ep.event_id=hostile-1&ep.q=${'a%2540'.repeat(2700)}`
  const res = await request(`${gw.url}/g/collect?v=2&tid=G-TEST12345&cid=1.2&tagline_debug=1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })
  t.equal(res.status, 204, 'the hit is answered')
  t.equal((await request(`${gw.url}/healthz`)).status, 200, 'and so is the next request')
  const entries = (await request(`${gw.url}/debug/traces`, { headers: { 'x-tagline-debug-token': TOKEN } })).json.entries
  const traced = entries.find((e: any) => e.kind === 'request')
  t.ok(traced?.request.body.startsWith('en=search&ep.event_id=hostile-1&ep.q=a%2540'), 'the request is traced with its body')
})

t.test('a marked hit\'s contact details in GA4 parameters (ep., epn., up.) are masked in the request and its event', async t => {
  const sink = await startSink(t)
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`] }))
  const res = await hit(gw.url, { en: 'sign_up', 'ep.event_id': 'contact-1', 'epn.user_data.phone_number': '15551234567', 'ep.phone': '+15551112222', 'up.phone_number': '+15553334444', 'ep.plan': 'pro' }, { 'x-tagline-debug': '1' })
  t.equal(res.status, 204)
  const { until } = await import('../fixtures/wait.js')
  const traces = async (): Promise<any[]> => (await request(`${gw.url}/debug/traces`, { headers: { 'x-tagline-debug-token': TOKEN } })).json.entries
  await until(async () => (await traces()).some(e => e.kind === 'request'), 5000, 'the trace')
  const text = JSON.stringify(await traces())
  for (const digits of ['15551234567', '15551112222', '15553334444']) t.notMatch(text, new RegExp(digits), `${digits} is nowhere in the view`)
  const traced = (await traces()).find(e => e.kind === 'request')
  t.match(traced.request.url, /ep\.plan=pro/, 'other parameters are shown')
  t.equal(traced.events[0].event.params.phone, '[redacted]')
  t.equal(traced.events[0].event.params.plan, 'pro')
})

t.test('nothing is traced while nobody watches; marked traffic is, and its delivery too', async t => {
  const sink = await startSink(t)
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`] }))
  const traces = async (): Promise<any[]> => (await request(`${gw.url}/debug/traces`, { headers: { 'x-tagline-debug-token': TOKEN } })).json.entries
  t.equal((await hit(gw.url, { en: 'page_view', 'ep.event_id': 'plain-1' })).status, 204)
  await sink.waitFor(reqs => reqs.some(r => r.path === '/hook' && r.raw.includes('plain-1')))
  t.same(await traces(), [], 'an unwatched, unmarked hit leaves nothing')

  // Marked by the page's URL (?tagline_debug=1 inside dl): the answer sets the session cookie.
  const first = await hit(gw.url, { en: 'page_view', 'ep.event_id': 'marked-1', dl: 'https://shop.example/?tagline_debug=1' })
  t.equal(first.status, 204)
  t.equal(first.cookies.tagline_debug, '1', 'the visitor is marked for the session')
  t.notMatch(first.setCookie.find(c => c.startsWith('tagline_debug=')), /Max-Age|Expires/i, 'a session cookie')
  // The next page has no parameter, only the cookie.
  t.equal((await hit(gw.url, { en: 'scroll', 'ep.event_id': 'marked-2' }, { cookie: 'tagline_debug=1' })).status, 204)
  // A backend marks its request with the header.
  t.equal((await request(`${gw.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tagline-debug': '1' }, body: JSON.stringify({ event_name: 'sign_up', event_id: 'marked-3' }) })).status, 202)
  // ?tagline_debug=0 ends it.
  const off = await hit(gw.url, { en: 'page_view', 'ep.event_id': 'plain-2', dl: 'https://shop.example/?tagline_debug=0' }, { cookie: 'tagline_debug=1' })
  t.match(off.setCookie.find(c => c.startsWith('tagline_debug=')), /Expires=Thu, 01 Jan 1970/, 'the mark is cleared')

  await sink.waitFor(reqs => ['marked-1', 'marked-2', 'marked-3'].every(id => reqs.some(r => r.raw.includes(id))))
  const { until } = await import('../fixtures/wait.js')
  await until(async () => (await traces()).filter(e => e.kind === 'outcome').length >= 5, 5000, 'the marked events\' outcomes')
  const entries = await traces()
  const requests = entries.filter(e => e.kind === 'request')
  t.same(requests.map(e => e.events[0].event_id), ['marked-1', 'marked-2', 'marked-3'], 'only marked requests are kept')
  t.ok(requests.every(e => e.marked === true))
  // marked-2 (a scroll) has no Meta name: declined at routing, so two outcomes at hook and meta, one at hook.
  t.same(entries.filter(e => e.kind === 'outcome').map(e => `${e.tag}:${e.event_id}`).sort(), ['hook:marked-1', 'hook:marked-2', 'hook:marked-3', 'meta:marked-1', 'meta:marked-3'], 'their delivery is traced too, not the others\'')
  t.notOk(entries.some(e => e.kind === 'exchange' && e.event_ids.some((id: string) => id.startsWith('plain'))), 'no exchange of unmarked traffic')
})

t.test('debug.onOpsPort: the view answers on the ops port only', async t => {
  const sink = await startSink(t)
  const opsPort = await freePort()
  const gw = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`, 'onOpsPort: true'], server: [`opsPort: ${opsPort}`, 'host: 127.0.0.1'] }))
  t.equal((await request(`${gw.url}/debug?token=${TOKEN}`)).status, 404, 'not on the public port')
  const refused = await request(`${gw.opsUrl}/debug`)
  t.equal(refused.status, 401, 'the ops port refuses a view without the token')
  t.same(Object.keys(refused.json).sort(), ['details', 'error', 'message'], 'in the same JSON as the public port')
  t.equal(refused.json.error, 'unauthorized')
  const cookie = await signIn(t, gw.opsUrl as string)
  t.equal((await request(`${gw.opsUrl}/debug`, { headers: { cookie } })).status, 200, 'on the ops port')
  const view = await openSse(t, `${gw.opsUrl}/debug/stream`, { cookie })
  await view.next(m => m.event === 'hello')
  await hit(gw.url, { en: 'page_view', 'ep.event_id': 'ops-1' })
  await view.next(m => m.data.kind === 'request' && m.data.events[0]?.event_id === 'ops-1', 5000, 'the public port\'s request on the ops port\'s view')
  t.pass('traced')
})

t.test('stop() ends open views instead of waiting on them', async t => {
  const sink = await startSink(t)
  const text = yaml(t, sink, { debug: [`token: ${TOKEN}`] })
  const gw = await startGateway({ config: loadConfig({ text }, {}), logger: silent(), port: 0 })
  const view = await openSse(t, `${gw.url}/debug/stream`, { 'x-tagline-debug-token': TOKEN })
  await view.next(m => m.event === 'hello')
  const started = Date.now()
  await gw.stop()
  await view.ended
  t.ok(Date.now() - started < 3000, 'the stop did not wait for the viewer')
})

t.test('Redis: a view on one replica shows the traces of every replica', async t => {
  const sink = await startSink(t)
  const prefix = `tagline-test:debug:${process.pid}:${Date.now()}:`
  const store = `redis: ${REDIS_URL}\nprefix: "${prefix}"`
  const a = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`], store }))
  const b = await gateway(t, yaml(t, sink, { debug: [`token: ${TOKEN}`], store }))
  t.teardown(async () => {
    const { Redis } = await import('ioredis')
    const r = new Redis(REDIS_URL)
    const keys = await r.keys(`${prefix}*`)
    if (keys.length > 0) await r.del(...keys)
    r.disconnect()
  })
  const view = await openSse(t, `${a.url}/debug/stream`, { 'x-tagline-debug-token': TOKEN })
  const hello = await view.next(m => m.event === 'hello')
  t.equal(hello.data.fleet, true, 'the view says it is fleet-wide')
  // Replica b learns within its poll interval that a view listens somewhere.
  const { until } = await import('../fixtures/wait.js')
  let n = 0
  await until(async () => {
    await hit(b.url, { en: 'page_view', 'ep.event_id': `from-b-${++n}` })
    return view.messages.some(m => m.data.kind === 'request' && String(m.data.events[0]?.event_id).startsWith('from-b-'))
  }, 8000, 'replica b\'s request in replica a\'s view')
  const id = view.messages.find(m => m.data.kind === 'request' && String(m.data.events[0]?.event_id).startsWith('from-b-'))?.data.events[0].event_id
  await view.next(m => m.data.kind === 'outcome' && m.data.event_id === id && m.data.outcome === 'sent', 5000, 'and its delivery')
  t.pass('b\'s traces reached a\'s view')
})
