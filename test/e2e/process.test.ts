// The real `tagline` process: spawned with node bin/tagline.js, talked to over loopback HTTP, its
// webhook deliveries received by a real node:http sink and checked with an independent Standard
// Webhooks verifier. Every run has its own temp dir, config and spool file.
import t, { type Test } from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { runTagline, spawnTagline, type LogLine, type TaglineProcess } from './fixtures/tagline.js'
import { freePort, startSink, type Sink, type SinkRequest } from '../fixtures/sink.js'
import { verifyStandardWebhook, WHSEC } from '../fixtures/standard-webhooks.js'
import { occupiedPort, request, stalledRequest, tempDir, type HttpResponse } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { hookTag, serverBlock, writeConfig } from './fixtures/config.js'
import { CHROME_UA, FIREFOX_UA, SAFARI_UA, browserJson } from './fixtures/events.js'
import { PURCHASE_QUERY, VIEW_ITEM_QUERY, purchaseLine, viewItemQuery } from '../fixtures/ga4-hits.js'

// About 20 processes are started, each paying ~1 s of CPU to load; on a busy 2-core machine the
// file can pass tap's default 60 s, though every wait inside is bounded on its own.
t.setTimeout(120_000)

const API_KEY = 'e2e-backend-key-7c1f0a'
const idsOf = (events: any[]): string[] => events.map(e => String(e.event_id))
const sorted = (a: string[]): string[] => [...a].sort()
const readSpool = (file: string): any[] => readFileSync(file, 'utf8').split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))
/** What the gateway logs when a client's request is still open at the shutdown deadline. */
const DEADLINE_HELD = 'requests still open at the shutdown deadline: closing their connections'

function checkSignatures (t: Test, sink: Sink, from = 0): void {
  const reqs = sink.requests.slice(from)
  const bad = reqs.map(r => ({ id: r.headers['webhook-id'], v: verifyStandardWebhook(WHSEC, r.headers, r.raw) })).filter(x => !x.v.ok)
  t.same(bad, [], `all ${reqs.length} webhook requests carry a valid Standard Webhooks signature`)
}

t.test('the test\'s own Standard Webhooks verifier agrees with the reference libraries\' test vector', async t => {
  const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }
  const body = '{"test": 2432232314}'
  t.same(verifyStandardWebhook(WHSEC, headers, body, 1614265330), { ok: true }, 'the test vector verifies')
  t.same(verifyStandardWebhook(WHSEC, { ...headers, 'webhook-signature': 'v1a,xxx v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }, body, 1614265330), { ok: true }, 'any entry of the list may match')
  t.equal(verifyStandardWebhook(WHSEC, headers, body + ' ', 1614265330).ok, false, 'a changed body fails')
  t.equal(verifyStandardWebhook(WHSEC, { ...headers, 'webhook-id': 'msg_other' }, body, 1614265330).ok, false, 'a changed id fails')
  t.equal(verifyStandardWebhook('whsec_' + Buffer.alloc(24, 7).toString('base64'), headers, body, 1614265330).ok, false, 'another secret fails')
  t.equal(verifyStandardWebhook(WHSEC, headers, body, 1614265330 + 301).ok, false, 'a timestamp more than 5 minutes old fails')
  t.equal(verifyStandardWebhook(WHSEC, headers, body, 1614265330 - 301).ok, false, 'and one more than 5 minutes ahead')
})

t.test('a. backend JSON, a gtag hit and a dataLayer push reach a signed webhook and the log tag', async t => {
  const dir = tempDir(t)
  // The first delivery attempt is refused: the retry must carry the same webhook-id.
  const sink = await startSink(t, r => r.n === 0 ? 503 : 200)
  const spoolFile = join(dir, 'spool.jsonl')
  const file = writeConfig(dir, 'tagline.yaml', [
    serverBlock({ spoolFile }),
    'auth:',
    '  apiKeys: ["${TL_E2E_API_KEY}"]',
    'tags:',
    hookTag('hook', { url: sink.url, secret: '${TL_E2E_WEBHOOK_SECRET}', maxWaitMs: 30, initialDelayMs: 100 }),
    '  - name: console',
    '    type: log'
  ].join('\n'))
  const p = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0', TL_E2E_API_KEY: API_KEY, TL_E2E_WEBHOOK_SECRET: WHSEC } })
  const base = await p.url()
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'the listening address is logged')
  t.not(base, 'http://127.0.0.1:8080', 'PORT=0 replaced the file\'s port')

  // 1. A backend purchase: trusted, so its body's visitor IP and user agent are believed.
  const purchase = {
    event_name: 'purchase',
    transaction_id: 'T_E2E_1001',
    client_id: '555123.1717000000',
    user_id: 'cust-88231',
    ip_override: '203.0.113.7',
    user_agent: SAFARI_UA,
    page_location: 'https://shop.example/checkout/thank-you?utm_source=newsletter&utm_medium=email',
    currency: 'USD',
    value: 72.05,
    tax: 4.9,
    shipping: 5.99,
    items: [
      { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', price: 10.01, quantity: 3 },
      { item_id: 'SKU_12346', item_name: 'Friends Hoodie', price: 42.02, quantity: 1, coupon: 'SUMMER_FUN' }
    ],
    consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'denied' },
    browser_ids: { fbp: 'fb.1.1717000000000.1111111111' },
    user_data: { email_address: 'jane.e2e@example.com' }
  }
  const backend = await request(base + '/collect', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, 'user-agent': 'shop-backend/2.3', 'x-forwarded-for': '198.51.100.23' },
    body: JSON.stringify(purchase)
  })
  t.equal(backend.status, 202, 'the backend purchase is accepted')
  t.same(backend.json, { accepted: 1, deduplicated: 0, event_ids: ['T_E2E_1001'] }, 'its event id is the transaction id')
  t.same(backend.setCookie, [], 'a backend request gets no browser cookies')

  const wrongKey = await request(base + '/collect', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-key' },
    body: JSON.stringify({ ...purchase, transaction_id: 'T_E2E_WRONG_KEY' })
  })
  t.equal(wrongKey.status, 401, 'a wrong API key is refused')

  // The same purchase from the browser's gtag (POST, the event in a body line): a
  // dual-sent purchase must reach the destinations once.
  const dual = await request(`${base}/g/collect?${PURCHASE_QUERY}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': CHROME_UA },
    body: purchaseLine('T_E2E_1001')
  })
  t.equal(dual.status, 204, 'the browser copy of the purchase is answered 204 too')

  // 2. A real-format gtag view_item hit from a browser that has _fbp and _ga cookies.
  const hit = await request(`${base}/g/collect?${VIEW_ITEM_QUERY}`, {
    headers: {
      cookie: '_fbp=fb.1.1717000000000.987654321; _ga=GA1.1.1234567890.1717000000',
      'user-agent': CHROME_UA,
      'accept-language': 'de-DE,de;q=0.9',
      'x-forwarded-for': '198.51.100.23'
    }
  })
  t.equal(hit.status, 204, 'a gtag hit gets Google\'s bare 204')
  t.equal(hit.body, '')
  t.match(hit.setCookie.find(c => c.startsWith('FPID=')), /HttpOnly/i, 'the hit is given an HttpOnly FPID cookie')
  t.notOk('_fbp' in hit.cookies, 'an existing _fbp is not replaced')

  // 3. A dataLayer push forwarded by a page; no cookies yet, so identity is minted.
  const referer = 'https://shop.example/p/stan-tee?utm_source=google&utm_medium=cpc&gclid=EAIaIQobChMI_e2e'
  const push = await request(base + '/collect', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': FIREFOX_UA, referer },
    body: JSON.stringify({
      event: 'add_to_cart',
      event_id: 'atc-e2e-0001',
      ecommerce: { currency: 'USD', value: 30.03, items: [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 3 }] }
    })
  })
  t.equal(push.status, 202)
  t.same(push.json, { accepted: 1, deduplicated: 0, event_ids: ['atc-e2e-0001'] })
  t.ok(push.cookies.FPID?.startsWith('FPID2.2.'), 'an FPID cookie is set')
  t.match(push.cookies._fbp, /^fb\.1\.\d{13}\.\d+$/, 'a first-party _fbp is minted')

  // 4. A browser JSON event that tries to choose its own IP and user agent.
  const spoof = await request(base + '/collect', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, cookie: `FPID=${encodeURIComponent(push.cookies.FPID)}; _fbp=${push.cookies._fbp}` },
    body: JSON.stringify({ event_name: 'sign_up', event_id: 'su-e2e-0001', ip_override: '6.6.6.6', user_agent: 'spoofed/1.0', page_location: 'https://shop.example/register' })
  })
  t.equal(spoof.status, 202)
  t.same(spoof.setCookie, [], 'a browser that has its cookies gets no new ones')

  const expected = ['T_E2E_1001', 'vi-1718000104-8842', 'atc-e2e-0001', 'su-e2e-0001']
  await sink.waitFor(() => expected.every(id => idsOf(sink.delivered()).includes(id)), 'all four events acknowledged by the sink')
  const byId = new Map(sink.delivered().map(e => [e.event_id, e]))
  t.notOk(byId.has('T_E2E_WRONG_KEY'), 'the refused event went nowhere')

  // The webhook requests themselves.
  checkSignatures(t, sink)
  const odd = sink.requests.filter(r => r.method !== 'POST' || r.url !== '/hook' || !/^application\/json/.test(String(r.headers['content-type'])) || !/^[^.\s]+$/.test(String(r.headers['webhook-id'])))
  t.same(odd.map(r => [r.method, r.url, r.headers['content-type'], r.headers['webhook-id']]), [], 'every request: POST /hook, JSON, a webhook-id without dots')
  const [refused, ...rest] = sink.requests
  t.equal(refused.status, 503)
  const retried = rest.find(r => r.headers['webhook-id'] === refused.headers['webhook-id'])
  t.ok(retried, 'the refused batch is retried with the same webhook-id')
  if (retried !== undefined) {
    t.equal(retried.status, 200)
    t.same(idsOf(retried.json.events), idsOf(refused.json.events), 'carrying the same events')
    t.ok(Number(retried.headers['webhook-timestamp']) >= Number(refused.headers['webhook-timestamp']), 'with a fresh timestamp')
  }
  t.equal(new Set(sink.requests.map(r => r.headers['webhook-id'])).size, sink.requests.length - 1, 'every other batch has its own webhook-id')

  // The events' fields.
  t.match(byId.get('T_E2E_1001'), {
    event_name: 'purchase',
    event_id: 'T_E2E_1001',
    transaction_id: 'T_E2E_1001',
    client_id: '555123.1717000000',
    user_id: 'cust-88231',
    ip_override: '203.0.113.7',
    user_agent: SAFARI_UA,
    page_location: purchase.page_location,
    page_hostname: 'shop.example',
    page_path: '/checkout/thank-you',
    campaign: { source: 'newsletter', medium: 'email' },
    value: 72.05,
    currency: 'USD',
    tax: 4.9,
    shipping: 5.99,
    consent: purchase.consent,
    browser_ids: { fbp: 'fb.1.1717000000000.1111111111' },
    source: { client: 'json', trusted: true }
  }, 'the backend purchase keeps the trusted body\'s IP and user agent')
  t.same(byId.get('T_E2E_1001').items, purchase.items, 'its items are unchanged')
  t.same(byId.get('T_E2E_1001').user_data, { sha256_email_address: createHash('sha256').update('jane.e2e@example.com').digest('hex') }, 'user data reaches the webhook, hashed')

  const view = byId.get('vi-1718000104-8842')
  t.match(view, {
    event_name: 'view_item',
    event_id: 'vi-1718000104-8842',
    client_id: '1234567890.1717000000',
    ip_override: '127.0.0.1',
    user_agent: CHROME_UA,
    language: 'en-us',
    page_location: 'https://shop.example/p/stan-tee',
    page_hostname: 'shop.example',
    page_path: '/p/stan-tee',
    page_title: 'Stan and Friends Tee',
    value: 10.01,
    currency: 'USD',
    ga_session_id: '1718000000',
    ga_session_number: 7,
    engagement_time_msec: 5230,
    consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' },
    browser_ids: { fbp: 'fb.1.1717000000000.987654321', ga: 'GA1.1.1234567890.1717000000' },
    source: { client: 'gtag', trusted: false }
  }, 'the gtag hit: ids from the hit and cookies, IP and user agent from the request (X-Forwarded-For of an untrusted peer ignored)')
  t.notOk(Object.keys(view).some(k => k.startsWith('x-ga-')), 'GA4 protocol internals stay out of webhook bodies by default')
  t.same(view.items, [{
    item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', item_category: 'Apparel',
    item_category2: 'Adult', item_category3: 'Shirts', item_variant: 'green', price: 10.01, quantity: 1
  }], 'pr1 decoded into an item')

  const atc = byId.get('atc-e2e-0001')
  t.match(atc, {
    event_name: 'add_to_cart',
    client_id: push.cookies.FPID.slice('FPID2.2.'.length),
    ip_override: '127.0.0.1',
    user_agent: FIREFOX_UA,
    page_location: referer,
    page_hostname: 'shop.example',
    page_path: '/p/stan-tee',
    campaign: { source: 'google', medium: 'cpc' },
    click_ids: { gclid: 'EAIaIQobChMI_e2e' },
    value: 30.03,
    currency: 'USD',
    browser_ids: { fbp: push.cookies._fbp },
    source: { client: 'datalayer', trusted: false }
  }, 'the dataLayer push: client id from the FPID it was given, fbp from the _fbp it was given, page from the Referer')
  t.same(atc.items, [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 3 }])

  t.match(byId.get('su-e2e-0001'), {
    ip_override: '127.0.0.1',
    user_agent: CHROME_UA,
    client_id: push.cookies.FPID.slice('FPID2.2.'.length),
    browser_ids: { fbp: push.cookies._fbp },
    source: { client: 'json', trusted: false }
  }, 'a browser cannot choose its IP or user agent; its cookies carry its identity')

  // The log tag printed every event, with the raw email redacted.
  await p.waitLog(l => l.msg === 'log request' && expected.every(id => p.lines.some(x => x.msg === 'log request' && x.tag === 'console' && String(x.request?.body).includes(id))), 5000, 'the log tag printed all events')
  t.notOk(p.stdout().includes('jane.e2e@example.com'), 'raw user data never reaches the log')
  t.notOk(p.stdout().includes(API_KEY), 'nor the API key')

  await until(async () => await queuesEmpty(base), 10_000, 'every tag queue empty (/metrics)')
  const stopped = await stopAndCheck(t, p)
  t.match(stopped, { delivered: 0, spooled: 0 }, 'an idle gateway: nothing left to deliver or to spool at the stop')
  t.notOk(p.lines.some(l => l.msg === DEADLINE_HELD), 'and nothing held the stop to its deadline')
  t.notOk(existsSync(spoolFile), 'nothing was left to spool')
  t.same(sorted(idsOf(sink.delivered())), sorted(expected), 'each event delivered once: the browser copy of the purchase was deduplicated')
})

/** Send the i-th of the "N events": alternately a browser JSON event (202) and a gtag hit (204). */
async function sendNumbered (base: string, prefix: string, i: number): Promise<{ id: string, res: HttpResponse }> {
  const id = `${prefix}-${i}`
  const res = i % 2 === 0
    ? await request(base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA }, body: browserJson(id) })
    : await request(`${base}/g/collect?${viewItemQuery(id)}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': CHROME_UA }, body: '' })
  return { id, res }
}

async function sendN (t: Test, base: string, prefix: string, n: number): Promise<string[]> {
  const sent: string[] = []
  for (let i = 0; i < n; i++) {
    const { id, res } = await sendNumbered(base, prefix, i)
    t.equal(res.status, i % 2 === 0 ? 202 : 204, `event ${id} accepted (${res.status})`)
    sent.push(id)
  }
  return sent
}

const attemptedIds = (reqs: SinkRequest[]): string[] => reqs.flatMap(r => idsOf(r.json?.events ?? []))

function hookConfig (dir: string, sink: Sink, o: { shutdownTimeoutMs: number, maxEvents?: number, maxWaitMs?: number, initialDelayMs?: number, timeoutMs?: number, concurrency?: number }): { file: string, spoolFile: string } {
  const spoolFile = join(dir, 'spool.jsonl')
  const file = writeConfig(dir, 'tagline.yaml', [
    serverBlock({ spoolFile, shutdownTimeoutMs: o.shutdownTimeoutMs }),
    'tags:',
    // No breaker pause: these runs are about the spool, and a pause could leave a late event
    // unattempted until its probe (a busy machine lets the first batch fail often before the last arrives).
    hookTag('hook', { url: sink.url, secret: WHSEC, maxEvents: o.maxEvents, maxWaitMs: o.maxWaitMs, initialDelayMs: o.initialDelayMs, timeoutMs: o.timeoutMs, concurrency: o.concurrency, breaker: '{ failures: 1000 }' })
  ].join('\n'))
  return { file, spoolFile }
}

/** The gateway's own word that it is idle: every tag's tagline_queue_depth on /metrics is 0. */
async function queuesEmpty (base: string): Promise<boolean> {
  const text = (await request(`${base}/metrics`)).body
  const depths = [...text.matchAll(/^tagline_queue_depth\{[^}]*\} (\d+)$/gm)].map(m => Number(m[1]))
  return depths.length > 0 && depths.every(d => d === 0)
}

/**
 * Signal the gateway and wait for it to exit 0 with its "tagline stopped" line (returned: it
 * counts what was delivered and spooled while stopping). Each further signal is sent once the
 * previous one is logged: two pending SIGTERMs would merge into one. A stop that hangs ends in the
 * test's timeout.
 */
async function stopAndCheck (t: Test, p: TaglineProcess, signals: NodeJS.Signals[] = ['SIGTERM']): Promise<LogLine | undefined> {
  p.signal(signals[0])
  if (signals.length > 1) await p.waitLog(l => l.msg === 'draining', 15_000, 'draining')
  for (const [i, s] of signals.slice(1).entries()) {
    p.signal(s)
    await until(() => p.lines.filter(l => String(l.msg).startsWith('already draining')).length === i + 1, 15_000, `${s} logged as "already draining"`)
  }
  const exit = await p.closed
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `${signals.join(' + ')}: exit 0`)
  const stopped = p.lines.find(l => l.msg === 'tagline stopped')
  t.ok(stopped, 'the stop is logged')
  return stopped
}

t.test('b. nothing accepted is lost on SIGTERM', async t => {
  const N = 6

  t.test('sink answers 503: the events are spooled, a failed start keeps the spool, the next start delivers them', async t => {
    const dir = tempDir(t)
    const sink = await startSink(t, () => 503)
    const shutdownTimeoutMs = 1000
    const { file, spoolFile } = hookConfig(dir, sink, { shutdownTimeoutMs, maxEvents: 2, maxWaitMs: 10, initialDelayMs: 150 })

    const first = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    const sent = await sendN(t, await first.url(), 'e503', N)
    await sink.waitFor(() => sent.every(id => attemptedIds(sink.requests).includes(id)), 'every event attempted at least once')
    t.same(sink.delivered(), [], 'nothing was acknowledged by the sink')
    t.match(await stopAndCheck(t, first), { delivered: 0, spooled: N }, 'the stop is logged with what was spooled')

    t.ok(existsSync(spoolFile), 'the spool file exists')
    t.equal((statSync(spoolFile).mode & 0o777).toString(8), '600', 'readable by the gateway\'s user only (it holds user data)')
    const spooled = readSpool(spoolFile)
    t.equal(spooled.length, N, `the spool holds exactly the ${N} events`)
    t.same(sorted(spooled.map(l => l.event.event_id)), sorted(sent), 'each accepted event, once')
    for (const l of spooled) t.match(l, { tag: 'hook', attempts: Number, batchId: String, event: { event_name: String } })
    const phase1Ids = new Set(sink.requests.map(r => String(r.headers['webhook-id'])))
    checkSignatures(t, sink)

    // A start that cannot listen must leave the spool alone.
    const spoolText = readFileSync(spoolFile, 'utf8')
    const busy = await occupiedPort(t)
    const failed = await runTagline(t, ['start', '--config', file, '--port', String(busy)])
    t.equal(failed.code, 1, 'a start on a port in use exits 1')
    t.match(failed.stderr, /EADDRINUSE|address already in use/, 'saying why')
    t.equal(existsSync(spoolFile) ? readFileSync(spoolFile, 'utf8') : '(gone)', spoolText, 'and the spool is untouched')

    // The next start, with a sink that works again.
    sink.respond = () => 200
    const from = sink.requests.length
    const second = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    await second.url()
    t.notOk(existsSync(spoolFile), 'the spool is consumed at start')
    await sink.waitFor(() => sent.every(id => idsOf(sink.delivered()).includes(id)), 'all spooled events delivered')
    t.same(sorted(idsOf(sink.delivered())), sorted(sent), 'all N arrive, none twice')
    const phase2 = sink.requests.slice(from)
    checkSignatures(t, sink, from)
    t.ok(phase2.every(r => phase1Ids.has(String(r.headers['webhook-id']))), 'replayed batches keep their webhook-id across the restart')
    t.match(await stopAndCheck(t, second), { spooled: 0 })
    t.notOk(existsSync(spoolFile), 'nothing is spooled again')
  })

  t.test('sink never answers: in-flight requests are cut at the deadline and spooled; neither a stalled client nor repeated signals stop that', async t => {
    const dir = tempDir(t)
    const sink = await startSink(t, () => 'hang')
    const shutdownTimeoutMs = 800
    // Concurrency N: every event in flight at once however the sends fall into batches (on a busy
    // machine each can be a batch of its own, and a fifth batch waited for a slot: the 30 s timeout).
    const { file, spoolFile } = hookConfig(dir, sink, { shutdownTimeoutMs, maxEvents: 2, maxWaitMs: 10, timeoutMs: 30_000, concurrency: N })

    const first = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    const base = await first.url()
    const sent = await sendN(t, base, 'hang', N)
    await sink.waitFor(() => sent.every(id => attemptedIds(sink.requests).includes(id)), 'every event in flight')
    // A client whose request body never completes: it must not hold the shutdown past the deadline.
    const stalled = await stalledRequest(t, base)
    // A second SIGTERM and a Ctrl-C (as when both npm and node get it) while draining.
    const stopped = await stopAndCheck(t, first, ['SIGTERM', 'SIGTERM', 'SIGINT'])
    t.equal(first.lines.filter(l => String(l.msg).startsWith('already draining')).length, 2, 'the extra signals are logged, not obeyed')
    t.match(first.lines.find(l => l.msg === DEADLINE_HELD), { afterMs: shutdownTimeoutMs }, 'the stop waited for the stalled client until the deadline, then closed its connection')
    await until(() => stalled.destroyed || stalled.readableEnded, 5000, 'the stalled client cut off')
    t.pass('the stalled client was cut off')
    t.match(stopped, { delivered: 0, spooled: N }, 'the stop is logged with what was spooled')
    const spooled = readSpool(spoolFile)
    t.equal(spooled.length, N, `the spool holds exactly the ${N} events`)
    t.same(sorted(spooled.map(l => l.event.event_id)), sorted(sent))
    t.same(spooled.filter(l => l.attempts !== 1 || l.lastReason !== 'ABORTED_AT_SHUTDOWN'), [], 'each was in flight and cut by the deadline (its 30 s timeout never came)')

    sink.respond = () => 200
    const second = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    await second.url()
    await sink.waitFor(() => sent.every(id => idsOf(sink.delivered()).includes(id)), 'all spooled events delivered')
    t.same(sorted(idsOf(sink.delivered())), sorted(sent), 'all N arrive, none twice')
    t.notOk(existsSync(spoolFile), 'the spool file is gone')
    t.match(await stopAndCheck(t, second), { spooled: 0 })
    t.notOk(existsSync(spoolFile), 'nothing is spooled again')
  })

  t.test('healthy sink: events still waiting for their batch are sent before exit, no spool', async t => {
    const dir = tempDir(t)
    const sink = await startSink(t)
    const shutdownTimeoutMs = 5000
    // A batch would wait 20 s: only the shutdown flush can send these in time.
    const { file, spoolFile } = hookConfig(dir, sink, { shutdownTimeoutMs, maxEvents: 100, maxWaitMs: 20_000 })
    const p = spawnTagline(t, ['start', '--config', file], { env: { PORT: '0' } })
    const sent = await sendN(t, await p.url(), 'ok', N)
    t.equal(sink.requests.length, 0, 'nothing sent yet: the batch is still open')
    const requestsAtExit = p.exited.then(() => sink.requests.length)
    const stopped = await stopAndCheck(t, p)
    // The batch timer would fire only after the deadline: whatever it had sent would be spooled.
    t.match(stopped, { delivered: N, spooled: 0 }, 'the stop flushed the open batch: all N delivered while stopping, none spooled')
    t.equal(sink.requests.length, 1, 'in one request: the open batch, sent as it was')
    t.same(sorted(idsOf(sink.delivered())), sorted(sent), 'all N delivered before the process exited')
    t.equal(await requestsAtExit, sink.requests.length, 'every request arrived before the exit')
    checkSignatures(t, sink)
    t.notOk(existsSync(spoolFile), 'no spool file')
  })
})

t.test('c. the command line', async t => {
  t.test('validate: a good file exits 0; a bad one exits 1 naming file:line, key path and a sentence for each problem', async t => {
    const dir = tempDir(t)
    const good = writeConfig(dir, 'good.yaml', [
      serverBlock({ spoolFile: join(dir, 'spool.jsonl') }),
      'auth:',
      '  apiKeys: ["${TL_E2E_KEY:-dev-key-for-e2e-tests}"]',
      'triggers:',
      '  purchase: { event_name: purchase }',
      '  staging: { page_location: { matches: "^https://staging\\\\." } }',
      'tags:',
      hookTag('hook', { url: 'https://crm.example/hooks/tagline', secret: WHSEC }),
      '    fireOn: [purchase]',
      '    blockOn: [staging]',
      '  - name: console',
      '    type: log'
    ].join('\n'))
    const bad = writeConfig(dir, 'bad.yaml', [
      'server:', //                                                    1
      '  port: 8080', //                                               2
      '  colour: blue', //                                             3  unknown key
      'auth:', //                                                      4
      '  apiKeys: ["${TL_E2E_SURELY_UNSET_KEY}"]', //                  5  missing env var
      'triggers:', //                                                  6
      '  staging: { page_location: { matches: "^https://(staging" } }', // 7  bad regex
      'tags:',
      '  - name: console',
      '    type: log'
    ].join('\n'))
    const syntax = writeConfig(dir, 'syntax.yaml', ['server:', '  port: 8080', '\thost: 127.0.0.1', 'tags: []'].join('\n'))
    const env = { TL_E2E_SURELY_UNSET_KEY: undefined, TL_E2E_KEY: undefined }
    const [g, r, s] = await Promise.all([good, bad, syntax].map(async f => await runTagline(t, ['validate', f], { env })))

    t.equal(g.code, 0, `a good file: exit 0 (stderr: ${g.stderr})`)
    t.match(g.stdout, `${good}: valid`)
    t.equal(g.stderr, '')

    const sentence = /^\S+(\s+\S+){2,}/ // a few words at least
    const expected = [
      { line: 3, path: 'server.colour', says: /unknown key/i },
      { line: 5, path: 'auth.apiKeys[0]', says: /environment variable TL_E2E_SURELY_UNSET_KEY is not set/ },
      { line: 7, path: 'triggers.staging.page_location.matches', says: /regular expression/i }
    ]
    t.equal(r.code, 1, 'a file with three problems: exit 1')
    t.equal(r.stdout, '', 'nothing on stdout')
    const reported = r.stderr.trim().split('\n')
    t.equal(reported.length, expected.length, `one line per problem:\n${r.stderr}`)
    for (const e of expected) {
      const line = reported.find(l => l.startsWith(`${bad}:${e.line}:`))
      t.ok(line, `stderr names ${bad}:${e.line}`)
      if (line === undefined) continue
      const text = line.replace(/^\S+:\d+:\d+ /, '')
      t.ok(text.startsWith(`${e.path}: `), `line ${e.line} names the key path ${e.path}: ${line}`)
      t.match(text.slice(e.path.length + 2), sentence, `line ${e.line} has a sentence`)
      t.match(text, e.says, `line ${e.line} says what is wrong`)
    }
    t.notOk(/\n\s+at /.test(r.stderr), 'no stack trace')

    t.equal(s.code, 1, 'a YAML syntax error: exit 1')
    t.match(s.stderr, new RegExp(`^${syntax.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+ YAML syntax error: .*tab`, 'im'), `names the file:line and what is wrong: ${s.stderr}`)

    // Several files (a shell glob): each is checked, the worst result is the exit code.
    const missing = join(dir, 'missing.yaml')
    const all = await runTagline(t, ['validate', good, bad, missing], { env })
    t.equal(all.code, 2, 'a good, a bad and an unreadable file: exit 2')
    t.match(all.stdout.trim(), new RegExp(`^${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: valid \\(2 tags, \\d+ triggers\\)$`), 'the good one is said valid, once')
    t.ok(expected.every(e => all.stderr.includes(`${bad}:${e.line}:`)), `the bad one's problems are listed:\n${all.stderr}`)
    t.match(all.stderr, `tagline validate: cannot read ${missing}`, 'the unreadable one is named')
  })

  t.test('start with no --config runs the quickstart; SIGTERM exits 0', async t => {
    const cwd = tempDir(t)
    const p = spawnTagline(t, ['start'], { cwd, env: { PORT: '0' } })
    const base = await p.url()
    t.ok(p.lines.some(l => l.msg?.includes('quickstart')), 'it says it runs the quickstart config')
    const health = await request(base + '/healthz')
    t.equal(health.status, 200, '/healthz 200')
    const ready = await request(base + '/readyz')
    t.equal(ready.status, 200, '/readyz 200')
    const posted = await request(base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_name: 'sign_up', event_id: 'qs-e2e-1', params: { method: 'google' } }) })
    t.equal(posted.status, 202, 'a posted event is accepted')
    t.same(posted.json?.event_ids, ['qs-e2e-1'])
    await p.waitLog(l => l.msg === 'log request' && String(l.request?.body).includes('qs-e2e-1'), 5000, 'the console tag printed the event')
    await p.waitLog(l => l.msg === 'dry run: request not sent' && String(l.request?.body).includes('qs-e2e-1'), 5000, 'the dry-run webhook built its request')
    t.match(await stopAndCheck(t, p), { spooled: 0 })
    t.notOk(existsSync(join(cwd, 'data', 'spool.jsonl')), 'nothing spooled in the working directory')
  })

  t.test('usage, unknown commands, a missing config file, a bad --port', async t => {
    const dir = tempDir(t)
    const [none, unknown, missing, badPort] = await Promise.all([
      runTagline(t, []),
      runTagline(t, ['frobnicate']),
      runTagline(t, ['start', '--config', join(dir, 'missing.yaml')], { env: { PORT: '0' } }),
      runTagline(t, ['start', '--port', 'eighty'])
    ])
    t.equal(none.code, 1, 'no arguments: exit 1')
    t.match(none.stdout + none.stderr, /Usage:[\s\S]*tagline start[\s\S]*tagline validate/, 'and the usage')
    t.equal(unknown.code, 2, 'an unknown command: exit 2')
    t.match(unknown.stderr, 'unknown command "frobnicate"')
    t.match(unknown.stderr, 'Usage:')
    t.equal(missing.code, 1, 'start with a missing config file: exit 1')
    t.match(missing.stderr, `${join(dir, 'missing.yaml')}`)
    t.match(missing.stderr, /no such file/)
    t.equal(badPort.code, 2, 'start --port with a non-number: exit 2')
    t.match(badPort.stderr, /--port/)
  })
})

t.test('d. PORT overrides server.port in the file; --port overrides both', async t => {
  const dir = tempDir(t)
  const busy = await occupiedPort(t) // the file's port: a start that used it would fail
  const file = writeConfig(dir, 'tagline.yaml', [serverBlock({ port: busy, spoolFile: join(dir, 'spool.jsonl') }), 'tags:', '  - name: console', '    type: log'].join('\n'))
  const wanted = await freePort()
  const viaEnv = spawnTagline(t, ['start', '--config', file], { env: { PORT: String(wanted) } })
  const viaFlag = spawnTagline(t, ['start', '--config', file, '--port', '0'], { env: { PORT: String(busy) } })
  const badRun = runTagline(t, ['start', '--config', file], { env: { PORT: 'http' } })
  const [envUrl, flagUrl] = await Promise.all([viaEnv.url(), viaFlag.url()])
  t.equal(envUrl, `http://127.0.0.1:${wanted}`, 'PORT=<n> is the port listened on')
  t.not(flagUrl, `http://127.0.0.1:${busy}`, '--port 0 beats PORT')
  t.equal((await request(envUrl + '/healthz')).status, 200)
  t.equal((await request(flagUrl + '/healthz')).status, 200)
  const bad = await badRun
  t.equal(bad.code, 1, 'a PORT that is not a port number: exit 1')
  t.match(bad.stderr, /server\.port/)
  t.match(bad.stderr, /PORT/)
  await Promise.all([stopAndCheck(t, viaEnv), stopAndCheck(t, viaFlag)])
})
