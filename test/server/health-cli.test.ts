// `tagline health` (the image's HEALTHCHECK): 0 when the gateway its config names answers /healthz
// with 200, on the ops port when there is one; 1 when nothing answers there.
import t from 'tap'
import net from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { main } from '../../server/main.js'
import { startGateway } from '../../server/start.js'
import { loadConfig } from '../../config/load.js'

async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}

async function health (args: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(['health', ...args], s => { out += s }, s => { err += s })
  return { code, out, err }
}

t.test('the gateway its config names, on the ops port when set', async t => {
  const dir = t.testdir()
  const [port, opsPort] = [await freePort(), await freePort()]
  const text = `server: { port: ${port}, host: 127.0.0.1, opsPort: ${opsPort}, watchConfig: false, spoolFile: ${join(dir, 'spool.jsonl')}, deadLetterFile: ${join(dir, 'dead.jsonl')} }
tags:
  - { name: console, type: log }
`
  const file = join(dir, 'tagline.yaml')
  await writeFile(file, text)
  const before = await health(['--config', file])
  t.equal(before.code, 1, 'nothing listens yet')
  t.match(before.err, `http://127.0.0.1:${opsPort}/healthz: no answer`)

  const gw = await startGateway({ config: loadConfig({ text, file }, {}) })
  t.teardown(async () => { await gw.stop() })
  const up = await health(['--config', file])
  t.equal(up.code, 0, up.err)
  t.equal(up.out, `http://127.0.0.1:${opsPort}/healthz: 200`, 'asked on the ops port')

  process.env.TAGLINE_CONFIG = file
  t.teardown(() => { delete process.env.TAGLINE_CONFIG })
  t.equal((await health([])).code, 0, 'TAGLINE_CONFIG names the config when --config is absent (the image sets it)')
  t.equal((await health(['--url', `http://127.0.0.1:${port}`])).code, 0, '--url asks that address')
  t.equal((await health(['--url', `http://127.0.0.1:${port}/nothing-here/`])).code, 1, 'a 404 is not healthy')
})

t.test('a file the running gateway refused to reload (a mistake outside server:) still finds it', async t => {
  const dir = t.testdir()
  const port = await freePort()
  const good = `server: { port: ${port}, host: 127.0.0.1, watchConfig: false, spoolFile: ${join(dir, 'spool.jsonl')}, deadLetterFile: ${join(dir, 'dead.jsonl')} }
tags:
  - { name: console, type: log }
`
  const gw = await startGateway({ config: loadConfig({ text: good }, {}) })
  t.teardown(async () => { await gw.stop() })
  const file = join(dir, 'tagline.yaml')
  // An edit with a typo and an unset variable: a reload refuses it and the gateway runs on.
  await writeFile(file, good.replace('type: log }', 'type: lgo }') + 'store: { redis: "${REDIS_URL_UNSET}" }\n')
  const r = await health(['--config', file])
  t.equal(r.code, 0, r.err)
  t.equal(r.out, `http://127.0.0.1:${port}/healthz: 200`)

  await writeFile(file, good.replace(`port: ${port}`, 'port: 70000'))
  const bad = await health(['--config', file])
  t.equal(bad.code, 1, 'a mistake in the address itself is a failure')
  t.match(bad.err, /tagline\.yaml:1:\d+ server\.port: must be a port number from 0 to 65535/)
})

t.test('a config that cannot be read: exit 1 with the reason; bad arguments: exit 2', async t => {
  const r = await health(['--config', join(t.testdir(), 'missing.yaml')])
  t.equal(r.code, 1)
  t.match(r.err, 'missing.yaml')
  t.equal((await health(['--bogus'])).code, 2)
})
