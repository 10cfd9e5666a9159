// Config reload: every request reads the config through one holder, so a reload (Gateway.reload,
// SIGHUP in the real process) applies API keys, CORS, rate limits, triggers and tags from the
// next request, and reports the settings that need a restart (which keep their running value).
import t, { type Test } from 'tap'
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig } from '../../config/load.js'
import type { CompiledConfig } from '../../config/types.js'
import { startGateway, type Gateway } from '../../server/start.js'
import { ConfigHolder } from '../../server/config-holder.js'
import { startConfigReloads } from '../../server/config-reload.js'
import { hookTag, silent } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'
import { spawnTagline } from '../e2e/fixtures/tagline.js'
import { request, tempDir } from '../e2e/fixtures/util.js'
import { until } from '../fixtures/wait.js'
import { writeConfig } from '../e2e/fixtures/config.js'

const OLD_KEY = 'tl_reload_old_key_1a2b3c'
const NEW_KEY = 'tl_reload_new_key_4d5e6f'

interface Parts {
  /** Lines under `server:` (rateLimit is off unless given). */
  server?: string[]
  apiKeys?: string[]
  /** Top-level YAML after server/auth (triggers:, identity:, …). */
  extra?: string
  /** Tag list entries. */
  tags: string
}

function yaml (spoolFile: string, p: Parts): string {
  const server = p.server ?? []
  const given = (key: string): boolean => server.some(l => l.startsWith(`${key}:`))
  return [
    'server:',
    ...(given('spoolFile') ? [] : [`  spoolFile: ${JSON.stringify(spoolFile)}`]),
    ...(given('deadLetterFile') ? [] : [`  deadLetterFile: ${JSON.stringify(spoolFile.replace(/spool\.jsonl$/, 'dead-letters.jsonl'))}`]),
    ...(given('rateLimit') ? [] : ['  rateLimit: false']),
    ...server.map(l => '  ' + l),
    'auth:',
    `  apiKeys: ${JSON.stringify(p.apiKeys ?? [OLD_KEY])}`,
    p.extra ?? '',
    'tags:',
    p.tags
  ].join('\n')
}

/** A real gateway (memory store, loopback port) and a way to load more configs for it. */
async function gateway (t: Test, first: (sinkUrl: string) => Parts): Promise<{ gw: Gateway, sink: Sink, config: (parts: (sinkUrl: string) => Parts) => CompiledConfig }> {
  const sink = await startSink(t)
  const spoolFile = join(tempDir(t, 'tagline-reload-'), 'spool.jsonl')
  const config = (parts: (sinkUrl: string) => Parts): CompiledConfig => loadConfig({ text: yaml(spoolFile, parts(sink.origin)) }, {})
  const gw = await startGateway({ config: config(first), logger: silent(), port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await gw.stop() })
  return { gw, sink, config }
}

const oneHook = (url: string): string => hookTag('hook', url)

t.test('API keys: after a reload the new key is accepted and the old one refused', async t => {
  const { gw, config } = await gateway(t, url => ({ apiKeys: [OLD_KEY], tags: oneHook(url) }))
  const send = async (key: string): Promise<number> => (await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: `Bearer ${key}` }, payload: { event_name: 'x' } })).statusCode
  t.equal(await send(OLD_KEY), 202, 'before: the old key')
  t.equal(await send(NEW_KEY), 401, 'before: the new key is not known yet')

  const report = gw.reload(config(url => ({ apiKeys: [NEW_KEY], tags: oneHook(url) })))
  t.same(report, { changed: ['auth.apiKeys'], ignoredUntilRestart: [] }, 'the report names the setting, never the keys')
  t.equal(await send(NEW_KEY), 202, 'after: the new key')
  t.equal(await send(OLD_KEY), 401, 'after: the old key is refused')
})

t.test('CORS: an origin added by a reload gets CORS headers; one removed loses them', async t => {
  const { gw, config } = await gateway(t, url => ({ tags: oneHook(url) }))
  const preflight = async (origin: string) => await gw.app.inject({ method: 'OPTIONS', url: '/collect', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
  const post = async (origin: string) => await gw.app.inject({ method: 'POST', url: '/collect', headers: { origin }, payload: { event_name: 'x' } })

  t.equal((await preflight('https://shop.example')).headers['access-control-allow-origin'], undefined, 'no CORS configured: no header')
  t.equal((await post('https://shop.example')).headers['access-control-allow-origin'], undefined)

  const report = gw.reload(config(url => ({ server: ['cors: { origins: ["https://shop.example"] }'], tags: oneHook(url) })))
  t.same(report.changed, ['server.cors.origins'])
  const pre = await preflight('https://shop.example')
  t.equal(pre.statusCode, 204, 'the preflight is answered')
  t.equal(pre.headers['access-control-allow-origin'], 'https://shop.example')
  t.equal(pre.headers['access-control-allow-credentials'], 'true')
  const res = await post('https://shop.example')
  t.equal(res.statusCode, 202)
  t.equal(res.headers['access-control-allow-origin'], 'https://shop.example', 'the actual request carries it too')
  t.equal((await post('https://evil.example')).headers['access-control-allow-origin'], undefined, 'another origin still gets none')

  gw.reload(config(url => ({ server: ['cors: { origins: ["https://www.shop.example"] }'], tags: oneHook(url) })))
  t.equal((await post('https://shop.example')).headers['access-control-allow-origin'], undefined, 'the removed origin gets none')
  t.equal((await post('https://www.shop.example')).headers['access-control-allow-origin'], 'https://www.shop.example')

  gw.reload(config(url => ({ server: ['cors: { origins: ["*"] }'], tags: oneHook(url) })))
  t.equal((await post('https://any.example')).headers['access-control-allow-origin'], 'https://any.example', '"*" reflects any origin')
})

t.test('triggers and tags: the next request is routed by the new config; kept tags keep their queue', async t => {
  const { gw, sink, config } = await gateway(t, url => ({
    extra: 'triggers:\n  orders: { event_name: purchase }',
    tags: [hookTag('orders', url, 'fireOn: [orders]'), hookTag('everything', url)].join('')
  }))
  const send = async (name: string, id: string): Promise<void> => {
    const res = await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: `Bearer ${OLD_KEY}` }, payload: { event_name: name, event_id: id } })
    t.equal(res.statusCode, 202, `${name} ${id} accepted`)
  }
  const ids = (tag: string): string[] => sink.delivered(`/${tag}`).map(e => String(e.event_id)).sort()
  const deliveries = async (n: number): Promise<void> => { await sink.waitFor(() => sink.delivered().length >= n, `${n} deliveries`) }
  await send('purchase', 'p1')
  await send('sign_up', 's1')
  await deliveries(3)
  t.same(ids('orders'), ['p1'])
  t.same(ids('everything'), ['p1', 's1'])

  // `orders` now means sign-ups; `everything` is gone; `late` is new.
  const report = gw.reload(config(url => ({
    extra: 'triggers:\n  orders: { event_name: sign_up }',
    tags: [hookTag('orders', url, 'fireOn: [orders]'), hookTag('late', url)].join('')
  })))
  t.same(report.changed.sort(), ['tags.everything', 'tags.late'], 'added and removed tags are listed (a trigger edit cannot be compared, only applied)')
  await send('purchase', 'p2')
  await send('sign_up', 's2')
  await deliveries(6)
  t.same(ids('orders'), ['p1', 's2'], 'the changed trigger applies to the next request')
  t.same(ids('everything'), ['p1', 's1'], 'the removed tag takes nothing more')
  t.same(ids('late'), ['p2', 's2'], 'the new tag takes the next events')
  t.equal(gw.delivery.depth('everything'), 0, 'the removed tag drained')
})

t.test('a tag keeps its type: a reload that turns a webhook tag into a meta tag of the same name is refused', async t => {
  const { gw, sink, config } = await gateway(t, url => ({ tags: oneHook(url) }))
  const retyped = config(url => ({ tags: `  - { name: hook, type: meta, pixelId: "1234567890", accessToken: tok_meta_reload_1, endpoint: "${url}/hook" }\n` }))
  t.throws(() => gw.reload(retyped), { name: 'ConfigError', problems: [{ path: 'tags[0].type', code: 'invalid_value', message: /'hook' is a webhook tag.*give the meta tag another name/ }] })
  const base = gw.url
  const res = await request(base + '/collect', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OLD_KEY}` }, body: JSON.stringify({ event_name: 'after_refusal', user_data: { email_address: 'jane@example.com' } }) })
  t.equal(res.status, 202)
  await sink.waitFor(() => sink.delivered('/hook').some(e => e.event_name === 'after_refusal'), 'the webhook, as it was')

  // Through the reload path (SIGHUP, a file change): refused, counted, the running config stays.
  const dir = tempDir(t, 'tagline-retype-')
  const file = writeConfig(dir, 'tagline.yaml', yaml(join(dir, 'spool.jsonl'), { tags: `  - { name: hook, type: meta, pixelId: "1234567890", accessToken: tok_meta_reload_1, endpoint: "${sink.origin}/hook" }\n` }))
  const reloads = startConfigReloads({ gateway: gw, file, hash: 'start', watch: false, logger: silent(), env: {} })
  t.teardown(() => { reloads.close() })
  t.equal(reloads.reload('signal'), 'invalid')
  // Renamed, it is a new tag; the old one finishes its queue and retires.
  t.doesNotThrow(() => gw.reload(config(url => ({ tags: `  - { name: hook_meta, type: meta, pixelId: "1234567890", accessToken: tok_meta_reload_1, endpoint: "${url}/meta" }\n` }))))
})

t.test('a load running across reloads: no request fails, no event is lost or doubled', async t => {
  const { gw, sink, config } = await gateway(t, url => ({ tags: oneHook(url) }))
  // Two configs that keep `hook` and change everything around it: a trigger, a second tag, the keys.
  const configs = [
    config(url => ({ apiKeys: [OLD_KEY, NEW_KEY], extra: 'triggers:\n  orders: { event_name: purchase }', tags: oneHook(url) + hookTag('orders', url, 'fireOn: [orders]') })),
    config(url => ({ tags: oneHook(url) }))
  ]
  const N = 600
  const statuses: number[] = []
  let next = 0
  let reloads = 0
  const senders = Array.from({ length: 8 }, async () => {
    while (next < N) {
      const i = next++
      const res = await request(`${gw.url}/collect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OLD_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event_name: i % 3 === 0 ? 'purchase' : 'sign_up', event_id: `load-${i}` })
      })
      statuses.push(res.status)
    }
  })
  // Reload every few requests while the senders run.
  const reloader = (async () => {
    while (next < N) {
      gw.reload(configs[reloads++ % 2])
      await new Promise(resolve => setImmediate(resolve))
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  await Promise.all([...senders, reloader])
  t.ok(reloads >= 10, `${reloads} reloads during the load`)
  t.same([...new Set(statuses)], [202], `all ${N} requests accepted`)
  await sink.waitFor(() => sink.delivered('/hook').length >= N, 'every event at hook')
  const ids = sink.delivered('/hook').map(e => String(e.event_id))
  t.equal(ids.length, N, 'none twice')
  t.equal(new Set(ids).size, N, `all ${N} events delivered at the tag both configs keep`)
})

t.test('rate limit: max follows a reload; turning it on or off needs a restart', async t => {
  const { gw, config } = await gateway(t, url => ({ server: ['rateLimit: { max: 2, timeWindow: "1 minute" }'], tags: oneHook(url) }))
  const remoteAddress = `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`
  const send = async (): Promise<number> => (await gw.app.inject({ method: 'POST', url: '/collect', remoteAddress, payload: { event_name: 'x' } })).statusCode
  t.same([await send(), await send(), await send()], [202, 202, 429], 'max 2')

  const raised = gw.reload(config(url => ({ server: ['rateLimit: { max: 4, timeWindow: 60000 }'], tags: oneHook(url) })))
  t.same(raised, { changed: ['server.rateLimit'], ignoredUntilRestart: [] })
  t.same([await send(), await send()], [202, 429], 'max 4: the window\'s count carries on (3 so far), one more fits')

  const off = gw.reload(config(url => ({ server: ['rateLimit: false'], tags: oneHook(url) })))
  t.same(off.ignoredUntilRestart, ['server.rateLimit (on/off)'])
  t.equal(await send(), 429, 'still limited: the limit stays on until a restart')

  // A 5 ms window: the count starts over soon, which a one-minute window would not do in this test.
  gw.reload(config(url => ({ server: ['rateLimit: { max: 4, timeWindow: "5ms" }'], tags: oneHook(url) })))
  await until(async () => await send() === 202, 5000, 'a request accepted once the 5 ms window has passed')
  t.pass('timeWindow follows a reload')
})

t.test('restart-only settings are reported ignored and keep their running value', async t => {
  const { gw, config } = await gateway(t, url => ({ server: ['bodyLimit: 4096', 'trustProxy: false'], tags: oneHook(url) }))
  const report = gw.reload(config(url => ({
    server: ['port: 9999', 'host: 127.0.0.2', 'bodyLimit: 1024', 'trustProxy: true', 'spoolFile: "elsewhere.jsonl"'],
    extra: 'store:\n  redis: redis://user:s3cret@127.0.0.1:6399\ndelivery:\n  maxQueue: 5\nprivacy:\n  honorGpc: false',
    tags: oneHook(url)
  })))
  t.same(report.ignoredUntilRestart, ['server.port', 'server.host', 'server.bodyLimit', 'server.trustProxy', 'server.spoolFile', 'store.redis', 'delivery.maxQueue'])
  t.same(report.changed, ['privacy'], 'the rest applies')
  t.notMatch(JSON.stringify(report), /s3cret/, 'no value is reported')

  const big = await gw.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'x', params: { padding: 'p'.repeat(2000) } } })
  t.equal(big.statusCode, 202, 'the running bodyLimit (4096) still applies, not the file\'s 1024')

  // A second reload compares with what runs: the ignored settings are reported again, nothing else.
  const again = gw.reload(config(url => ({ server: ['port: 9999', 'bodyLimit: 1024'], tags: oneHook(url) })))
  t.same(again.ignoredUntilRestart, ['server.port', 'server.bodyLimit'])
})

t.test('ConfigHolder: derived values are rebuilt only after a swap', async t => {
  const text = (keys: string[]): string => `auth:\n  apiKeys: ${JSON.stringify(keys)}\ntags: []\n`
  const holder = new ConfigHolder(loadConfig({ text: text(['key-a-0000000001']) }, {}))
  let builds = 0
  const keys = holder.derived(c => { builds++; return c.apiKeys.join(',') })
  t.equal(keys(), 'key-a-0000000001')
  t.equal(keys(), 'key-a-0000000001')
  t.equal(builds, 1, 'built once for many reads')
  const report = holder.swap(loadConfig({ text: text(['key-b-0000000002']) }, {}))
  t.same(report, { changed: ['auth.apiKeys'], ignoredUntilRestart: [] })
  t.equal(keys(), 'key-b-0000000002')
  t.equal(builds, 2)
  t.same(holder.swap(loadConfig({ text: text(['key-b-0000000002']) }, {})), { changed: [], ignoredUntilRestart: [] }, 'the same file again: nothing changed')
})

// ------------------------------------------------------------------ the real process

// watchConfig: false, so only the signal reloads (test/server/config-watch.test.ts covers the watch).
t.test('process: SIGHUP applies a changed file, refuses a broken one and keeps serving', async t => {
  const dir = tempDir(t, 'tagline-reload-')
  const sink = await startSink(t)
  const spoolFile = join(dir, 'spool.jsonl')
  const file = (keys: string[], more: string[] = []): string => writeConfig(dir, 'tagline.yaml', yaml(spoolFile, { server: ['host: 127.0.0.1', 'watchConfig: false', ...more], apiKeys: keys, tags: oneHook(sink.origin) }))
  const path = file([OLD_KEY])
  const p = spawnTagline(t, ['start', '--config', path], { env: { PORT: '0' } })
  const base = await p.url()
  const send = async (key: string): Promise<number> => (await request(base + '/collect', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ event_name: 'x' })
  })).status
  t.equal(await send(OLD_KEY), 202, 'the first file\'s key')
  t.equal(await send(NEW_KEY), 401)

  file([NEW_KEY], ['bodyLimit: 4096'])
  p.signal('SIGHUP')
  const reloaded = await p.waitLog(l => l.msg === 'config reloaded', 10_000, 'config reloaded')
  t.same(reloaded.changed, ['auth.apiKeys'])
  t.same(reloaded.ignoredUntilRestart, ['server.bodyLimit'], 'the log names what needs a restart')
  t.notMatch(JSON.stringify(p.lines), new RegExp(NEW_KEY), 'the keys are not logged')
  t.equal(await send(NEW_KEY), 202, 'the new key is accepted')
  t.equal(await send(OLD_KEY), 401, 'the old key is refused')

  writeConfig(dir, 'tagline.yaml', [
    'server:',
    '  rateLimit: sometimes',
    'tags:',
    '  - name: hook',
    '    type: carrier-pigeon'
  ].join('\n'))
  p.signal('SIGHUP')
  const refused = await p.waitLog(l => l.msg === 'config reload refused: the running config stays', 10_000, 'config reload refused')
  t.equal(refused.level, 50, 'logged as an error')
  const problems = refused.problems as string[]
  t.ok(problems.length >= 2, 'every problem is listed')
  t.match(problems.join('\n'), new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+ server\\.rateLimit`, 'm'), 'in `tagline validate`\'s form: file:line:column key: message')
  t.match(problems.join('\n'), /carrier-pigeon/)
  t.equal(await send(NEW_KEY), 202, 'the running config stays: the key from the last good file still works')
  t.equal(await send(OLD_KEY), 401)
  t.equal((await request(base + '/readyz')).status, 200, 'still ready')

  // The delivered events prove the tag kept working through both reloads.
  await sink.waitFor(() => sink.delivered('/hook').length >= 3, 'three deliveries')
  p.signal('SIGTERM')
  const exit = await p.exited
  t.equal(exit.code, 0, 'a clean exit after the reloads')
})

t.test('process: a change of the file reloads without a signal, counted in /metrics', async t => {
  const dir = tempDir(t, 'tagline-reload-')
  const sink = await startSink(t)
  const spoolFile = join(dir, 'spool.jsonl')
  const file = (keys: string[]): string => writeConfig(dir, 'tagline.yaml', yaml(spoolFile, { server: ['host: 127.0.0.1'], apiKeys: keys, tags: oneHook(sink.origin) }))
  const p = spawnTagline(t, ['start', '--config', file([OLD_KEY])], { env: { PORT: '0' } })
  const base = await p.url()
  const metric = async (): Promise<string> => (await request(base + '/metrics')).body
  const before = /tagline_config_info\{hash="([0-9a-f]{12})"\} 1/.exec(await metric())?.[1]
  t.ok(before, 'tagline_config_info names the running hash')

  file([NEW_KEY])
  const reloaded = await p.waitLog(l => l.msg === 'config reloaded', 10_000, 'config reloaded')
  t.equal(reloaded.cause, 'file', 'no signal was sent')
  t.same(reloaded.changed, ['auth.apiKeys'])
  const text = await metric()
  t.match(text, /tagline_config_reloads_total\{result="ok"\} 1/)
  t.match(text, new RegExp(`tagline_config_info\\{hash="${String(reloaded.hash)}"\\} 1`))
  t.notMatch(text, new RegExp(`hash="${String(before)}"`), 'the old hash is gone')
  p.signal('SIGTERM')
  t.equal((await p.exited).code, 0)
})
