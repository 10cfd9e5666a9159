// The real `tagline start` with server.opsPort: both ports listen, /metrics is on the ops port
// only, SIGTERM closes both, and an ops port in use fails the start.
import t from 'tap'
import { join } from 'node:path'
import { runTagline, spawnTagline } from './fixtures/tagline.js'
import { freePort } from '../fixtures/sink.js'
import { occupiedPort, request, tempDir } from './fixtures/util.js'
import { serverBlock, writeConfig } from './fixtures/config.js'

function config (dir: string, opsPort: number): string {
  return writeConfig(dir, 'tagline.yaml', [
    serverBlock({ spoolFile: join(dir, 'spool.jsonl') }),
    `  opsPort: ${opsPort}`,
    'tags:',
    '  - name: console',
    '    type: log'
  ].join('\n'))
}

t.test('both ports listen; /metrics only on the ops port; SIGTERM closes both', async t => {
  const opsPort = await freePort()
  const p = spawnTagline(t, ['start', '--config', config(tempDir(t), opsPort)], { env: { PORT: '0' } })
  const base = await p.url()
  const ops = `http://127.0.0.1:${opsPort}`
  t.match(p.lines.find(l => l.msg === 'tagline is listening'), { opsAddress: ops }, 'the start names the ops address')

  const metrics = await request(`${ops}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.body, /^# TYPE tagline_http_requests_total counter$/m, 'Prometheus text')
  const hidden = await request(`${base}/metrics`)
  t.equal(hidden.status, 404, 'not on the public port')
  t.equal(hidden.json.error, 'not_found')
  for (const url of [`${ops}/healthz`, `${ops}/readyz`, `${base}/healthz`, `${base}/readyz`]) {
    t.equal((await request(url)).status, 200, url)
  }

  p.signal('SIGTERM')
  const exit = await p.exited
  t.same(exit, { code: 0, signal: null }, 'a clean stop')
  await t.rejects(request(`${ops}/healthz`, { timeoutMs: 1000 }), { code: 'ECONNREFUSED' }, 'the ops port is closed')
  await t.rejects(request(`${base}/healthz`, { timeoutMs: 1000 }), { code: 'ECONNREFUSED' }, 'and the public one')
})

t.test('an ops port in use fails the start with exit 1, naming the setting', async t => {
  const busy = await occupiedPort(t)
  const failed = await runTagline(t, ['start', '--config', config(tempDir(t), busy)], { env: { PORT: '0' } })
  t.equal(failed.code, 1)
  t.match(failed.stderr, new RegExp(`server\\.opsPort.*127\\.0\\.0\\.1:${busy}: the port is in use`))
})
