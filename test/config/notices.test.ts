// A valid config that lets events a visitor refused reach an ad platform says so: `tagline
// validate` prints a note, a gateway logs a warning at start and at each reload.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../config/load.js'
import { consentNotices } from '../../config/notices.js'
import { main } from '../../server/main.js'

const TEXT = `tags:
  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok_meta_1234, consent: [ad_storage] }
  - { name: tt, type: tiktok, pixelCode: C1ABCDEF, accessToken: tok_tt_1234, consent: [] }
  - { name: tt_off, type: tiktok, pixelCode: C1ABCDEF, accessToken: tok_tt_1234, consent: [], enabled: false }
  - { name: meta_eu, type: meta, pixelId: "1234567890", accessToken: tok_meta_1234, consent: [ad_user_data, ad_storage, analytics_storage] }
  - { name: ga4, type: ga4, measurementId: G-ABC123XYZ9, apiSecret: s3cr3t_api }
  - { name: meta_gated_by_trigger, type: meta, pixelId: "1234567890", accessToken: tok_meta_1234, consent: [], blockOn: [ads_denied] }
  - { name: tt_half, type: tiktok, pixelCode: C1ABCDEF, accessToken: tok_tt_1234, consent: [], blockOn: [{ consent.ad_storage: denied }] }
triggers:
  ads_denied: { any: [ { consent.ad_storage: denied }, { consent.ad_user_data: denied } ] }
`

t.test('a tag whose consent list leaves out what its type is gated on by default', async t => {
  const notices = consentNotices(loadConfig({ text: TEXT }, {}))
  t.same(notices.map(n => [n.tag, n.type, n.ungated]), [
    ['meta', 'meta', ['ad_user_data']],
    ['tt', 'tiktok', ['ad_storage', 'ad_user_data']],
    ['tt_half', 'tiktok', ['ad_user_data']]
  ], 'not a disabled tag, not a list that adds to the defaults, not GA4 (gated on nothing: it gets the consent state), not what a blockOn trigger stops')
  t.equal(notices[1].message, 'tag "tt" (tiktok): neither its consent list nor a blockOn trigger stops an event that denies ad_storage or ad_user_data, which tiktok is gated on by default: such events are sent to it.')
})

t.test('tagline validate prints them as notes and still exits 0', async t => {
  const file = join(t.testdir(), 'tagline.yaml')
  writeFileSync(file, TEXT)
  const out: string[] = []
  const code = await main(['validate', file], s => out.push(s), s => out.push(s))
  t.equal(code, 0)
  t.match(out[0], /valid \(7 tags/)
  t.match(out.slice(1), [/^ {2}note: tag "meta" \(meta\): neither its consent list nor a blockOn trigger stops an event that denies ad_user_data/, /^ {2}note: tag "tt" \(tiktok\)/, /^ {2}note: tag "tt_half"/])
  t.equal(out.length, 4)
})

t.test('a gateway logs them as warnings at start and at each reload', async t => {
  const { startGateway } = await import('../../server/start.js')
  const { readConfigFile, startConfigReloads } = await import('../../server/config-reload.js')
  const { captureLogs } = await import('../server/fixtures/harness.js')
  const dir = t.testdir()
  const file = join(dir, 'tagline.yaml')
  const server = `server: { rateLimit: false, watchConfig: false, spoolFile: ${join(dir, 'spool.jsonl')}, deadLetterFile: ${join(dir, 'dead.jsonl')} }\n`
  writeFileSync(file, server + TEXT)
  const logs = captureLogs('info')
  const { config, hash } = readConfigFile(file, {})
  const gw = await startGateway({ config, logger: logs.logger, port: 0, host: '127.0.0.1' })
  const reloads = startConfigReloads({ gateway: gw, file, hash, logger: logs.logger, env: {}, watch: false })
  t.teardown(async () => { reloads.close(); await gw.stop() })
  const warned = (): any[] => logs.lines.map(l => JSON.parse(l)).filter(l => l.level === 40 && /blockOn trigger stops/.test(l.msg))
  t.equal(warned().length, 3, 'at start')
  t.match(warned()[0], { tag: 'meta', type: 'meta', ungated: ['ad_user_data'] }, 'with fields to alert on')
  writeFileSync(file, server + TEXT.replace('consent: [ad_storage] }', 'consent: [ad_storage, ad_user_data] }'))
  t.equal(reloads.reload('signal'), 'ok')
  t.same(warned().slice(3).map(l => l.tag), ['tt', 'tt_half'], 'at the reload, for what still leaves a type out')
})
