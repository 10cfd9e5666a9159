// The live debug view's page (server/debug/page.ts) in a real headless Chromium, fed by a stand-in
// for the gateway's stream: a node:http server serving DEBUG_PAGE at /debug and an SSE endpoint at
// /debug/stream that replays its ring on every connection, as the gateway's does, and that the
// test drives entry by entry. TAGLINE_SCREENSHOT=1 also saves docs/debug-view-fixture.png.
import t from 'tap'
import { CHROMIUM, chromiumReady } from '../fixtures/chromium.js'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { DEBUG_PAGE, DEBUG_PAGE_MAX_REQUESTS } from '../../server/debug/page.js'
import type { TraceEntry, TracedExchange, TracedOutcome, TracedRequest } from '../../server/debug/trace.js'
import { DELIVERY_OUTCOMES, ROUTING_OUTCOMES } from '../../common/outcome.js'
import { until } from '../fixtures/wait.js'
import type { Owner } from '../fixtures/sink.js'

const XSS = '<img src=x onerror=alert(1)>'
const T0 = Date.UTC(2026, 5, 10, 14, 3, 7, 120)

/** The stand-in stream: hello then the ring on every connection, then whatever the test sends. */
async function startStream (t: Owner): Promise<{ url: string, send: (e: TraceEntry) => void, drop: () => void, connections: () => number, paths: string[] }> {
  const ring: TraceEntry[] = []
  const open = new Set<ServerResponse>()
  let connections = 0
  const paths: string[] = []
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    paths.push(req.url ?? '')
    if (path === '/debug') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(DEBUG_PAGE)
    } else if (path === '/debug/stream') {
      connections++
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
      res.write('retry: 150\n\n')
      res.write(`event: hello\ndata: ${JSON.stringify({ replica: 'gw-a:4242', fleet: true, ring: 1000 })}\n\n`)
      for (const e of ring) res.write(`event: trace\ndata: ${JSON.stringify(e)}\n\n`)
      open.add(res)
      res.on('close', () => open.delete(res))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const res of open) res.destroy()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    send: e => {
      ring.push(e)
      for (const res of open) res.write(`event: trace\ndata: ${JSON.stringify(e)}\n\n`)
    },
    drop: () => { for (const res of open) res.destroy() },
    connections: () => connections,
    paths
  }
}

function request (id: string, at: number, over: Partial<TracedRequest> = {}): TracedRequest {
  return {
    kind: 'request',
    id,
    at,
    replica: 'gw-a:4242',
    marked: false,
    client: 'gtag',
    request: { method: 'POST', url: '/g/collect?v=2&tid=G-ABC123XYZ9', ip: '203.0.113.0', headers: { 'user-agent': 'Mozilla/5.0', cookie: '[redacted]' } },
    events: [],
    decisions: [],
    ...over
  }
}

function outcome (tag: string, eventId: string, name: string, word: TracedOutcome['outcome'], at: number, over: Partial<TracedOutcome> = {}): TracedOutcome {
  return { kind: 'outcome', at, replica: 'gw-b:777', tag, event_id: eventId, event_name: name, outcome: word, ...over }
}

function exchange (tag: string, batchId: string, attempt: number, eventIds: string[], at: number, over: Partial<TracedExchange> = {}): TracedExchange {
  return {
    kind: 'exchange',
    at,
    replica: 'gw-b:777',
    tag,
    batchId,
    attempt,
    event_ids: eventIds,
    request: { method: 'POST', url: 'https://graph.facebook.com/v21.0/123/events?access_token=[redacted]', headers: { 'content-type': 'application/json' }, body: '{"data":[{"event_name":"Purchase"}]}' },
    answer: { status: 200, body: '{"events_received":1}' },
    result: 'ok',
    durationMs: 87,
    ...over
  }
}

const count = async (page: Page, selector: string): Promise<number> => await page.locator(selector).count()
const visible = async (page: Page, selector: string): Promise<number> => await page.locator(`${selector}:visible`).count()

if (chromiumReady('debug page in a browser')) {
  t.test('the debug page: join, filters, pause, JSON panel, escaping, reconnect, bound', async t => {
    t.notMatch(DEBUG_PAGE, /<(script|link|img)[^>]+(src|href)=/i, 'no external script, stylesheet or image')
    for (const word of [...Object.keys(ROUTING_OUTCOMES), ...Object.keys(DELIVERY_OUTCOMES)]) t.match(DEBUG_PAGE, `"${word}"`, `the page knows ${word}`)

    const stream = await startStream(t)
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 15_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    t.teardown(async () => { await browser.close().catch(() => {}) })
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } })
    page.setDefaultTimeout(5000)
    const pageErrors: string[] = []
    const dialogs: string[] = []
    const outside: string[] = []
    page.on('pageerror', e => pageErrors.push(e.message))
    page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
    page.on('request', r => { if (!r.url().startsWith(stream.url)) outside.push(r.url()) })

    await page.goto(`${stream.url}/debug?token=s3cret`)
    await page.getByTestId('status').filter({ hasText: 'gw-a:4242' }).waitFor()
    t.equal(await page.getByTestId('status').getAttribute('data-state'), 'connected')
    t.match(await page.getByTestId('status').textContent(), /connected.*gw-a:4242.*fleet/, 'the status names the replica and the fleet flag')
    t.ok(stream.paths.includes('/debug/stream?token=s3cret'), 'the stream is /debug/stream with the page\'s query string')

    // (1) An outcome and an exchange for ev-late arrive before its request (another replica delivered it).
    stream.send(outcome('meta', 'ev-late', 'purchase', 'retried', T0 + 400, { reason: 'HTTP 503' }))
    stream.send(exchange('meta', 'b-1', 1, ['ev-late'], T0 + 390, { answer: { status: 503, body: 'unavailable' }, result: 'retry', reason: 'HTTP 503' }))
    stream.send(exchange('meta', 'b-2', 2, ['ev-late'], T0 + 900))
    stream.send(outcome('meta', 'ev-late', 'purchase', 'sent', T0 + 910, { sent_event_id: 'gw-minted-1' }))
    await until(async () => (await page.getByTestId('stats').textContent())?.includes('request not seen') === true, 5000, 'the early deliveries counted')
    t.equal(await count(page, '[data-testid=request]'), 0, 'no request yet')

    stream.send(request('r1', T0, {
      events: [
        { event_id: 'ev-late', event_name: 'purchase', client_id: '111.222', browser_event_id: null, event: { event_name: 'purchase', value: 42, currency: 'EUR' } },
        { event_id: 'ev-2', event_name: 'page_view', client_id: '333.444', browser_event_id: 'abc-123', event: { event_name: 'page_view', page_location: 'https://shop.example/' } }
      ],
      decisions: [
        { event_id: 'ev-late', tag: 'meta', outcome: 'queued' },
        { event_id: 'ev-late', tag: 'ga4', outcome: 'blocked_by_trigger', detail: 'internal_traffic' },
        { event_id: 'ev-2', tag: 'meta', outcome: 'queued' },
        { event_id: 'ev-2', tag: 'tiktok', outcome: 'queued' },
        { event_id: 'ev-2', tag: 'ga4', outcome: 'queued' }
      ]
    }))
    stream.send(request('r2', T0 + 1000, {
      marked: true,
      client: 'datalayer',
      request: { method: 'POST', url: '/collect?x="><script>alert(2)</script>', headers: {} },
      events: [{ event_id: 'ev-x', event_name: XSS, client_id: '555.666', browser_event_id: 'bx-1', event: { event_name: XSS } }],
      decisions: [{ event_id: 'ev-x', tag: 'meta', outcome: 'blocked_by_consent', detail: 'ad_storage' }]
    }))
    // Deliveries after the request.
    stream.send(outcome('meta', 'ev-2', 'page_view', 'sent', T0 + 300, { sent_event_id: 'abc-123' }))
    stream.send(outcome('tiktok', 'ev-2', 'page_view', 'sent', T0 + 310, { sent_event_id: 'tt-999' }))
    stream.send(outcome('ga4', 'ev-2', 'page_view', 'dropped', T0 + 320, { reason: 'HTTP 400 invalid measurement_id' }))

    await until(async () => await count(page, '[data-testid=request]') === 2, 5000, 'two requests')
    t.same(await page.getByTestId('request').evaluateAll(els => els.map(e => e.getAttribute('data-id'))), ['r2', 'r1'], 'newest first')
    t.same(await page.getByTestId('request').evaluateAll(els => els.map(e => e.getAttribute('data-marked'))), ['true', 'false'])
    t.equal(await count(page, '[data-id=r2] [data-testid=marked]'), 1, 'the marked request has its badge')
    t.equal(await count(page, '[data-id=r1] [data-testid=marked]'), 0, 'the other has none')
    t.equal(await page.locator('[data-id=r1] [data-testid=request-count]').textContent(), '2 events')
    t.equal(await page.locator('[data-id=r1] [data-testid=request-client]').textContent(), 'gtag')

    const late = page.locator('[data-testid=event][data-event-id=ev-late]')
    const lateMeta = late.locator('[data-testid=tag-row][data-tag=meta]')
    await until(async () => await lateMeta.getAttribute('data-outcome') === 'sent', 5000, 'ev-late at meta: sent')
    t.same(await lateMeta.locator('[data-testid=outcome]').evaluateAll(els => els.map(e => `${e.getAttribute('data-kind') ?? ''}:${e.textContent ?? ''}`)),
      ['routing:queued', 'delivery:retried', 'delivery:sent'], 'routing, then the deliveries that arrived before the request, in time order')
    t.equal(await lateMeta.locator('[data-testid=exchange]').count(), 2, 'both exchanges under ev-late / meta')
    t.same(await lateMeta.locator('[data-testid=exchange]').evaluateAll(els => els.map(e => e.getAttribute('data-result'))), ['retry', 'ok'])
    t.match(await lateMeta.locator('[data-testid=exchange]').first().locator('summary').textContent(), /#1 POST https:\/\/graph\.facebook\.com.*503.*retry/)
    t.equal(await late.locator('[data-testid=tag-row][data-tag=ga4] [data-testid=outcome-detail]').textContent(), 'internal_traffic', 'the routing detail')
    t.equal(await late.locator('[data-testid=tag-row][data-tag=ga4]').getAttribute('data-outcome'), 'blocked_by_trigger')
    t.equal(await late.locator('[data-testid=tag-row][data-tag=ga4] [data-testid=exchange]').count(), 0, 'no exchange under the blocked tag')
    t.match(await late.getByTestId('no-browser-id').textContent(), /no event_id from the browser: minted by the gateway/, 'the minted event_id is flagged')
    t.equal(await late.locator('[data-testid=sent-id]').textContent(), 'meta got gw-minted-1')

    const ev2 = page.locator('[data-testid=event][data-event-id=ev-2]')
    t.equal(await ev2.getByTestId('browser-id').textContent(), 'browser sent abc-123')
    t.equal(await ev2.getByTestId('no-browser-id').count(), 0)
    t.equal(await ev2.locator('[data-tag=meta] [data-testid=sent-id]').getAttribute('data-differs'), 'false', 'meta got the browser\'s id')
    t.equal(await ev2.locator('[data-tag=tiktok] [data-testid=sent-id]').getAttribute('data-differs'), 'true', 'tiktok got another: highlighted')
    t.equal(await ev2.locator('[data-tag=tiktok] [data-testid=sent-id]').textContent(), 'tiktok got tt-999')
    t.equal(await ev2.locator('[data-tag=ga4] [data-testid=outcome-detail]').textContent(), 'HTTP 400 invalid measurement_id', 'the delivery reason')
    const colour = async (sel: string): Promise<string> => await page.locator(sel).first().evaluate(e => getComputedStyle(e).color)
    t.not(await colour('[data-testid=outcome][data-outcome=sent]'), await colour('[data-testid=outcome][data-outcome=dropped]'), 'sent and dropped are coloured apart')
    t.not(await colour('[data-testid=outcome][data-outcome=retried]'), await colour('[data-testid=outcome][data-outcome=blocked_by_trigger]'))

    // (2) Attacker-controlled text is text.
    const x = page.locator('[data-testid=event][data-event-id=ev-x]')
    t.equal(await x.getByTestId('event-name').textContent(), XSS, 'the event name shows as typed')
    t.equal(await x.locator('[data-testid=event-name] *').count(), 0, 'and creates no element')
    t.equal(await count(page, 'img'), 0, 'no <img> anywhere')
    t.equal(await count(page, 'script'), 1, 'no script but the page\'s own')
    t.equal(await page.locator('[data-id=r2] [data-testid=request-path]').textContent(), 'POST /collect?x="><script>alert(2)</script>')

    // (3) Filters narrow and clearing restores.
    const requests = async (): Promise<number> => await visible(page, '[data-testid=request]')
    const events = async (): Promise<number> => await visible(page, '[data-testid=event]')
    t.equal(await requests(), 2); t.equal(await events(), 3)
    await page.getByTestId('filter-event').fill('page_v')
    await until(async () => await events() === 1, 2000, 'event filter')
    t.equal(await requests(), 1)
    t.equal(await visible(page, '[data-testid=event][data-event-id=ev-2]'), 1, 'only page_view')
    await page.getByTestId('filter-event').fill('')
    await until(async () => await events() === 3, 2000, 'event filter cleared')

    await page.getByTestId('filter-tag').fill('TIK')
    await until(async () => await events() === 1, 2000, 'tag filter')
    t.equal(await visible(page, '[data-testid=tag-row]'), 1, 'only the tiktok row')
    await page.getByTestId('filter-tag').fill('')
    await until(async () => await events() === 3, 2000, 'tag filter cleared')
    t.equal(await visible(page, '[data-testid=tag-row]'), 6)

    await page.getByTestId('filter-client').fill('555')
    await until(async () => await events() === 1, 2000, 'client filter')
    t.equal(await visible(page, '[data-testid=event][data-event-id=ev-x]'), 1)
    await page.getByTestId('filter-client').fill('')
    await until(async () => await events() === 3, 2000, 'client filter cleared')

    const options = await page.getByTestId('filter-outcome').locator('option').evaluateAll(els => els.map(e => (e as HTMLOptionElement).value))
    t.same(options, ['', ...Object.keys(ROUTING_OUTCOMES), ...Object.keys(DELIVERY_OUTCOMES)], 'every outcome word is offered')
    await page.getByTestId('filter-outcome').selectOption('dropped')
    await until(async () => await events() === 1, 2000, 'outcome filter: dropped')
    t.equal(await visible(page, '[data-testid=event][data-event-id=ev-2]'), 1, 'ev-2 has a dropped tag')
    await page.getByTestId('filter-outcome').selectOption('retried')
    await until(async () => await visible(page, '[data-testid=event][data-event-id=ev-late]') === 1 && await events() === 1, 2000, 'outcome filter: retried')
    await page.getByTestId('filter-outcome').selectOption('blocked_by_consent')
    await until(async () => await visible(page, '[data-testid=event][data-event-id=ev-x]') === 1 && await events() === 1, 2000, 'outcome filter: blocked_by_consent')
    await page.getByTestId('filter-outcome').selectOption('')
    await until(async () => await events() === 3, 2000, 'outcome filter cleared')

    await page.getByTestId('filter-marked').check()
    await until(async () => await requests() === 1, 2000, 'marked filter')
    t.equal(await visible(page, '[data-testid=request][data-id=r2]'), 1)
    // a filter applies to what arrives too
    stream.send(request('r-unmarked', T0 + 1500, { events: [{ event_id: 'ev-u', event_name: 'scroll', browser_event_id: null, event: {} }] }))
    stream.send(request('r-marked', T0 + 1600, { marked: true, events: [{ event_id: 'ev-m', event_name: 'scroll', browser_event_id: 'm-1', event: {} }] }))
    await until(async () => await count(page, '[data-testid=request]') === 4, 2000, 'the two arrivals')
    t.equal(await requests(), 2, 'the unmarked arrival is hidden')
    await page.getByTestId('filter-marked').uncheck()
    await until(async () => await requests() === 4, 2000, 'marked filter cleared')

    // (4) Pause holds, resume shows.
    await page.getByTestId('pause').click()
    t.equal(await page.getByTestId('pause').textContent(), 'Resume (0 new)')
    stream.send(request('r3', T0 + 2000, { events: [{ event_id: 'ev-3', event_name: 'add_to_cart', browser_event_id: 'atc-1', event: {} }], decisions: [{ event_id: 'ev-3', tag: 'meta', outcome: 'queued' }] }))
    stream.send(outcome('meta', 'ev-3', 'add_to_cart', 'sent', T0 + 2100, { sent_event_id: 'atc-1' }))
    await until(async () => await page.getByTestId('pause').textContent() === 'Resume (2 new)', 2000, 'the button counts what is held')
    await new Promise(resolve => setTimeout(resolve, 100))
    t.equal(await count(page, '[data-testid=request]'), 4, 'the list does not move while paused')
    await page.getByTestId('pause').click()
    await until(async () => await count(page, '[data-testid=request]') === 5, 2000, 'resume shows what was held')
    t.equal(await page.getByTestId('pause').textContent(), 'Pause')
    t.equal(await page.getByTestId('request').first().getAttribute('data-id'), 'r3', 'at the top')
    t.equal(await page.locator('[data-event-id=ev-3] [data-tag=meta]').getAttribute('data-outcome'), 'sent')

    // (5) Clicking an event shows its JSON and its exchanges'.
    t.equal(await visible(page, '[data-testid=json-panel]'), 0, 'no panel before a click')
    await late.getByTestId('event-name').click()
    await page.getByTestId('json-panel').waitFor()
    const shown = JSON.parse(await page.getByTestId('json-event').textContent() ?? '')
    t.match(shown, { event_id: 'ev-late', event_name: 'purchase', browser_event_id: null, event: { value: 42, currency: 'EUR' }, request: { id: 'r1' } }, 'the event\'s JSON')
    t.equal(shown.outcomes.length, 2)
    const xs = JSON.parse(await page.getByTestId('json-exchanges').textContent() ?? '')
    t.same(xs.map((e: TracedExchange) => e.batchId).sort(), ['b-1', 'b-2'], 'and its exchanges')
    // the panel follows later entries for the event
    stream.send(outcome('ga4', 'ev-late', 'purchase', 'shed', T0 + 3000))
    await until(async () => (await page.getByTestId('json-event').textContent())?.includes('"shed"') === true, 2000, 'the panel updates')
    await page.getByTestId('json-close').click()
    await until(async () => await visible(page, '[data-testid=json-panel]') === 0, 2000, 'the panel closes')

    // (6) A reconnect replays the ring: nothing twice.
    const snapshot = async (): Promise<number[]> => [
      await count(page, '[data-testid=request]'), await count(page, '[data-testid=event]'), await count(page, '[data-testid=tag-row]'),
      await count(page, '[data-testid=outcome]'), await count(page, '[data-testid=exchange]')
    ]
    const before = await snapshot()
    const connectionsBefore = stream.connections()
    stream.drop()
    await until(async () => stream.connections() > connectionsBefore, 5000, 'the page reconnects')
    await until(async () => await page.getByTestId('status').getAttribute('data-state') === 'connected', 5000, 'connected again')
    stream.send(request('r4', T0 + 4000, { events: [] }))
    await until(async () => await count(page, '[data-testid=request]') === before[0] + 1, 2000, 'the live entry after the replay')
    const after = await snapshot()
    t.same(after, [before[0] + 1, ...before.slice(1)], 'the replayed ring added nothing twice')

    // (7) At most DEBUG_PAGE_MAX_REQUESTS requests, the oldest dropped.
    for (let i = 0; i < DEBUG_PAGE_MAX_REQUESTS + 20; i++) {
      stream.send(request(`bulk-${i}`, T0 + 10_000 + i, { events: [{ event_id: `bulk-ev-${i}`, event_name: 'page_view', browser_event_id: `b-${i}`, event: {} }] }))
    }
    await until(async () => await count(page, '[data-testid=request][data-id=bulk-519]') === 1, 5000, 'the bulk arrived')
    t.equal(await count(page, '[data-testid=request]'), DEBUG_PAGE_MAX_REQUESTS, 'bounded')
    t.equal(await count(page, '[data-testid=request][data-id=r1]'), 0, 'the oldest went first')
    t.equal(await count(page, '[data-testid=request][data-id=bulk-19]'), 0, 'then the oldest bulk ones')
    t.equal(await count(page, '[data-testid=request][data-id=bulk-20]'), 1)

    // (8) Clear.
    await page.getByTestId('clear').click()
    await until(async () => await count(page, '[data-testid=request]') === 0, 2000, 'cleared')

    t.same(dialogs, [], 'no dialog opened')
    t.same(pageErrors, [], 'no page errors')
    t.same(outside, [], 'the page loads nothing from anywhere else')

    if (process.env.TAGLINE_SCREENSHOT === '1') {
      for (const e of showcase(T0 + 60_000)) stream.send(e)
      await until(async () => await count(page, '[data-testid=request]') === 4, 3000, 'the showcase')
      await page.locator('[data-testid=event][data-event-id=sc-purchase]').getByTestId('event-name').click()
      await page.locator('[data-event-id=sc-purchase] [data-tag=meta] [data-testid=exchange] summary').first().click()
      await page.waitForTimeout(100)
      const file = fileURLToPath(new URL('../../docs/debug-view-fixture.png', import.meta.url))
      await page.screenshot({ path: file })
      t.pass(`screenshot saved to ${file}`)
    }
  })
}

/** Realistic traffic for the screenshot. */
function showcase (at: number): TraceEntry[] {
  const ua = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
  return [
    request('sc-1', at, {
      request: { method: 'GET', url: '/g/collect?v=2&tid=G-ABC123XYZ9&cid=1234567890.1717000000&en=page_view&dl=https%3A%2F%2Fshop.example%2F', ip: '203.0.113.0', headers: { 'user-agent': ua, cookie: '[redacted]' } },
      events: [{ event_id: 'pv-7f3a', event_name: 'page_view', client_id: '1234567890.1717000000', browser_event_id: 'pv-7f3a', event: { event_name: 'page_view', page_location: 'https://shop.example/' } }],
      decisions: [
        { event_id: 'pv-7f3a', tag: 'ga4', outcome: 'queued' },
        { event_id: 'pv-7f3a', tag: 'meta', outcome: 'queued' },
        { event_id: 'pv-7f3a', tag: 'tiktok', outcome: 'blocked_by_consent', detail: 'ad_storage' },
        { event_id: 'pv-7f3a', tag: 'hook', outcome: 'not_triggered' }
      ]
    }),
    outcome('ga4', 'pv-7f3a', 'page_view', 'sent', at + 120),
    outcome('meta', 'pv-7f3a', 'page_view', 'sent', at + 140, { sent_event_id: 'pv-7f3a.meta' }),
    request('sc-2', at + 2_300, {
      marked: true,
      client: 'datalayer',
      request: { method: 'POST', url: '/collect', ip: '198.51.100.0', headers: { 'user-agent': ua, 'content-type': 'application/json', 'x-tagline-debug': '1' }, body: '{"event":"purchase","ecommerce":{"value":129.9,"currency":"EUR"}}' },
      events: [{ event_id: 'sc-purchase', event_name: 'purchase', client_id: '1234567890.1717000000', browser_event_id: null, event: { event_name: 'purchase', value: 129.9, currency: 'EUR', transaction_id: 'T-10023', items: [{ item_id: 'SKU_12345', quantity: 1 }] } }],
      decisions: [
        { event_id: 'sc-purchase', tag: 'ga4', outcome: 'queued' },
        { event_id: 'sc-purchase', tag: 'meta', outcome: 'queued' },
        { event_id: 'sc-purchase', tag: 'tiktok', outcome: 'queued' },
        { event_id: 'sc-purchase', tag: 'hook', outcome: 'queued' }
      ]
    }),
    exchange('meta', 'mb-41', 1, ['sc-purchase'], at + 2_400, { answer: { status: 503, body: '{"error":{"message":"Service temporarily unavailable","code":2}}' }, result: 'retry', reason: 'HTTP 503', durationMs: 312 }),
    outcome('meta', 'sc-purchase', 'purchase', 'retried', at + 2_401, { reason: 'HTTP 503' }),
    exchange('meta', 'mb-41', 2, ['sc-purchase'], at + 4_450, { durationMs: 95 }),
    outcome('meta', 'sc-purchase', 'purchase', 'sent', at + 4_451, { sent_event_id: 'gw-01J0Z8K2M4' }),
    exchange('tiktok', 'tb-9', 1, ['sc-purchase'], at + 2_380, { request: { method: 'POST', url: 'https://business-api.tiktok.com/open_api/v1.3/event/track/', headers: { 'access-token': '[redacted]', 'content-type': 'application/json' }, body: '{"event_source":"web","data":[{"event":"CompletePayment"}]}' }, answer: { status: 200, body: '{"code":0,"message":"OK"}' }, durationMs: 141 }),
    outcome('tiktok', 'sc-purchase', 'purchase', 'sent', at + 2_381, { sent_event_id: 'gw-01J0Z8K2M4' }),
    outcome('ga4', 'sc-purchase', 'purchase', 'sent', at + 2_390),
    exchange('hook', 'hb-3', 1, ['sc-purchase'], at + 2_395, { request: { method: 'POST', url: 'https://hooks.internal.example/tagline', headers: { 'webhook-signature': '[redacted]' }, body: '{"event_name":"purchase"}' }, answer: { status: 422, body: '{"error":"unknown field value"}' }, result: 'drop', reason: 'HTTP 422', durationMs: 38 }),
    outcome('hook', 'sc-purchase', 'purchase', 'dropped', at + 2_396, { reason: 'HTTP 422' }),
    request('sc-3', at + 5_100, {
      request: { method: 'POST', url: '/g/collect?v=2&tid=G-ABC123XYZ9&_s=3', ip: '203.0.113.0', headers: { 'user-agent': ua } },
      events: [
        { event_id: 'vi-88', event_name: 'view_item', client_id: '987654321.1717000500', browser_event_id: 'vi-88', event: { event_name: 'view_item' } },
        { event_id: 'atc-88', event_name: 'add_to_cart', client_id: '987654321.1717000500', browser_event_id: 'atc-88', event: { event_name: 'add_to_cart' } }
      ],
      decisions: [
        { event_id: 'vi-88', tag: 'ga4', outcome: 'queued' },
        { event_id: 'vi-88', tag: 'meta', outcome: 'deduplicated' },
        { event_id: 'atc-88', tag: 'ga4', outcome: 'queued' },
        { event_id: 'atc-88', tag: 'meta', outcome: 'queued' },
        { event_id: 'atc-88', tag: 'tiktok', outcome: 'declined', detail: 'no TikTok name for add_to_cart' }
      ]
    }),
    outcome('ga4', 'vi-88', 'view_item', 'sent', at + 5_200),
    outcome('meta', 'atc-88', 'add_to_cart', 'shed', at + 5_105, { reason: 'maxQueue 10000 reached' }),
    outcome('ga4', 'atc-88', 'add_to_cart', 'dead_lettered', at + 9_000, { reason: 'retry window ran out' }),
    request('sc-4', at + 6_000, {
      client: 'mp',
      request: { method: 'POST', url: '/mp/collect?measurement_id=G-ABC123XYZ9&api_secret=[redacted]', headers: { 'content-type': 'application/json' }, body: '{"client_id":"srv.1","events":[{"name":"refund"}]}' },
      events: [{ event_id: 'rf-1', event_name: 'refund', client_id: 'srv.1', browser_event_id: 'rf-1', event: { event_name: 'refund' } }],
      decisions: [
        { event_id: 'rf-1', tag: 'ga4', outcome: 'queued' },
        { event_id: 'rf-1', tag: 'meta', outcome: 'disabled' }
      ]
    }),
    outcome('ga4', 'rf-1', 'refund', 'split', at + 6_100, { reason: 'one event refused: re-sent alone' }),
    outcome('ga4', 'rf-1', 'refund', 'sent', at + 6_300)
  ]
}
