// `tagline queues` and `tagline replay` through main() in this process (the e2e file runs the
// real process against Redis and a running gateway): argument mistakes are exit 2 with a
// sentence, a config or Redis that cannot be used is exit 1.
import t from 'tap'
import { join } from 'node:path'
import { main } from '../../server/main.js'

const run = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => {
  let out = ''
  let err = ''
  const code = await main(args, s => { out += s + '\n' }, s => { err += s + '\n' })
  return { code, out, err }
}

t.test('argument mistakes: exit 2, a sentence on stderr, nothing on stdout', async t => {
  const dir = t.testdir({
    'tagline.yaml': [
      'store:',
      '  redis: "redis://127.0.0.1:6379"',
      '  prefix: "tagline-test:never-written:"',
      'tags:',
      '  - { name: hook, type: log }',
      '  - { name: off, type: log, enabled: false }'
    ].join('\n') + '\n'
  })
  const file = join(dir, 'tagline.yaml')
  const cases: Array<[string[], RegExp]> = [
    [['replay', '--config', file], /^tagline replay: give the tag .*--tag NAME\.\n\nUsage:/],
    [['replay', '--config', file, '--tag', 'nope'], /no tag "nope" delivers in .*tagline\.yaml; its tags: hook\./],
    [['replay', '--config', file, '--tag', 'off'], /no tag "off" delivers .*\(it is disabled\)/],
    [['replay', '--config', file, '--tag', 'hook', '--since', 'yesterday'], /--since takes a duration like 30m, 2h or 2d, not "yesterday"/],
    [['replay', '--config', file, '--tag', 'hook', '--limit=0'], /--limit takes a whole number, 1 or more, not "0"/],
    [['replay', '--config', file, '--tag', 'hook', '--limit=2.5'], /--limit takes a whole number/],
    [['replay', '--config', file, '--tag', 'hook', 'extra'], /Unexpected argument 'extra'[\s\S]*Usage:/],
    [['queues', '--config', file, '--bogus'], /Unknown option '--bogus'[\s\S]*Usage:/],
    [['queues', '--config', file, '--url', 'localhost:8080'], /--url takes the gateway's address/]
  ]
  for (const [args, stderr] of cases) {
    const r = await run(...args)
    t.equal(r.code, 2, `${args.filter(a => a !== file).join(' ')}: exit 2`)
    t.match(r.err, stderr)
    t.equal(r.out, '', 'nothing on stdout')
  }
})

t.test('a config or a Redis that cannot be used: exit 1', async t => {
  const dir = t.testdir({
    'bad.yaml': 'tags:\n  - { name: hook, type: nope }\n',
    'down.yaml': 'store:\n  redis: "redis://:s3cret@127.0.0.1:1"\ntags:\n  - { name: hook, type: log }\n'
  })
  const invalid = await run('queues', '--config', join(dir, 'bad.yaml'))
  t.equal(invalid.code, 1)
  t.match(invalid.err, /bad\.yaml:2:\d+ tags\[0\]\.type: /, 'the problems as validate prints them')
  const missing = await run('replay', '--tag', 'hook', '--config', join(dir, 'none.yaml'))
  t.equal(missing.code, 1)
  t.match(missing.err, /none\.yaml.*no such file/)
  const down = await run('queues', '--config', join(dir, 'down.yaml'))
  t.equal(down.code, 1)
  t.match(down.err, /^tagline queues: cannot reach Redis at 127\.0\.0\.1:1 \(store\.redis\): /)
  t.notOk(down.err.includes('s3cret'), 'never the password')
})

t.test('TAGLINE_CONFIG names the config of queues, replay and forget when --config is absent (the image sets it)', async t => {
  const dir = t.testdir({ 'bad.yaml': 'tags:\n  - { name: hook, type: nope }\n' })
  process.env.TAGLINE_CONFIG = join(dir, 'bad.yaml')
  t.teardown(() => { delete process.env.TAGLINE_CONFIG })
  for (const args of [['queues'], ['replay', '--tag', 'hook'], ['forget', '--user-id', 'u-1']]) {
    const r = await run(...args)
    t.equal(r.code, 1, `${args[0]}: exit 1`)
    t.match(r.err, /bad\.yaml:2:\d+ tags\[0\]\.type: /, `${args[0]} read the file TAGLINE_CONFIG names`)
  }
})

t.test('help lists both commands', async t => {
  const r = await run('help')
  t.equal(r.code, 0)
  t.match(r.out, /tagline queues \[--config FILE\] \[--json\]/)
  t.match(r.out, /tagline replay --tag NAME \[--since 2h\] \[--limit N\] \[--dry-run\]/)
})

t.test('queues on a Redis whose user may not run INFO: the table, and a note that its settings were not checked', async t => {
  const { startRedisServer } = await import('../fixtures/redis-server.js')
  const { Redis } = await import('ioredis')
  const server = await startRedisServer(t)
  const admin = new Redis(server.port, '127.0.0.1')
  t.teardown(() => { admin.disconnect() })
  await admin.config('SET', 'maxmemory', '1gb')
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  await admin.acl('SETUSER', 'ops', 'on', '>ops-pass-123', '~*', '&*', '+@all', '-info', '-config')
  const dir = t.testdir({
    'evicting.yaml': `store:\n  redis: "redis://127.0.0.1:${server.port}"\ntags:\n  - { name: hook, type: log }\n`,
    'noinfo.yaml': `store:\n  redis: "redis://ops:ops-pass-123@127.0.0.1:${server.port}"\ntags:\n  - { name: hook, type: log }\n`
  })
  const evicting = await run('queues', '--config', join(dir, 'evicting.yaml'))
  t.equal(evicting.code, 0)
  t.match(evicting.out, /^tag\s+waiting/m)
  t.match(evicting.err, /^error: Redis evicts any key .*allkeys-lru/m, 'an evicting Redis is an error line on stderr')
  const json = JSON.parse((await run('queues', '--config', join(dir, 'evicting.yaml'), '--json')).out)
  t.match(json.risks, [{ risk: 'eviction', level: 'error' }])
  const refused = await run('queues', '--config', join(dir, 'noinfo.yaml'))
  t.equal(refused.code, 0)
  t.match(refused.out, /^hook\s+0/m)
  t.match(refused.err, /not checked \(INFO is not allowed/)
  t.same(JSON.parse((await run('queues', '--config', join(dir, 'noinfo.yaml'), '--json')).out).risksChecked, false)
})
