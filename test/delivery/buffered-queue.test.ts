// Redis mode while Redis is away: a push is kept in this process (bounded), deduplicated against
// this process's marks, and flushed to the stream in order, with its marks, once Redis answers.
// A private redis-server is stopped and started again for real.
import t from 'tap'
import { redisQueues } from '../../server/delivery/factory.js'
import type { QueuedEvent } from '../../server/delivery/types.js'
import { startRedisServer } from '../fixtures/redis-server.js'
import { until } from '../fixtures/wait.js'
import { redisClient } from './fixtures/redis.js'
import { ev } from './fixtures/helpers.js'

let n = 0
const item = (): QueuedEvent => ({ id: `b${++n}`, tag: 'a', event: ev(), attempts: 0, enqueuedMs: n })
const marks = (keys: Array<string | undefined>): { marks: { keys: Array<string | undefined>, ttlMs: number } } => ({ marks: { keys, ttlMs: 60_000 } })

t.test('kept while Redis is down, flushed in order with their marks when it returns; bounded', async t => {
  const redis = await startRedisServer(t)
  const client = redisClient(redis.url)
  await client.connect()
  t.teardown(() => { client.disconnect() })
  const q = redisQueues({ client, prefix: 'buf:', consumer: 'one', claimIdleMs: 60_000, localBuffer: 5 }).queue('a')
  t.teardown(async () => { await q.shared?.close() })
  const [a, b, c, d, e, f] = [item(), item(), item(), item(), item(), item()]
  t.same(await q.push([a], marks(['k-a'])), { shed: false, repeats: [] }, 'stored in Redis while it is up')

  await redis.stop()
  t.same(await q.push([b, c], marks(['k-b', 'k-b'])), { shed: false, repeats: [1] }, 'kept here; repeats found by this process\'s marks')
  t.same(await q.push([d, e], marks(['k-a', undefined])), { shed: false, repeats: [] }, 'a key Redis holds is not known here: kept, checked again at the flush')
  t.equal(q.counts().buffered, 3)
  t.same(q.shared?.unsent?.().map(i => i.id), [b.id, d.id, e.id], 'what the spool would get at shutdown')
  await t.rejects(q.push([f, item(), item()]), 'past the buffer\'s max the push fails (the edge answers 503)')
  t.equal(q.counts().buffered, 3, 'and keeps nothing of it')

  await redis.start()
  await until(() => q.counts().buffered === undefined, 10_000, 'the buffer to flush')
  const taken = await q.take(10)
  t.same(taken.map(i => i.id), [a.id, b.id, e.id], 'in order; the repeat of a key Redis held is dropped at the flush')
  t.same(await q.push([f], marks(['k-b'])), { shed: false, repeats: [0] }, 'the buffered events\' marks reached Redis')
})

t.test('a refusal that is Redis\'s answer is not an outage: never buffered', async t => {
  const client = redisClient()
  await client.connect()
  const prefix = `buf-${process.pid}-${Date.now()}:`
  t.teardown(async () => { await client.del(`${prefix}{a}:q`); client.disconnect() })
  const q = redisQueues({ client, prefix, consumer: 'one', claimIdleMs: 60_000, localBuffer: 5 }).queue('a')
  await client.set(`${prefix}{a}:q`, 'not a stream')
  await t.rejects(q.push([item()]), /WRONGTYPE/)
  t.equal(q.counts().buffered, undefined)
})
