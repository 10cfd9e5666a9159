// A real headless Chromium on a first-party setup: the page at http://www.shop.example:A, the
// gateway at http://metrics.shop.example:B (both names mapped to 127.0.0.1), a webhook sink on
// loopback. The page sends what gtag.js with a transport_url and a dataLayer bridge would send.
import t from 'tap'
import { CHROMIUM, chromiumReady } from '../fixtures/chromium.js'
import { pino } from 'pino'
import { chromium, type BrowserContext } from 'playwright-core'
import { loadConfig } from '../../config/load.js'
import { startGateway } from '../../server/start.js'
import { startSink } from '../fixtures/sink.js'
import { verifyStandardWebhook, WHSEC } from '../fixtures/standard-webhooks.js'
import { hookTag, serverBlock } from './fixtures/config.js'
import { request, tempDir } from './fixtures/util.js'
import { until } from '../fixtures/wait.js'

const FBCLID = 'IwAR2F4e2e-Mixed_CaseZq9'
const CID = '1234567890.1717000000'

/** The page: its own URL as dl, like gtag.js; the gateway's origin is filled in by the server. */
function pageHtml (gateway: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Stan and Friends Tee</title></head>
<body><h1>Stan and Friends Tee</h1>
<script>
const G = ${JSON.stringify(gateway)}
const enc = encodeURIComponent
const shared = () => 'v=2&tid=G-ABC123XYZ9&gtm=45je4ca0v9123456789za200&_p=1718000012345&gcs=G111&gcd=13t3t3t3t5l1&npa=0&dma=0' +
  '&ul=en-us&sr=1920x1080&sid=1718000000&sct=1&seg=0&dl=' + enc(location.href) + '&dt=' + enc(document.title)
// (1) page_view: one event, all in the query, empty body, sent with sendBeacon.
window.step1 = () => navigator.sendBeacon(G + '/g/collect?' + shared() + '&cid=${CID}&_s=1&en=page_view&ep.event_id=pv-e2e-1&_ee=1&tfd=1422&richsstsse', '')
// (2) two events in one keepalive POST, shared parameters in the query, one event per body line; no cid.
window.step2 = async () => {
  const body = 'en=view_item&_et=1200&ep.event_id=vi-e2e-1&cu=USD&epn.value=10.01&pr1=idSKU_12345~nmStan%20and%20Friends%20Tee~brGoogle~pr10.01~qt1\\n' +
    'en=scroll&_et=800&ep.event_id=sc-e2e-1&epn.percent_scrolled=90'
  const res = await fetch(G + '/g/collect?' + shared() + '&_s=2&tfd=3456', { method: 'POST', mode: 'no-cors', credentials: 'include', keepalive: true, body })
  return res.type
}
// (3) a dataLayer bridge: JSON, so the browser sends a CORS preflight first, and reads the answer.
window.step3 = async () => {
  const res = await fetch(G + '/collect', {
    method: 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'add_to_cart', event_id: 'atc-e2e-b1', ecommerce: { currency: 'USD', value: 30.03, items: [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 3 }] } })
  })
  return { status: res.status, body: await res.json() }
}
</script></body></html>`
}

/** Requests the gateway answered, by route and status, from its own /metrics. */
async function requestsServed (base: string): Promise<(route: string, status: number) => number> {
  const text = (await request(`${base}/metrics`)).body
  const samples = [...text.matchAll(/^tagline_http_requests_total\{([^}]*)\} (\d+)$/gm)].map(m => ({ labels: m[1], value: Number(m[2]) }))
  return (route, status) => samples
    .filter(x => x.labels.includes(`route="${route}"`) && x.labels.includes(`status="${status}"`))
    .reduce((sum, x) => sum + x.value, 0)
}

/** Preflights the gateway answered (CORS answers them on the OPTIONS * route). */
async function preflights (base: string): Promise<number> {
  return (await requestsServed(base))('*', 204)
}

if (chromiumReady('browser tests')) {
  t.test('Chromium on a first-party domain: sendBeacon, keepalive fetch and a CORS dataLayer bridge', async t => {
    const started = Date.now()
    const sink = await startSink(t)

    // The shop's page server (port A). Its port must be known before the gateway's config, and
    // the gateway's port before the page is rendered: the page reads it at request time.
    let gatewayOrigin = ''
    const shop = await startSink(t, r => r.url.startsWith('/landing')
      ? { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: pageHtml(gatewayOrigin) }
      : 404)
    const A = shop.port
    const pageOrigin = `http://www.shop.example:${A}`

    const dir = tempDir(t)
    const config = loadConfig({
      text: [
        serverBlock({ spoolFile: `${dir}/spool.jsonl`, corsOrigins: [pageOrigin], shutdownTimeoutMs: 2000 }),
        'identity: { cookieDomain: auto, fpid: true, metaCookies: true }',
        'tags:',
        hookTag('hook', { url: sink.url, secret: WHSEC, maxWaitMs: 20 })
      ].join('\n'),
      file: 'browser-e2e.yaml'
    }, {})
    const gw = await startGateway({ config, logger: pino({ level: 'silent' }), port: 0, host: '127.0.0.1' })
    t.teardown(async () => { await gw.stop() })
    const B = Number(new URL(gw.url).port)
    gatewayOrigin = `http://metrics.shop.example:${B}`

    // The preflight the browser will send, checked directly too.
    const preflight = await request(`${gw.url}/collect`, {
      method: 'OPTIONS',
      headers: { host: `metrics.shop.example:${B}`, origin: pageOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
    })
    t.ok(preflight.status === 204 || preflight.status === 200, `the preflight succeeds (${preflight.status})`)
    t.equal(preflight.headers['access-control-allow-origin'], pageOrigin, 'it allows the page origin')
    t.equal(preflight.headers['access-control-allow-credentials'], 'true', 'with credentials')
    t.match(String(preflight.headers['access-control-allow-headers']), /content-type/i)
    t.match(String(preflight.headers['access-control-allow-methods']), /POST/)
    const stranger = await request(`${gw.url}/collect`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
    })
    t.equal(stranger.headers['access-control-allow-origin'], undefined, 'another origin is not allowed')

    const profile = tempDir(t, 'tagline-chromium-')
    const ctx: BrowserContext = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 15_000,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.shop.example 127.0.0.1'
      ]
    })
    t.teardown(async () => { await ctx.close().catch(() => {}) })
    ctx.setDefaultTimeout(5000)
    const page = ctx.pages()[0] ?? await ctx.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', e => pageErrors.push(e.message))

    const landing = `${pageOrigin}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=summer_sale&fbclid=${FBCLID}`
    await page.goto(landing)
    const userAgent = await page.evaluate(() => navigator.userAgent)
    t.match(userAgent, /Chrome\/\d+/, `Chromium's user agent: ${userAgent}`)
    const cookieNamed = async (name: string): Promise<Awaited<ReturnType<BrowserContext['cookies']>>[number] | undefined> =>
      (await ctx.cookies(gatewayOrigin)).find(c => c.name === name)

    // (1) The beacon; its 204 sets the identity cookies.
    t.equal(await page.evaluate(() => (window as any).step1()), true, 'sendBeacon queued the hit')
    await until(async () => (await cookieNamed('FPID')) !== undefined, 5000, 'the FPID cookie from the beacon\'s response')
    const fpid = await cookieNamed('FPID')
    const fbp = await cookieNamed('_fbp')
    const fbc = await cookieNamed('_fbc')
    t.match(fpid, { httpOnly: true, domain: '.shop.example', path: '/', sameSite: 'Lax' }, 'FPID: HttpOnly, for the whole site')
    t.match(fbp, { httpOnly: false, domain: '.shop.example' }, '_fbp: first-party, readable by the pixel')
    t.match(fbc?.value, new RegExp(`^fb\\.1\\.\\d{13}\\.${FBCLID}$`), '_fbc built from the fbclid')
    const clientId = decodeURIComponent(fpid?.value ?? '').replace(/^FPID2\.2\./, '')

    // (2) and (3), which must carry those cookies.
    t.equal(await page.evaluate(() => (window as any).step2()), 'opaque', 'the keepalive no-cors POST went out')
    const preflightsBefore = await preflights(gw.url)
    const bridged = await page.evaluate(() => (window as any).step3())
    t.equal(await preflights(gw.url), preflightsBefore + 1, 'the browser sent one CORS preflight, answered 204')
    t.same(bridged, { status: 202, body: { accepted: 1, deduplicated: 0, event_ids: ['atc-e2e-b1'] } }, 'the preflighted, credentialed JSON POST succeeded and its answer was readable')
    t.same(pageErrors, [], 'no page errors')

    const ids = ['pv-e2e-1', 'vi-e2e-1', 'sc-e2e-1', 'atc-e2e-b1']
    await sink.waitFor(() => ids.every(id => sink.delivered().some(e => e.event_id === id)), 'all four events at the sink')
    const events = sink.delivered()
    t.equal(events.length, 4, 'each event once')
    const by = new Map(events.map(e => [e.event_id as string, e]))
    t.same(sink.requests.map(r => verifyStandardWebhook(WHSEC, r.headers, r.raw)).filter(v => !v.ok), [], 'every webhook request is signed')

    for (const e of events) {
      t.equal(e.user_agent, userAgent, `${e.event_name}: Chromium's user agent`)
      t.equal(e.ip_override, '127.0.0.1', `${e.event_name}: the browser's IP`)
      t.equal(e.source?.trusted, false)
      t.equal(e.browser_ids?.fbp, fbp?.value, `${e.event_name}: the _fbp set by the first response`)
      t.equal(e.browser_ids?.fbc, fbc?.value, `${e.event_name}: the _fbc set by the first response`)
      t.equal(e.page_hostname, 'www.shop.example', `${e.event_name}: page_hostname`)
    }

    const pv = by.get('pv-e2e-1')
    t.match(pv, {
      event_name: 'page_view',
      client_id: CID,
      page_location: landing,
      page_path: '/landing',
      page_title: 'Stan and Friends Tee',
      click_ids: { fbclid: FBCLID },
      campaign: { source: 'newsletter', medium: 'email', name: 'summer_sale' },
      consent: { ad_storage: 'granted', analytics_storage: 'granted' },
      source: { client: 'gtag' }
    }, 'page_view: page fields, click id and campaign from dl')
    const fbcMs = /^fb\.1\.(\d+)\./.exec(String(pv?.browser_ids?.fbc))?.[1]
    t.equal(Number(fbcMs), pv?.source?.received_ms, 'fbc = fb.1.<ms the click was seen>.<fbclid>')
    t.ok(Number(fbcMs) >= started && Number(fbcMs) <= Date.now(), 'in milliseconds')

    for (const id of ['vi-e2e-1', 'sc-e2e-1']) {
      t.match(by.get(id), { client_id: clientId, page_location: landing, page_path: '/landing', click_ids: { fbclid: FBCLID }, campaign: { source: 'newsletter' }, source: { client: 'gtag' } },
        `${id}: no cid, so the client id comes from the FPID cookie`)
    }
    t.match(by.get('vi-e2e-1'), { event_name: 'view_item', value: 10.01, currency: 'USD', items: [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', item_brand: 'Google', price: 10.01, quantity: 1 }] })
    t.match(by.get('sc-e2e-1'), { event_name: 'scroll', params: { percent_scrolled: 90 } })
    const atc = by.get('atc-e2e-b1')
    t.match(atc, { event_name: 'add_to_cart', client_id: clientId, value: 30.03, currency: 'USD', source: { client: 'datalayer' } }, 'the dataLayer push: same client id')
    t.same(atc?.items, [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 3 }])
    t.ok(String(atc?.page_location).startsWith(`${pageOrigin}/`), `its page is the Referer: ${String(atc?.page_location)}`)

    t.equal((await cookieNamed('FPID'))?.value, fpid?.value, 'the FPID was never re-minted')
    t.equal((await cookieNamed('_fbp'))?.value, fbp?.value, 'nor the _fbp')
    const served = await requestsServed(gw.url)
    t.same([served('/g/collect', 204), served('/collect', 202)], [2, 1], 'the page made exactly its three requests: the beacon and the keepalive POST (204), the bridged JSON POST (202); nothing was sent twice')
  })
}
