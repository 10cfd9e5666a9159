// The dead-letter store contract, run against every implementation, plus what only one store
// does: the memory store's eviction warning, the Redis store's sharing between replicas. What only
// the file store does (restarts, torn lines, compaction) is in file-dead-letters.test.ts.
import t from 'tap'
import { join } from 'node:path'
import { FileDeadLetters } from '../../server/delivery/file-dead-letters.js'
import { MemoryDeadLetters } from '../../server/delivery/memory-dead-letters.js'
import { RedisDeadLetters } from '../../server/delivery/redis-dead-letters.js'
import { deadLetterContract } from './fixtures/dead-letter-contract.js'
import { captureLogger, ev, silent } from './fixtures/helpers.js'
import { redisFixture } from './fixtures/redis.js'

t.test('memory dead letters', async t => { deadLetterContract(t, max => new MemoryDeadLetters(max, silent())) })

t.test('redis dead letters', async t => {
  const { client, prefix } = await redisFixture(t)
  let n = 0
  // A prefix of its own for every case: an empty store.
  const make = (max: number): RedisDeadLetters => new RedisDeadLetters({ client, prefix: `${prefix}${++n}:`, max })
  deadLetterContract(t, make)
})

t.test('file dead letters', async t => {
  // A directory of its own for every case (tap removes it), the store closed first.
  deadLetterContract(t, async (max, t) => {
    const s = await FileDeadLetters.open({ file: join(t.testdir(), 'dead-letters.jsonl'), max })
    t.teardown(async () => { await s.close() })
    return s
  })
})

t.test('redis dead letters are shared: every replica lists and counts every tag', async t => {
  const { client, prefix } = await redisFixture(t)
  const log = captureLogger('warn')
  const store = (): RedisDeadLetters => new RedisDeadLetters({ client, prefix, max: 2, logger: log.logger })
  const [one, two] = [store(), store()]
  await one.add({ tag: 'a', event: ev(), outcome: 'dropped', reason: 'a1', attempts: 1, atMs: 1 })
  await two.add({ tag: 'b', event: ev(), outcome: 'dead_lettered', reason: 'b1', attempts: 2, atMs: 2 })
  await two.add({ tag: 'a', event: ev(), outcome: 'dropped', reason: 'a2', attempts: 1, atMs: 3 })
  t.same((await one.list()).map(l => l.reason), ['a1', 'b1', 'a2'], 'a tag only the other replica wrote is listed')
  await one.add({ tag: 'a', event: ev(), outcome: 'dropped', reason: 'a3', attempts: 1, atMs: 4 })
  t.same((await two.list('a')).map(l => l.reason), ['a2', 'a3'], 'one cap for the tag, whoever adds')
  t.equal(await two.evicted('a'), 1, 'and one eviction count')
  t.equal(log.lines.length, 1, 'the first eviction is logged')
  const fresh = store()
  t.same((await fresh.list()).map(l => l.reason), ['b1', 'a2', 'a3'], 'a new process finds them all (a restart keeps them)')
})

t.test('memory dead letters log the first eviction, then every 100th', async t => {
  const log = captureLogger('warn')
  const s = new MemoryDeadLetters(2, log.logger)
  for (let i = 0; i < 4; i++) await s.add({ tag: 'a', event: ev(), outcome: 'dead_lettered', reason: `r${i}`, attempts: 1, atMs: i })
  t.equal(log.lines.length, 1, 'logged on the first eviction, not on every one')
  for (let i = 0; i < 98; i++) await s.add({ tag: 'a', event: ev(), outcome: 'dropped', reason: 'x', attempts: 1, atMs: 10 + i })
  t.equal(log.lines.length, 2, 'and again at the 100th')
})
