// The TagQueue contract, run against every implementation.
import t from 'tap'
import { MemoryQueue } from '../../server/delivery/memory-queue.js'
import { queueContract } from './fixtures/queue-contract.js'

t.test('memory queue', async t => { queueContract(t, () => new MemoryQueue()) })
