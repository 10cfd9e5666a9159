// The TagQueue contract, run against every implementation.
import t from 'tap'
import { MemoryQueue } from '../../server/delivery/memory-queue.js'
import { redisQueues } from '../../server/delivery/factory.js'
import { queueContract } from './fixtures/queue-contract.js'
import { redisFixture } from './fixtures/redis.js'

t.test('memory queue', async t => { queueContract(t, () => new MemoryQueue()) })

t.test('redis stream queue', async t => {
  const { client, prefix } = await redisFixture(t)
  const queues = redisQueues({ client, prefix, consumer: 'contract', claimIdleMs: 60_000 })
  let n = 0
  // A fresh tag for every case: its own stream, retry set and counts. 20 000 events instead of
  // 200 000: each is a write to Redis (200 000 took 17 s here), and 20 000 still makes the
  // drain read in several chunks (5 000 each). The 200 000 are about the memory queue's arrays.
  queueContract(t, () => queues.queue(`tag${++n}`), { large: 20_000 })
})
