// Per-tag IP handling and the Global Privacy Control opt-out of advertising tags.
import t from 'tap'
import { truncateIp, applyIpMode, contextIpMode } from '../../server/ip.js'
import { route, tagCopy } from '../../server/pipeline.js'
import { loadConfig } from '../../config/load.js'
import { tagTypes } from '../../tags/index.js'
import type { TaglineEvent } from '../../schemas/event.js'
import type { Store } from '../../server/store/types.js'
import { AUTH, captureLogs, drained, gtagQuery, harness, hookTag, redisStore } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'

t.test('truncateIp', async t => {
  t.equal(truncateIp('203.0.113.77'), '203.0.113.0')
  t.equal(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348'), '2001:db8:85a3::')
  t.equal(truncateIp('2001:0db8:0000::1'), '2001:db8:0::')
  t.equal(truncateIp('::1'), '0:0:0::')
  t.equal(truncateIp('::ffff:198.51.100.9'), '::ffff:198.51.100.0')
  t.equal(truncateIp('not-an-ip'), undefined)
  t.equal(applyIpMode('203.0.113.77', 'full'), '203.0.113.77')
  t.equal(applyIpMode('203.0.113.77', 'none'), undefined)
  t.equal(applyIpMode(undefined, 'truncate'), undefined)
})

const YAML = `
tags:
  - { name: full, type: log }
  - { name: cut, type: log, ip: truncate }
  - { name: noip, type: log, ip: none, params: { exclude: [user_agent] } }
`

t.test('each tag gets its own IP handling; the original event is untouched', async t => {
  const config = loadConfig({ text: YAML })
  const ev: TaglineEvent = { event_name: 'page_view', ip_override: '203.0.113.77', user_agent: 'UA' }
  const [full, cut, noip] = config.tags.map(tag => tagCopy(tag, ev))
  t.equal(full.ip_override, '203.0.113.77')
  t.equal(cut.ip_override, '203.0.113.0')
  t.notOk('ip_override' in noip)
  t.notOk('user_agent' in noip, 'transformations still apply')
  t.equal(ev.ip_override, '203.0.113.77', 'the shared event is not modified')
  t.equal(ev.user_agent, 'UA')
})

t.test('Sec-GPC blocks advertising tags only, unless privacy.honorGpc is false', async t => {
  // An advertising tag type for the test: the real ones (meta, tiktok) declare category 'ads'.
  const adsTag = { ...tagTypes.log, type: 'log', category: 'ads' as const }
  const config = loadConfig({ text: YAML })
  const ads = { ...config.tags[0], def: adsTag }
  const analytics = config.tags[0]
  const gpc: TaglineEvent = { event_name: 'purchase', source: { client: 'json', request_id: 'r', received_ms: 0, trusted: false, gpc: true } }
  t.same(route(ads, gpc), { tag: 'full', outcome: 'blocked_by_consent', detail: 'gpc' })
  t.same(route(analytics, gpc), { tag: 'full', outcome: 'queued', detail: 'all' })
  t.same(route(ads, gpc, false), { tag: 'full', outcome: 'queued', detail: 'all' }, 'honorGpc: false')
  t.same(route(ads, { ...gpc, source: { ...gpc.source!, gpc: undefined } }), { tag: 'full', outcome: 'queued', detail: 'all' })
  const off = loadConfig({ text: 'privacy: { honorGpc: false }\n' + YAML })
  t.equal(off.privacy.honorGpc, false)
  t.equal(config.privacy.honorGpc, true, 'on by default')
})

t.test('an event an ad platform has no name for is not routed to it (no dead letter)', async t => {
  const config = loadConfig({ text: `
tags:
  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok }
  - { name: tiktok, type: tiktok, pixelCode: C1, accessToken: tok, eventNames: { page_view: Pageview } }
` })
  const [meta, tiktok] = config.tags
  const scroll: TaglineEvent = { event_name: 'scroll' }
  t.same(route(meta, scroll), { tag: 'meta', outcome: 'declined', detail: "no Meta event for 'scroll': map it in eventNames or set customEvents: true" })
  t.same(route(meta, { event_name: 'purchase' }), { tag: 'meta', outcome: 'queued', detail: 'all' })
  t.same(route(tiktok, { event_name: 'page_view' }), { tag: 'tiktok', outcome: 'queued', detail: 'all' }, 'mapped by the tag eventNames')
  t.equal(route(tiktok, scroll).outcome, 'declined')
})

t.test('a stitching context keeps no more of the IP than the tags could use', async t => {
  const tags = (...ips: Array<'full' | 'truncate' | 'none'>): Array<{ enabled: boolean, ip: 'full' | 'truncate' | 'none' }> => ips.map(ip => ({ enabled: true, ip }))
  t.equal(contextIpMode(tags('truncate', 'full', 'none')), 'full', 'one tag takes the full IP')
  t.equal(contextIpMode(tags('truncate', 'none')), 'truncate', 'every tag that takes one truncates')
  t.equal(contextIpMode(tags('none', 'none')), 'none')
  t.equal(contextIpMode([]), 'none', 'no tag: nothing to keep it for')
  t.equal(contextIpMode([{ enabled: false, ip: 'full' }, { enabled: true, ip: 'truncate' }]), 'truncate', 'a disabled tag uses nothing')

  const stores: Array<[string, () => Promise<Store | undefined>]> = [['memory', async () => undefined], ['redis', async () => await redisStore()]]
  const cases: Array<[string, string, string | undefined]> = [
    ['truncate', 'ip: truncate', '203.0.113.0'],
    ['none', 'ip: none', undefined],
    ['full', '', '203.0.113.77']
  ]
  for (const [storeName, makeStore] of stores) {
    for (const [mode, extra, kept] of cases) {
      const store = await makeStore()
      const h = await harness({ store, tags: url => hookTag('a', url, extra) + hookTag('b', url, 'ip: none') })
      const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view', cid: '5.5', uid: 'u5' })}`, headers: { 'user-agent': 'UA' }, remoteAddress: '203.0.113.77' })
      t.equal(res.statusCode, 204)
      await until(async () => (await h.store.fields('ctx:cid:5.5')) !== undefined, 3000, 'the context')
      for (const key of ['ctx:cid:5.5', 'ctx:uid:u5']) t.equal((await h.store.fields(key))?.ip_override, kept, `${storeName}, the tags ${mode} and none: ${key} keeps ${kept ?? 'no IP'}`)
      await h.close()
      await store?.close()
    }
  }
})

t.test('at info level no log line carries a visitor IP', async t => {
  const V4 = '203.0.113.77'
  const V6 = '2001:db8:85a3::8a2e:370:7334'
  // A destination that quotes the request back in its refusal: the dead letter's reason is logged.
  const echo = await startSink(t, r => ({ status: 400, headers: { 'content-type': 'text/plain' }, body: `bad request: ${r.raw.slice(0, 2000)}` }))
  const logs = captureLogs('info')
  const h = await harness({
    logger: logs.logger,
    tags: () => [
      '  - { name: console, type: log }\n',
      '  - { name: ga4, type: ga4, measurementId: G-ABC123XYZ9, apiSecret: secret_value_1, dryRun: true }\n',
      '  - { name: meta, type: meta, pixelId: "1234567890", accessToken: token_value_1, dryRun: true, consent: [] }\n',
      '  - { name: cut, type: log, ip: truncate }\n',
      hookTag('echoing', echo.origin)
    ].join('')
  })
  t.teardown(h.close)
  const hit = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'purchase', 'ep.transaction_id': 'T-IP', cu: 'EUR', 'epn.value': '5' })}`, headers: { 'user-agent': 'UA' }, remoteAddress: V4 })
  t.equal(hit.statusCode, 204)
  const backend = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: 'B-IP', ip_override: V6, currency: 'EUR', value: 5 } })
  t.equal(backend.statusCode, 202)
  await drained(h)
  await until(() => logs.text().includes('event dropped'), 3000, 'the refusal to be logged')
  const text = logs.text()
  t.match(text, /"msg":"log request"/, 'the log tag printed the events')
  t.match(text, /"msg":"dry run: request not sent"/, 'the dry runs printed their requests')
  t.match(text, /T-IP/, 'with the events in them, so the checks below mean something')
  for (const [value, what] of [[V4, 'the IPv4 address'], [V6, 'the IPv6 address'], [encodeURIComponent(V6), 'the IPv6 address, URL-encoded'], ['203.0.113.0', 'the truncated address']]) {
    t.notOk(text.includes(value), `${what} is not logged`)
  }
})

t.test('a GA4 tag\'s params.exclude holds for forwarded gtag hits; a set sends them over Measurement Protocol', async t => {
  const sink = await startSink(t, 204)
  const h = await harness({ sink, tags: o => [
    `  - { name: ga4, type: ga4, measurementId: G-TEST12345, apiSecret: s3cret, endpoint: "${o}/ga", batch: { maxEvents: 1, maxWaitMs: 0 }, retry: { maxAttempts: 1 }, params: { exclude: [params.search_term, user_id, page_location, params.email] } }`,
    `  - { name: ga4set, type: ga4, measurementId: G-TEST12345, apiSecret: s3cret, endpoint: "${o}/ga-set", batch: { maxEvents: 1, maxWaitMs: 0 }, retry: { maxAttempts: 1 }, params: { exclude: [params.email], set: { params.env: prod } } }`
  ].join('\n') + '\n' })
  t.teardown(() => h.close())
  const q = gtagQuery({ en: 'search', uid: 'USER-42', dl: 'https://shop.example/s', 'ep.search_term': 'jane@doe.com', 'ep.email': 'jane@doe.com', 'ep.plan': 'pro' })
  const res = await h.app.inject({ method: 'GET', url: `/g/collect?${q}`, headers: { 'user-agent': 'UA' }, remoteAddress: '203.0.113.7' })
  t.equal(res.statusCode, 204)
  await sink.waitFor(reqs => reqs.some(r => r.path === '/ga/g/collect') && reqs.some(r => r.path.startsWith('/ga-set/')), 'both tags')
  await drained(h)
  const fwd = sink.requests.find(r => r.path === '/ga/g/collect')!
  for (const key of ['ep.search_term', 'ep.email', 'uid', 'dl']) t.notOk(fwd.query.has(key), `${key} is not forwarded`)
  t.equal(fwd.query.get('ep.plan'), 'pro', 'the rest of the hit is')
  const mp = sink.requests.find(r => r.path.startsWith('/ga-set/'))!
  t.equal(mp.path, '/ga-set/mp/collect', 'a set cannot be made on the raw hit: Measurement Protocol')
  t.match(mp.json, { client_id: String, events: [{ name: 'search', params: { env: 'prod', plan: 'pro' } }] })
  t.equal(mp.json.events[0].params.email, undefined, 'and the excluded e-mail is not in it')
})
