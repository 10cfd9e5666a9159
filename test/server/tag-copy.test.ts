// Each tag's queued copy holds the raw GA4 protocol values (x-ga-*, x-sst-*) only when its build
// reads them: GA4 the raw hit, a webhook with includeProtocolFields all of them, nobody else.
import t from 'tap'
import { tagCopy } from '../../server/pipeline.js'
import { loadConfig } from '../../config/load.js'
import type { TaglineEvent } from '../../schemas/event.js'

const YAML = `
tags:
  - { name: ga4, type: ga4, measurementId: G-ABC123XYZ9, apiSecret: s }
  - { name: meta, type: meta, pixelId: "1", accessToken: tok, consent: [] }
  - { name: tiktok, type: tiktok, pixelCode: C1, accessToken: tok, consent: [] }
  - { name: hook, type: webhook, url: "https://crm.example/h" }
  - { name: hookfull, type: webhook, url: "https://crm.example/h", includeProtocolFields: true }
  - { name: log, type: log }
  - { name: cut, type: log, ip: truncate }
`

t.test('protocol values stay only in the copies of tags that read them', async t => {
  const config = loadConfig({ text: YAML })
  const ev = {
    event_name: 'purchase',
    client_id: '1.2',
    ip_override: '203.0.113.77',
    'x-ga-raw': { query: 'v=2&en=purchase' },
    'x-ga-gcs': 'G111',
    'x-sst-system_properties': { a: 1 }
  } as TaglineEvent
  const copies = Object.fromEntries(config.tags.map(tag => [tag.name, tagCopy(tag, ev) as Record<string, unknown>]))
  const protocol = (o: Record<string, unknown>): string[] => Object.keys(o).filter(k => /^x-(ga|sst)-/.test(k)).sort()
  t.same(protocol(copies.ga4), ['x-ga-raw'], 'GA4 forwards the raw hit, which holds the rest')
  t.same(protocol(copies.hookfull), ['x-ga-gcs', 'x-ga-raw', 'x-sst-system_properties'])
  for (const name of ['meta', 'tiktok', 'hook', 'log', 'cut']) {
    t.same(protocol(copies[name]), [], `${name} has none`)
    t.equal(copies[name].client_id, '1.2', `${name} keeps the rest`)
  }
  t.equal(copies.meta, copies.log, 'tags that change nothing share one lean copy (serialised once in Redis mode)')
  t.equal(copies.cut.ip_override, '203.0.113.0', 'IP handling still applies to the lean copy')
  t.same(protocol(ev as Record<string, unknown>), ['x-ga-gcs', 'x-ga-raw', 'x-sst-system_properties'], 'the shared event is untouched')
})
