// Reloads from a change of the config file, without a signal: the folder is watched (a Kubernetes
// ConfigMap update is a symlink swap in it), bursts are debounced, identical content is skipped,
// an invalid file is refused as SIGHUP refuses it, and every result is counted.
import t, { type Test } from 'tap'
import { mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startGateway, type Gateway } from '../../server/start.js'
import { readConfigFile, startConfigReloads, type ConfigReloads } from '../../server/config-reload.js'
import { WATCH_DEBOUNCE_MS } from '../../server/config-watch.js'
import { captureLogs, hookTag } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'

const OLD_KEY = 'tl_watch_old_key_7a8b9c'
const NEW_KEY = 'tl_watch_new_key_0d1e2f'

function yaml (dir: string, sink: Sink, o: { key: string, tags: string[], server?: string[] }): string {
  return [
    'server:',
    `  spoolFile: ${JSON.stringify(join(dir, 'spool.jsonl'))}`,
    `  deadLetterFile: ${JSON.stringify(join(dir, 'dead-letters.jsonl'))}`,
    '  rateLimit: false',
    ...(o.server ?? []).map(l => '  ' + l),
    'auth:',
    `  apiKeys: [${JSON.stringify(o.key)}]`,
    'tags:',
    ...o.tags.map(name => hookTag(name, sink.origin))
  ].join('\n') + '\n'
}

interface Running {
  gw: Gateway
  reloads: ConfigReloads
  logs: ReturnType<typeof captureLogs>
  /** tagline_config_reloads_total by result. */
  counts: () => Promise<Record<string, number>>
  /** The hash labels of tagline_config_info. */
  hashes: () => Promise<string[]>
  send: (key: string, event?: string) => Promise<number>
}

/** A gateway started from `file` as `tagline start` starts it, with its reloads. */
async function run (t: Test, file: string): Promise<Running> {
  const logs = captureLogs('debug')
  const { config, hash } = readConfigFile(file, {})
  const gw = await startGateway({ config, logger: logs.logger, port: 0, host: '127.0.0.1' })
  const reloads = startConfigReloads({ gateway: gw, file, hash, logger: logs.logger, env: {}, watch: config.server.watchConfig })
  t.teardown(async () => { reloads.close(); await gw.stop() })
  const values = async (name: string) => (await gw.metrics.registry.getSingleMetric(name)?.get())?.values ?? []
  return {
    gw, reloads, logs,
    counts: async () => Object.fromEntries((await values('tagline_config_reloads_total')).map(v => [String(v.labels.result), v.value])),
    hashes: async () => (await values('tagline_config_info')).map(v => String(v.labels.hash)),
    send: async (key, event = 'x') => (await gw.app.inject({ method: 'POST', url: '/collect', headers: { authorization: `Bearer ${key}` }, payload: { event_name: event } })).statusCode
  }
}

type Settings = Parameters<typeof yaml>[2]

/** A fresh folder with a config file, a sink, and a gateway started from the file; write() replaces the file. */
async function fromFile (t: Test, first: Settings): Promise<{ r: Running, sink: Sink, file: string, write: (next: Settings) => void }> {
  const dir = t.testdir()
  const sink = await startSink(t)
  const file = join(dir, 'tagline.yaml')
  const write = (next: Settings): void => { writeFileSync(file, yaml(dir, sink, next)) }
  write(first)
  return { r: await run(t, file), sink, file, write }
}

const logged = (r: Running, msg: string): any[] => r.logs.lines.map(l => JSON.parse(l)).filter(l => l.msg === msg)

/** Long enough for a late event of the same burst to have reloaded again: the one fixed wait, for "nothing more happens". */
const settle = async (): Promise<void> => await new Promise(resolve => setTimeout(resolve, WATCH_DEBOUNCE_MS * 4))

t.test('a changed file applies without a signal: new key, new tag, the kept tag keeps delivering', async t => {
  const { r, sink, write } = await fromFile(t, { key: OLD_KEY, tags: ['hook'] })
  const [first] = await r.hashes()
  t.match(first, /^[0-9a-f]{12}$/, 'tagline_config_info carries the short sha256')
  t.equal(await r.send(NEW_KEY), 401)

  write({ key: NEW_KEY, tags: ['hook', 'second'] })
  await until(async () => (await r.counts()).ok === 1, 5000, 'a reload from the file change')
  const [line] = logged(r, 'config reloaded')
  t.equal(line.cause, 'file')
  t.same(line.changed, ['auth.apiKeys', 'tags.second'])
  t.equal(await r.send(NEW_KEY), 202, 'the new key is accepted')
  t.equal(await r.send(OLD_KEY), 401, 'the old one refused')
  await sink.waitFor(() => sink.delivered('/second').length === 1 && sink.delivered('/hook').length === 1, 'both tags deliver')
  const after = await r.hashes()
  t.equal(after.length, 1, 'the old hash label is removed')
  t.not(after[0], first, 'and the new one set')
  t.equal(after[0], line.hash, 'the log names the same hash')
})

t.test('an invalid file is refused with the validate messages; the running config keeps serving', async t => {
  const { r, file, write } = await fromFile(t, { key: OLD_KEY, tags: ['hook'] })
  const before = await r.hashes()

  writeFileSync(file, 'server:\n  rateLimit: sometimes\ntags:\n  - name: hook\n    type: carrier-pigeon\n')
  await until(async () => (await r.counts()).invalid === 1, 5000, 'the refusal')
  const [refused] = logged(r, 'config reload refused: the running config stays')
  t.equal(refused.level, 50, 'an error')
  t.equal(refused.cause, 'file')
  t.match(refused.problems.join('\n'), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+ server\\.rateLimit`, 'm'), '`tagline validate`\'s form')
  t.match(refused.problems.join('\n'), /carrier-pigeon/)
  t.equal(await r.send(OLD_KEY), 202, 'the running config stays')
  t.same(await r.hashes(), before, 'and so does its hash')
  t.equal((await r.counts()).ok, undefined, 'nothing applied')

  // Saved again unchanged: not refused twice. Fixed: applied.
  utimesSync(file, new Date(), new Date())
  await until(async () => (await r.counts()).unchanged === 1, 5000, 'the touch seen')
  t.equal(logged(r, 'config reload refused: the running config stays').length, 1)
  write({ key: NEW_KEY, tags: ['hook'] })
  await until(async () => (await r.counts()).ok === 1, 5000, 'the fixed file applied')
  t.equal(await r.send(NEW_KEY), 202)
})

t.test('a Kubernetes ConfigMap update (a ..data symlink swap) reloads exactly once', async t => {
  const dir = t.testdir()
  const sink = await startSink(t)
  // The kubelet's layout: the file is a symlink into ..data, itself a symlink to a timestamped folder.
  const version = (stamp: string, text: string): void => {
    mkdirSync(join(dir, stamp))
    writeFileSync(join(dir, stamp, 'tagline.yaml'), text)
  }
  version('..2026_12_01_10_00_00.1', yaml(dir, sink, { key: OLD_KEY, tags: ['hook'] }))
  symlinkSync('..2026_12_01_10_00_00.1', join(dir, '..data'))
  symlinkSync('..data/tagline.yaml', join(dir, 'tagline.yaml'))
  const file = join(dir, 'tagline.yaml')
  const r = await run(t, file)

  // The update: a new folder, a new ..data_tmp link renamed over ..data, the old folder removed.
  version('..2026_12_01_10_05_00.2', yaml(dir, sink, { key: NEW_KEY, tags: ['hook'] }))
  symlinkSync('..2026_12_01_10_05_00.2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  rmSync(join(dir, '..2026_12_01_10_00_00.1'), { recursive: true })
  await until(async () => (await r.counts()).ok === 1, 5000, 'the reload')
  t.equal(await r.send(NEW_KEY), 202, 'the new file applies')
  await settle()
  t.same(await r.counts(), { ok: 1 }, 'one reload for the whole swap, nothing refused or repeated')
  t.equal(logged(r, 'config reloaded').length, 1)
})

t.test('saving identical content does not reload; SIGHUP always does', async t => {
  const dir = t.testdir()
  const sink = await startSink(t)
  const file = join(dir, 'tagline.yaml')
  const text = yaml(dir, sink, { key: OLD_KEY, tags: ['hook'] })
  writeFileSync(file, text)
  const r = await run(t, file)
  const before = await r.hashes()

  writeFileSync(file, text)
  await until(async () => (await r.counts()).unchanged === 1, 5000, 'the save seen')
  t.equal(logged(r, 'config reloaded').length, 0, 'not reloaded')
  t.same(await r.hashes(), before)

  // SIGHUP is an operator asking: it applies even the same content (it closes a credentials pause).
  t.equal(r.reloads.reload('signal'), 'ok')
  t.same(await r.counts(), { unchanged: 1, ok: 1 }, 'counted as SIGHUP reloads are')
  t.equal(logged(r, 'config reloaded')[0].cause, 'signal')
  t.same(await r.hashes(), before, 'the same hash')
})

t.test('server.watchConfig: false leaves reloads to SIGHUP, and a reload can turn the watch on', async t => {
  const { r, write } = await fromFile(t, { key: OLD_KEY, tags: ['hook'], server: ['watchConfig: false'] })

  write({ key: NEW_KEY, tags: ['hook'], server: ['watchConfig: false'] })
  await settle()
  t.same(await r.counts(), {}, 'the change is not seen')
  t.equal(await r.send(NEW_KEY), 401)
  t.equal(r.reloads.reload('signal'), 'ok', 'SIGHUP applies it')
  t.equal(await r.send(NEW_KEY), 202)

  write({ key: OLD_KEY, tags: ['hook'] })
  t.equal(r.reloads.reload('signal'), 'ok', 'a reload that turns the watch on')
  write({ key: NEW_KEY, tags: ['hook'] })
  await until(async () => (await r.counts()).ok === 3, 5000, 'the watch started by the reload')
  t.equal(await r.send(NEW_KEY), 202)
})
