// The private ops listener (server.opsPort): /metrics, /healthz and /readyz on a second port; the
// public port then serves no /metrics. A real gateway in this process, both ports on loopback.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { loadConfig } from '../../config/load.js'
import { startGateway, type Gateway } from '../../server/start.js'
import { ConfigHolder } from '../../server/config-holder.js'
import { hookTag, silent } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'
import { occupiedPort, request, tempDir } from '../e2e/fixtures/util.js'

async function configText (t: Test, server: string[]): Promise<string> {
  const sink = await startSink(t)
  const spoolFile = join(tempDir(t, 'tagline-ops-'), 'spool.jsonl')
  return [
    'server:',
    '  host: 127.0.0.1',
    '  rateLimit: false',
    `  spoolFile: ${JSON.stringify(spoolFile)}`,
    `  deadLetterFile: ${JSON.stringify(spoolFile.replace(/spool\.jsonl$/, 'dead-letters.jsonl'))}`,
    ...server.map(l => '  ' + l),
    'tags:',
    hookTag('hook', sink.origin)
  ].join('\n')
}

async function gateway (t: Test, server: string[]): Promise<Gateway> {
  const gw = await startGateway({ config: loadConfig({ text: await configText(t, server) }, {}), logger: silent(), port: 0 })
  t.teardown(async () => { await gw.stop() })
  return gw
}

t.test('with opsPort: /metrics on the ops port only; /healthz and /readyz on both', async t => {
  const gw = await gateway(t, ['opsPort: 0'])
  t.ok(gw.opsUrl, 'the ops listener has an address')
  t.not(gw.opsUrl, gw.url, 'a port of its own')
  await request(`${gw.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event_name":"sign_up"}' })

  const metrics = await request(`${gw.opsUrl!}/metrics`)
  t.equal(metrics.status, 200)
  t.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  t.match(metrics.body, /^tagline_http_requests_total\{route="\/collect",status="202"\} 1$/m, 'it counts the public port\'s traffic')

  const hidden = await request(`${gw.url}/metrics`)
  t.equal(hidden.status, 404, 'the public port does not serve /metrics')
  t.match(String(hidden.headers['content-type']), /^application\/json/)
  t.equal(hidden.json.error, 'not_found')

  for (const base of [gw.opsUrl!, gw.url]) {
    const health = await request(`${base}/healthz`)
    t.same([health.status, health.json], [200, { status: 'ok' }], `${base}/healthz`)
    const ready = await request(`${base}/readyz`)
    t.same([ready.status, ready.json], [200, { status: 'ready', store: 'memory', storeReachable: true }], `${base}/readyz`)
  }
  const collect = await request(`${gw.opsUrl!}/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event_name":"x"}' })
  t.equal(collect.status, 404, 'the ops port takes no events')
  t.equal(collect.json.error, 'not_found')

  await gw.stop()
  await t.rejects(request(`${gw.opsUrl!}/healthz`, { timeoutMs: 1000 }), 'the ops port is closed after stop()')
  await t.rejects(request(`${gw.url}/healthz`, { timeoutMs: 1000 }), 'and the public one')
})

t.test('without opsPort: one port serves /metrics as before', async t => {
  const gw = await gateway(t, [])
  t.equal(gw.opsUrl, undefined)
  t.equal((await request(`${gw.url}/metrics`)).status, 200)
})

t.test('opsHost defaults to server.host', async t => {
  const c = loadConfig({ text: 'server: { host: 10.1.2.3, opsPort: 9464 }\n' }, {})
  t.same(c.server.ops, { port: 9464, host: '10.1.2.3' })
  t.same(loadConfig({ text: 'server: { opsPort: 9464, opsHost: 127.0.0.1 }\n' }, {}).server.ops, { port: 9464, host: '127.0.0.1' })
  t.equal(loadConfig({ text: '' }, {}).server.ops, undefined, 'no ops port unless asked')
})

t.test('an ops port in use fails the start, naming the setting; nothing is left listening', async t => {
  const busy = await occupiedPort(t)
  const config = loadConfig({ text: await configText(t, [`opsPort: ${busy}`]) }, {})
  await t.rejects(startGateway({ config, logger: silent(), port: 0 }), { code: 'EADDRINUSE', message: new RegExp(`server\\.opsPort.*127\\.0\\.0\\.1:${busy}.*in use`) })
})

t.test('opsPort and opsHost need a restart', async t => {
  const text = (server: string): string => `server: { ${server} }\ntags: []\n`
  const holder = new ConfigHolder(loadConfig({ text: text('opsPort: 9464') }, {}))
  const report = holder.swap(loadConfig({ text: text('opsPort: 9465, opsHost: 127.0.0.1') }, {}))
  t.same(report.ignoredUntilRestart, ['server.opsPort', 'server.opsHost'])
  t.same(holder.current().server.ops, { port: 9464, host: '0.0.0.0' }, 'the running listener stays')
  t.same(holder.swap(loadConfig({ text: text('rateLimit: false') }, {})).ignoredUntilRestart, ['server.opsPort', 'server.opsHost', 'server.rateLimit (on/off)'], 'removing it needs one too')
})
