// Redis mode while Redis is away: a push is kept in this process (bounded), deduplicated against
// this process's marks, and flushed to the stream in order, with its marks, once Redis answers.
// A private redis-server is stopped and started again for real.
import t, { type Test } from 'tap'
import { redisQueues } from '../../server/delivery/factory.js'
import { BufferedQueue } from '../../server/delivery/buffered-queue.js'
import { RedisStore } from '../../server/store/redis.js'
import type { QueuedEvent } from '../../server/delivery/types.js'
import { startRedisServer, type RedisServer } from '../fixtures/redis-server.js'
import { until } from '../fixtures/wait.js'
import { redisClient } from './fixtures/redis.js'
import { ev } from './fixtures/helpers.js'

let n = 0
const item = (): QueuedEvent => ({ id: `b${++n}`, tag: 'a', event: ev(), attempts: 0, enqueuedMs: n })
const marks = (keys: Array<string | undefined>): { marks: { keys: Array<string | undefined>, ttlMs: number } } => ({ marks: { keys, ttlMs: 60_000 } })

/** Tag a's queue, with a local buffer of `localBuffer`, on a private redis-server the test may stop. */
async function bufferedOnPrivateRedis (t: Test, prefix: string, localBuffer: number): Promise<{ redis: RedisServer, q: ReturnType<ReturnType<typeof redisQueues>['queue']> }> {
  const redis = await startRedisServer(t)
  const client = redisClient(redis.url)
  await client.connect()
  t.teardown(() => { client.disconnect() })
  const q = redisQueues({ client, prefix, consumer: 'one', claimIdleMs: 60_000, localBuffer }).queue('a')
  t.teardown(async () => { await q.shared?.close() })
  return { redis, q }
}

t.test('kept while Redis is down, flushed in order with their marks when it returns; bounded', async t => {
  const { redis, q } = await bufferedOnPrivateRedis(t, 'buf:', 5)
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

t.test('while Redis is down, anonymous events leave the buffer\'s last tenth to backend events', async t => {
  const { redis, q } = await bufferedOnPrivateRedis(t, 'buf-reserve:', 10)
  await redis.stop()
  const items = (k: number): QueuedEvent[] => Array.from({ length: k }, item)
  t.same(await q.push(items(9), { anonymous: true }), { shed: false, repeats: [] }, 'nine of ten')
  await t.rejects(q.push(items(1), { anonymous: true }), 'the tenth is not for a browser\'s event')
  t.same(await q.push(items(1)), { shed: false, repeats: [] }, 'a backend event takes it')
  await t.rejects(q.push(items(1)), 'and past the buffer nobody gets in')
  t.equal(q.counts().buffered, 10)
})

t.test('a Redis that stops answering (frozen, connection open) is an outage too: the push is kept here after the command timeout, the next at once, all flushed when it answers', async t => {
  const redis = await startRedisServer(t)
  // The store's own client: its command and socket timeouts are what is under test.
  const store = new RedisStore({ url: redis.url, prefix: 'frozen:' })
  await store.connect()
  t.teardown(async () => { await store.close() })
  const q = redisQueues({ ...store.redis, consumer: 'one', claimIdleMs: 60_000, localBuffer: 100 }).queue('a')
  t.teardown(async () => { await q.shared?.close() })
  const [a, b, c] = [item(), item(), item()]
  t.same(await q.push([a], marks(['f-a'])), { shed: false, repeats: [] }, 'stored in Redis while it answers')

  redis.freeze()
  t.teardown(() => { redis.thaw() })
  let t0 = Date.now()
  t.same(await q.push([b], marks(['f-b'])), { shed: false, repeats: [] }, 'a push to the frozen Redis is kept here')
  const first = Date.now() - t0
  t.ok(first >= 4000 && first < 9000, `after the 5-s command timeout, not the 30-s request timeout (${first} ms)`)
  t0 = Date.now()
  t.same(await q.push([c], marks(['f-c'])), { shed: false, repeats: [] }, 'the next one too')
  t.ok(Date.now() - t0 < 2000, `at once: the silent connection was dropped (${Date.now() - t0} ms)`)
  t.equal(q.counts().buffered, 2)

  redis.thaw()
  await until(() => q.counts().buffered === undefined, 20_000, 'the buffer to flush once Redis answers')
  t.same((await q.take(10)).map(i => i.id), [a.id, b.id, c.id], 'every event once, in order')
})

t.test('a close during a flush waits for the chunk on its way: the spool never gets what Redis stored', async t => {
  let down = true
  let release: (() => void) | undefined
  const stored: string[] = []
  const inner = {
    shared: { refresh: async () => inner.counts(), wait: async () => {}, close: async () => {}, unsent: () => [] },
    counts: () => ({ waiting: stored.length, inFlight: 0, scheduled: 0, oldestWaitingMs: undefined, nextDueMs: undefined }),
    push: async (items: readonly QueuedEvent[]) => {
      if (down) throw new Error('connect ECONNREFUSED')
      await new Promise<void>(resolve => { release = resolve }) // the chunk is on its way
      stored.push(...items.map(i => i.id))
      return { shed: false, repeats: [] }
    },
    take: async () => [],
    takeDue: async () => undefined,
    schedule: async () => {},
    settle: async () => {},
    drain: async () => []
  }
  const q = new BufferedQueue(inner as unknown as ConstructorParameters<typeof BufferedQueue>[0], { max: 10, retryMs: 20 })
  const [a, b] = [item(), item()]
  await q.push([a, b])
  t.equal(q.counts().buffered, 2, 'kept while the store is down')
  down = false
  await until(() => release !== undefined, 2000, 'the flush to start')
  let closed = false
  const closing = q.shared.close().then(() => { closed = true })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.notOk(closed, 'close waits for the chunk on its way')
  release?.()
  await closing
  t.same(stored, [a.id, b.id], 'the chunk reached the store')
  t.same(q.shared.unsent?.(), [], 'and is not given to the spool as well')
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
