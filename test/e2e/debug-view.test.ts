// The live debug view end to end, in a real headless Chromium: a shop page at
// http://www.shop.test:A sends gtag.js-format hits to the gateway at http://metrics.shop.test:B
// (both names mapped to 127.0.0.1), whose tags deliver to loopback stand-ins answering like GA4,
// Meta, TikTok and a webhook. The view, open in a second tab, must show each request, each event's
// per-tag routing and delivery, the platforms' answers and the event_ids within a second of the
// beacon, and must refuse a visitor without the token. TAGLINE_SCREENSHOT=1 also saves the view
// to docs/debug-view.png (the README's picture); a normal run writes nothing.
import t from 'tap'
import { CHROMIUM, chromiumReady } from '../fixtures/chromium.js'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { loadConfig } from '../../config/load.js'
import { startGateway } from '../../server/start.js'
import { META_API_VERSION } from '../../tags/meta.js'
import { startSink } from '../fixtures/sink.js'
import { PURCHASE_QUERY, purchaseLine, viewItemQuery } from '../fixtures/ga4-hits.js'
import { serverBlock, q } from './fixtures/config.js'
import { ga4Reply, metaReply, startPlatform, tiktokReply } from './fixtures/platforms.js'
import { request, tempDir } from './fixtures/util.js'

const SCREENSHOT = process.env.TAGLINE_SCREENSHOT === '1'
const SCREENSHOT_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'debug-view.png')

const DEBUG_TOKEN = 'dbg_e2e_7c1f9a4b2d8e6f3a0b5c'
const META_TOKEN = 'EAAGe2eDebugViewMetaToken4b5c6d7e8f9a'
const TIKTOK_TOKEN = 'e2eDebugViewTikTokToken9a8b7c6d5e4f'
const GA4_SECRET = 'e2eDebugViewGa4Secret_1q2w3e'
const META_PIXEL = '1234567890'
const TT_PIXEL = 'C0E2EPIXELCODE12'
const MEASUREMENT_ID = 'G-ABC123XYZ9'
const CID = '1234567890.1717000000'
const PV_ID = 'pv-1718000012-4411'
const ORDER = 'T_20481'
const PURCHASE_ID = 'purchase-T_20481'
const WITHIN_MS = 1000

/**
 * The shop's product page, then its thank-you page. What gtag.js would send, with its own URL as
 * dl: the product page is opened with ?tagline_debug=1, which marks its hits (and sets the
 * gateway's debug cookie, which marks the thank-you page's hit too). Each step returns when it
 * sent its beacon, by the browser's clock.
 */
function pageHtml (gateway: string, title: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>
<script>
const G = ${JSON.stringify(gateway)}
const enc = encodeURIComponent
const shared = s => 'v=2&tid=${MEASUREMENT_ID}&gtm=45je4ca0v9123456789za200&_p=1718000012345&gcs=G111&gcd=13t3t3t3t5l1&npa=0&dma=0' +
  '&cid=${CID}&ul=en-us&sr=1920x1080&sid=1718000000&sct=3&seg=1&_s=' + s + '&dl=' + enc(location.href) + '&dr=' + enc(document.referrer) + '&dt=' + enc(document.title)
// page_view with the event_id the pixel also got (for deduplication): a sendBeacon, all in the query.
window.pageView = () => { const at = Date.now(); return { at, ok: navigator.sendBeacon(G + '/g/collect?' + shared(1) + '&en=page_view&ep.event_id=${PV_ID}&_ee=1&tfd=1422&richsstsse', '') } }
// view_item as plain gtag.js sends it: no event_id.
window.viewItem = () => { const at = Date.now(); return { at, ok: navigator.sendBeacon(G + '/g/collect?' + shared(2) + '&en=view_item&_et=5230&cu=USD&epn.value=10.01&pr1=idSKU_12345~nmStan%20and%20Friends%20Tee~brGoogle~caApparel~vagreen~pr10.01~qt1&tfd=6011&richsstsse', '') } }
// purchase: shared parameters in the query, the event in the body line, a keepalive fetch.
window.purchase = async () => {
  const at = Date.now()
  const res = await fetch(G + '/g/collect?' + shared(3) + '&tfd=902&richsstsse', { method: 'POST', mode: 'no-cors', credentials: 'include', keepalive: true, body: ${JSON.stringify(purchaseLine(ORDER, PURCHASE_ID))} })
  return { at, ok: res.type === 'opaque' }
}
</script></body></html>`
}

if (chromiumReady('debug view in the browser')) {
  t.test('the live debug view in Chromium: a shop tab sends gtag hits, the view tab shows them, their tags and the platforms\' answers within a second', async t => {
    const ga4 = await startPlatform(t, 'ga4', ga4Reply)
    const meta = await startPlatform(t, 'meta', metaReply(META_PIXEL, () => false))
    const tiktok = await startPlatform(t, 'tiktok', tiktokReply(() => false))
    const hook = await startPlatform(t, 'webhook', r => r.method === 'POST' && r.path === '/hooks/orders' ? { status: 200, body: '' } : { status: 404, body: '' })

    let gatewayOrigin = ''
    const shop = await startSink(t, r => r.path === '/p/stan-tee'
      ? { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: pageHtml(gatewayOrigin, 'Stan and Friends Tee') }
      : r.path === '/checkout/thank-you'
        ? { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: pageHtml(gatewayOrigin, 'Thank you for your order') }
        : 404)
    const pageOrigin = `http://www.shop.test:${shop.port}`

    const dir = tempDir(t)
    // The platforms by name: with the visitor on 127.0.0.1 too, the view would rightly redact
    // that IP from every destination URL.
    const at = (p: { port: number }): string => `http://localhost:${p.port}`
    const tag = (name: string, type: string, lines: string[]): string[] =>
      [`  - name: ${name}`, `    type: ${type}`, '    batch: { maxWaitMs: 10 }', '    retry: { initialDelayMs: 100, maxDelayMs: 400 }', ...lines.map(l => '    ' + l)]
    const config = loadConfig({
      text: [
        serverBlock({ spoolFile: join(dir, 'spool.jsonl'), corsOrigins: [pageOrigin], shutdownTimeoutMs: 2000 }),
        `debug: { token: ${DEBUG_TOKEN} }`,
        'triggers:',
        '  purchases: { event_name: purchase }',
        'tags:',
        ...tag('ga4', 'ga4', [`endpoint: ${q(`${at(ga4)}/`)}`, `measurementId: ${MEASUREMENT_ID}`, `apiSecret: ${GA4_SECRET}`]),
        ...tag('meta', 'meta', [`endpoint: ${q(`${at(meta)}/${META_API_VERSION}/${META_PIXEL}/events`)}`, `pixelId: ${q(META_PIXEL)}`, `accessToken: ${META_TOKEN}`]),
        ...tag('tiktok', 'tiktok', [`endpoint: ${q(`${at(tiktok)}/open_api/v1.3/event/track/`)}`, `pixelCode: ${TT_PIXEL}`, `accessToken: ${TIKTOK_TOKEN}`]),
        // The order webhook fires on purchases only: the other events show it not triggered.
        ...tag('orders-hook', 'webhook', [`url: ${q(`${at(hook)}/hooks/orders`)}`, 'fireOn: [purchases]'])
      ].join('\n'),
      file: 'debug-view-e2e.yaml'
    }, {})
    const gw = await startGateway({ config, logger: pino({ level: 'silent' }), port: 0, host: '127.0.0.1' })
    t.teardown(async () => { await gw.stop() })
    gatewayOrigin = `http://metrics.shop.test:${new URL(gw.url).port}`

    // A gateway that has already served: the first delivery after start pays one-off costs (Node
    // loads its HTTP client lazily) that are not the view's. Unmarked and unwatched, this traffic
    // is not traced: the view must not show it.
    const warm = { 'user-agent': 'Mozilla/5.0 (warm-up)', 'content-type': 'text/plain;charset=UTF-8' }
    t.equal((await request(`${gw.url}/g/collect?${viewItemQuery('warm-up-vi')}`, { method: 'POST', headers: warm, body: '' })).status, 204)
    t.equal((await request(`${gw.url}/g/collect?${PURCHASE_QUERY}`, { method: 'POST', headers: warm, body: purchaseLine('T_WARM', 'warm-up-purchase') })).status, 204)
    await Promise.all([ga4, meta, tiktok, hook].map(async p => await p.waitFor(rs => rs.some(r => r.status > 0), `the warm-up at ${p.name}`)))

    const profile = tempDir(t, 'tagline-chromium-')
    const ctx: BrowserContext = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 15_000,
      viewport: { width: 1600, height: 1000 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.shop.test 127.0.0.1'
      ]
    })
    t.teardown(async () => { await ctx.close().catch(() => {}) })
    ctx.setDefaultTimeout(5000)
    const pageErrors: string[] = []

    // ---- tab 2, the view: refused without the token ----
    const view: Page = await ctx.newPage()
    view.on('pageerror', e => pageErrors.push(`view: ${e.message}`))
    const viewRequests: string[] = []
    view.on('request', r => viewRequests.push(r.url()))
    const refused = await view.goto(`${gatewayOrigin}/debug`)
    t.equal(refused?.status(), 401, 'the view without its token is refused (401)')
    t.match(refused?.headers()['content-type'], /^application\/json/, 'with a JSON error')
    t.equal((await refused?.json())?.error, 'unauthorized', 'error: unauthorized')
    t.equal(await view.locator('[data-testid=status]').count(), 0, 'no page: no status')
    t.equal(await view.evaluate(() => document.querySelectorAll('script').length), 0, 'no script')
    t.same(viewRequests.filter(u => u.includes('/debug/stream')), [], 'and no stream was opened')
    t.same((await ctx.cookies(gatewayOrigin)).map(c => c.name), [], 'no cookie was set')

    // ---- signing in: the token leaves the address bar at once ----
    const signedIn = await view.goto(`${gatewayOrigin}/debug?token=${DEBUG_TOKEN}`)
    t.equal(signedIn?.status(), 200, 'with the token, the page')
    t.ok(view.url().endsWith('/debug'), `the redirect leaves the token out of the URL: ${view.url()}`)
    t.notMatch(view.url(), DEBUG_TOKEN)
    const viewCookie = (await ctx.cookies(`${gatewayOrigin}/debug`)).find(c => c.name === 'tagline_debug_view')
    t.match(viewCookie, { httpOnly: true, sameSite: 'Strict', path: '/debug' }, 'the session is an HttpOnly cookie on /debug')
    t.not(viewCookie?.value, DEBUG_TOKEN, 'holding no token')
    await view.locator('[data-testid=status][data-state=connected]').waitFor({ timeout: 5000 })
    t.match(await view.getByTestId('status').textContent(), /^connected · replica .+ · this replica only$/, 'connected, to this replica')
    t.ok(viewRequests.some(u => new URL(u).pathname === '/debug/stream' && new URL(u).search === ''), 'the stream URL carries no token')

    // ---- tab 1, the shop ----
    const shopPage = await ctx.newPage()
    shopPage.on('pageerror', e => pageErrors.push(`shop: ${e.message}`))
    await shopPage.goto(`${pageOrigin}/p/stan-tee?utm_source=newsletter&tagline_debug=1`)
    // The view in front, as for an operator watching it (Chromium throttles a background tab's
    // animation frames, which every click below waits on).
    await view.bringToFront()

    /**
     * Waits in the view until every selector matches, at most until `sentAt` + 1 s; answers the
     * view's own clock reading when they all did, minus `sentAt`.
     */
    async function shownWithin (sentAt: number, what: string, selectors: string[]): Promise<number> {
      const remaining = sentAt + WITHIN_MS - Date.now()
      let seenAt: number
      try {
        const handle = await view.waitForFunction(
          sels => sels.every(s => document.querySelector(s) !== null) ? Date.now() : false,
          selectors,
          { timeout: Math.max(1, remaining), polling: 10 })
        seenAt = await handle.jsonValue() as number
      } catch (err) {
        const missing = await view.evaluate(sels => sels.filter(s => document.querySelector(s) === null), selectors)
        t.fail(`${what}: not shown within ${WITHIN_MS} ms of the beacon; missing ${JSON.stringify(missing)} (${String(err).split('\n')[0]})`)
        return Infinity
      }
      const ms = seenAt - sentAt
      t.ok(ms <= WITHIN_MS, `${what}: shown ${ms} ms after the beacon`)
      return ms
    }
    const ev = (id: string): string => `[data-testid=event][data-event-id=${JSON.stringify(id)}]`
    const row = (id: string, tagName: string, outcome: string): string => `${ev(id)} [data-testid=tag-row][data-tag=${JSON.stringify(tagName)}][data-outcome=${outcome}]`
    const badge = (id: string, tagName: string, kind: string, outcome: string): string =>
      `${ev(id)} [data-testid=tag-row][data-tag=${JSON.stringify(tagName)}] [data-testid=outcome][data-kind=${kind}][data-outcome=${outcome}]`
    const exchange = (id: string, tagName: string): string => `${ev(id)} [data-testid=tag-row][data-tag=${JSON.stringify(tagName)}] [data-testid=exchange][data-result=ok]`
    const delivered = (id: string, tags: string[]): string[] => tags.flatMap(tg => [
      row(id, tg, 'sent'), badge(id, tg, 'routing', 'queued'), badge(id, tg, 'delivery', 'sent'), exchange(id, tg)
    ])
    const timings: Record<string, number> = {}

    // (1) page_view, with the pixel's event_id.
    const pv = await shopPage.evaluate(() => (window as any).pageView()) as { at: number, ok: boolean }
    t.ok(pv.ok, 'sendBeacon queued the page_view')
    timings.page_view = await shownWithin(pv.at, 'page_view', [
      '[data-testid=request][data-marked=true] [data-testid=marked]',
      `${ev(PV_ID)} [data-testid=browser-id]`,
      ...delivered(PV_ID, ['ga4', 'meta']),
      // TikTok takes no server page views (they would double the pixel's Pageview): declined.
      row(PV_ID, 'tiktok', 'declined'), badge(PV_ID, 'tiktok', 'routing', 'declined'),
      row(PV_ID, 'orders-hook', 'not_triggered'), badge(PV_ID, 'orders-hook', 'routing', 'not_triggered')
    ])

    // (2) view_item with no event_id: the gateway mints one, and the view warns.
    const vi = await shopPage.evaluate(() => (window as any).viewItem()) as { at: number, ok: boolean }
    t.ok(vi.ok, 'sendBeacon queued the view_item')
    const viSel = '[data-testid=event]:has([data-testid=event-name]:text-is("view_item"))'
    timings.view_item = await shownWithin(vi.at, 'view_item (no event_id)', [
      '[data-testid=event] [data-testid=no-browser-id]'
    ])
    const viId = await view.locator('[data-testid=event]', { has: view.locator('[data-testid=no-browser-id]') }).getAttribute('data-event-id') ?? ''
    t.match(viId, /\S/, `the gateway minted its event_id: ${viId}`)
    timings.view_item_delivered = await shownWithin(vi.at, 'view_item delivered', [
      ...delivered(viId, ['ga4', 'meta', 'tiktok']),
      row(viId, 'orders-hook', 'not_triggered')
    ])
    t.equal(await view.locator(viSel).locator('[data-testid=event-name]').textContent(), 'view_item')

    // (3) the thank-you page (no ?tagline_debug=1 there: the debug cookie marks it) and its purchase.
    await shopPage.goto(`${pageOrigin}/checkout/thank-you`)
    const pu = await shopPage.evaluate(() => (window as any).purchase()) as { at: number, ok: boolean }
    t.ok(pu.ok, 'the keepalive no-cors POST went out')
    timings.purchase = await shownWithin(pu.at, 'purchase', [
      `${ev(PURCHASE_ID)} [data-testid=browser-id]`,
      ...delivered(PURCHASE_ID, ['ga4', 'meta', 'tiktok', 'orders-hook'])
    ])
    t.comment(`shown after the beacon (ms): ${JSON.stringify(timings)}`)

    // ---- what the view says, checked in detail ----
    const requestRows = view.getByTestId('request')
    t.equal(await requestRows.count(), 3, 'one row per request, and none for the unwatched warm-up')
    t.same(await requestRows.evaluateAll(rs => rs.map(r => [r.getAttribute('data-marked'), r.querySelector('[data-testid=marked]')?.textContent ?? null])),
      [['true', 'marked'], ['true', 'marked'], ['true', 'marked']], 'all three marked: ?tagline_debug=1 in the page URL, then the debug cookie')
    t.same(await requestRows.evaluateAll(rs => rs.map(r => [
      r.querySelector('[data-testid=request-client]')?.textContent,
      (r.querySelector('[data-testid=request-path]')?.textContent ?? '').split('?')[0],
      r.querySelector('[data-testid=request-count]')?.textContent
    ])), [['gtag', 'POST /g/collect', '1 event'], ['gtag', 'POST /g/collect', '1 event'], ['gtag', 'POST /g/collect', '1 event']], 'newest first, each a gtag hit')
    t.same(await view.getByTestId('event').evaluateAll(es => es.map(e => e.querySelector('[data-testid=event-name]')?.textContent)),
      ['purchase', 'view_item', 'page_view'], 'the three events, newest first')

    const text = async (sel: string): Promise<string> => (await view.locator(sel).first().textContent()) ?? ''
    t.equal(await text(`${ev(PV_ID)} [data-testid=browser-id]`), `browser sent ${PV_ID}`, 'the browser\'s event_id')
    t.equal(await text(`${ev(PURCHASE_ID)} [data-testid=browser-id]`), `browser sent ${PURCHASE_ID}`)
    for (const [id, browser, tags] of [[PV_ID, PV_ID, ['meta']], [PURCHASE_ID, PURCHASE_ID, ['meta', 'tiktok']], [viId, null, ['meta', 'tiktok']]] as const) {
      for (const tg of tags) {
        const sent = view.locator(`${ev(id)} [data-testid=tag-row][data-tag=${tg}] [data-testid=sent-id]`)
        t.equal(await sent.textContent(), `${tg} got ${id}`, `${tg} got the event_id ${browser === null ? 'the gateway minted' : 'the browser sent'} (${id})`)
        t.equal(await sent.getAttribute('data-differs'), 'false', `${tg}: the pixel and the server event deduplicate`)
      }
    }
    t.match(await text(`${ev(viId)} [data-testid=no-browser-id]`), /^no event_id from the browser/, 'the warning for the event without one')
    t.equal(await view.locator(`${ev(PV_ID)} [data-testid=no-browser-id], ${ev(PURCHASE_ID)} [data-testid=no-browser-id]`).count(), 0, 'and only for it')
    t.same(await view.locator(`${ev(PV_ID)} [data-testid=tag-row]`).evaluateAll(rs => rs.map(r => [r.getAttribute('data-tag'), r.getAttribute('data-outcome')]).sort()),
      [['ga4', 'sent'], ['meta', 'sent'], ['orders-hook', 'not_triggered'], ['tiktok', 'declined']], 'page_view: four tags, TikTok declining it, the order webhook not triggered')
    t.same(await view.locator(`${ev(PURCHASE_ID)} [data-testid=tag-row]`).evaluateAll(rs => rs.map(r => [r.getAttribute('data-tag'), r.getAttribute('data-outcome')]).sort()),
      [['ga4', 'sent'], ['meta', 'sent'], ['orders-hook', 'sent'], ['tiktok', 'sent']], 'purchase: all four sent')
    t.equal(await view.locator(`${ev(PV_ID)} [data-testid=tag-row][data-tag=orders-hook] [data-testid=exchange], ${ev(PV_ID)} [data-testid=tag-row][data-tag=tiktok] [data-testid=exchange]`).count(), 0, 'nothing went to the webhook or TikTok for the page_view')
    t.match(await text(`${ev(PV_ID)} [data-testid=tag-row][data-tag=tiktok] [data-testid=outcome-detail]`), /\S/, 'the decline says why')

    // The exchanges: the platforms' answers, the request as sent (redacted).
    const summary = async (id: string, tg: string): Promise<string> => (await view.locator(`${exchange(id, tg)} summary`).textContent()) ?? ''
    t.match(await summary(PURCHASE_ID, 'ga4'), /^#1 POST http:\/\/localhost:\d+\/g\/collect\?\S+ → 204 ok/, 'GA4 answered 204, as Google does')
    t.match(await summary(PURCHASE_ID, 'meta'), new RegExp(`^#1 POST http://localhost:\\d+/${META_API_VERSION.replace('.', '\\.')}/${META_PIXEL}/events → 200 ok`), 'Meta answered 200')
    t.match(await summary(PURCHASE_ID, 'tiktok'), /^#1 POST http:\/\/localhost:\d+\/open_api\/v1\.3\/event\/track\/ → 200 ok/, 'TikTok answered 200')
    t.match(await summary(PURCHASE_ID, 'orders-hook'), /→ 200 ok/, 'the webhook answered 200')

    const metaX = view.locator(exchange(PURCHASE_ID, 'meta')).first()
    await metaX.locator('summary').click()
    const metaAnswer = (await metaX.getByTestId('exchange-answer').innerText())
    t.match(metaAnswer, /^status 200\n\{"events_received":1,"messages":\[\],"fbtrace_id":"[\w-]+"\}$/, 'expanded: Meta\'s answer body, with its fbtrace_id')
    const fbtrace = (meta.requests.find(r => r.json?.data?.[0]?.event_id === PURCHASE_ID)?.answer ?? '').match(/"fbtrace_id":"([\w-]+)"/)?.[1] ?? '(none)'
    t.match(metaAnswer, fbtrace, 'the very answer Meta gave')
    const metaReq = await metaX.getByTestId('exchange-request').innerText()
    t.match(metaReq, new RegExp(`"event_id":"${PURCHASE_ID}"`), 'the request as sent: Meta got the browser\'s event_id')
    t.match(metaReq, `"order_id":"${ORDER}"`, 'and the order')
    t.match(metaReq, '"access_token":"[redacted]"', 'and not the access token')
    const ttX = view.locator(exchange(PURCHASE_ID, 'tiktok')).first()
    await ttX.locator('summary').click()
    t.match(await ttX.getByTestId('exchange-answer').innerText(), /^status 200\n\{"code":0,"message":"OK","request_id":"\d+[0-9a-f]+","data":\{\}\}$/, 'expanded: TikTok\'s code 0')

    // The JSON panel of the clicked purchase.
    await view.locator(`${ev(PURCHASE_ID)} [data-testid=event-name]`).click()
    await view.getByTestId('json-panel').waitFor({ state: 'visible', timeout: 1000 })
    const panel = JSON.parse(await view.getByTestId('json-event').innerText())
    t.match(panel, {
      event_id: PURCHASE_ID,
      event_name: 'purchase',
      client_id: CID,
      browser_event_id: PURCHASE_ID,
      event: { transaction_id: ORDER, value: 72.05, currency: 'USD', source: { client: 'gtag' } },
      request: { marked: true, client: 'gtag' }
    }, 'the panel: the event as the pipeline saw it')
    t.equal(panel.event.items?.length, 2, 'with its two items')
    t.ok(JSON.parse(await view.getByTestId('json-exchanges').innerText()).length >= 4, 'and the exchanges that carried it')

    // No secret anywhere, with every exchange open.
    await view.evaluate(() => { document.querySelectorAll('details').forEach(d => { d.open = true }) })
    const shown = await view.evaluate(() => document.body.innerText)
    for (const [name, secret] of [['the Meta access token', META_TOKEN], ['the TikTok access token', TIKTOK_TOKEN], ['the GA4 API secret', GA4_SECRET], ['the debug token', DEBUG_TOKEN]]) {
      t.notOk(shown.includes(secret), `${name} is nowhere in the view`)
    }
    t.same(pageErrors, [], 'no page errors in either tab')

    if (SCREENSHOT) {
      // The picture for the README: the purchase selected, Meta's exchange open, the rest closed.
      await view.evaluate(() => { document.querySelectorAll('details').forEach(d => { d.open = false }) })
      await metaX.locator('summary').click()
      await view.waitForFunction(() => document.querySelectorAll('details[open]').length === 1)
      mkdirSync(dirname(SCREENSHOT_FILE), { recursive: true })
      await view.screenshot({ path: SCREENSHOT_FILE, fullPage: true })
      t.comment(`screenshot: ${SCREENSHOT_FILE}`)
    }
  })
}
