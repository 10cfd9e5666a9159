// The TagQueue contract, run against every implementation.
import t from 'tap'
import { MemoryQueue } from '../../server/delivery/memory-queue.js'
import { redisQueues } from '../../server/delivery/factory.js'
import { queueContract } from './fixtures/queue-contract.js'
import { redisFixture } from './fixtures/redis.js'

t.test('memory queue', async t => { queueContract(t, () => new MemoryQueue()) })

t.test('memory queue: a taken event is not held by the queue any more', async t => {
  const q = new MemoryQueue()
  const items = Array.from({ length: 3000 }, (_, i) => ({ id: `e${i}`, tag: 't', enqueuedMs: i, attempts: 0, event: { event_name: 'x', event_id: `e${i}` } }))
  await q.push(items)
  const taken = await q.take(1000)
  await q.settle(taken.map(i => i.id))
  // Its waiting array (private) still has the taken slots until a compaction: they must be empty.
  const slots = (q as unknown as { items: unknown[], head: number })
  t.equal(slots.head, 1000)
  t.ok(slots.items.slice(0, slots.head).every(x => x === undefined), 'the taken slots hold nothing')
  t.same((await q.take(5)).map(i => i.id), ['e1000', 'e1001', 'e1002', 'e1003', 'e1004'], 'and the queue goes on in order')
})

t.test('redis stream queue', async t => {
  const { client, prefix } = await redisFixture(t)
  const queues = redisQueues({ client, prefix, consumer: 'contract', claimIdleMs: 60_000 })
  let n = 0
  // A fresh tag for every case: its own stream, retry set and counts. 20 000 events instead of
  // 200 000: each is a write to Redis (200 000 took 17 s here), and 20 000 still makes the
  // drain read in several chunks (5 000 each). The 200 000 are about the memory queue's arrays.
  queueContract(t, () => queues.queue(`tag${++n}`), { large: 20_000 })
})
