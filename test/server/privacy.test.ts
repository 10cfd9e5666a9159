// Per-tag IP handling and the Global Privacy Control opt-out of advertising tags.
import t from 'tap'
import { truncateIp, applyIpMode } from '../../server/ip.js'
import { route, tagCopy } from '../../server/pipeline.js'
import { loadConfig } from '../../config/load.js'
import { tagTypes } from '../../tags/index.js'
import type { TaglineEvent } from '../../schemas/event.js'

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
