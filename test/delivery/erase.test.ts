// Erasing one person's events from the queues (server/delivery/erase.ts): the embedded queue and
// the Redis streams on the real Redis, with events waiting, scheduled for a retry and in flight;
// and dead letters whose journal must lose them on disk too.
import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { memoryQueues, redisQueues, type QueueFactory } from '../../server/delivery/factory.js'
import { FileDeadLetters } from '../../server/delivery/file-dead-letters.js'
import { removeLetters } from '../../server/delivery/dead-letters.js'
import { queued } from '../../server/delivery/queue.js'
import type { QueuedEvent } from '../../server/delivery/types.js'
import type { TaglineEvent } from '../../schemas/event.js'
import { ev, silent } from './fixtures/helpers.js'
import { redisFixture } from './fixtures/redis.js'

let n = 0
const item = (user: string): QueuedEvent => ({ id: `q${++n}`, tag: 'a', event: ev('purchase', { user_id: user }), attempts: 0, enqueuedMs: n })
const jane = (e: TaglineEvent): boolean => e.user_id === 'jane'
const ids = (items: QueuedEvent[] | undefined): string[] => (items ?? []).map(i => i.id)

const kits: Array<[string, (t: Test) => Promise<QueueFactory>]> = [
  ['embedded', async () => memoryQueues({ logger: silent() })],
  ['redis', async t => {
    const { client, prefix } = await redisFixture(t)
    return redisQueues({ client, prefix, consumer: 'erase', claimIdleMs: 60_000, localBuffer: 0 })
  }]
]

for (const [name, make] of kits) {
  t.test(`${name}: waiting and scheduled events go, in-flight ones stay, the rest keeps its order and due times`, async t => {
    const factory = await make(t)
    const q = factory.queue('a')
    // In flight: two taken events, and a retry batch taken by takeDue.
    const [f1, f2] = [item('jane'), item('bob')]
    await q.push([f1, f2])
    t.same(ids(await q.take(2)), [f1.id, f2.id])
    const c1 = item('jane')
    await q.schedule({ id: 'C', items: [c1] }, 100)
    t.same(ids((await q.takeDue(100))?.items), [c1.id])
    // Scheduled: a mixed batch and one of Jane's alone.
    const [s1, s2, s3] = [item('jane'), item('bob'), item('jane')]
    await q.schedule({ id: 'A', items: [s1, s2] }, 5000)
    await q.schedule({ id: 'B', items: [s3] }, 6000)
    // Waiting.
    const [w1, w2, w3, w4] = [item('jane'), item('bob'), item('jane'), item('bob')]
    await q.push([w1, w2, w3, w4])

    const [row, ...others] = await factory.eraser.erase(jane)
    t.same(others, [], 'one tag')
    t.equal(row.tag, 'a')
    t.equal(row.removed, 4, 'two waiting, two scheduled')
    t.equal(row.inFlight, 2, 'Jane\'s events in flight are counted: a taken one and one in a taken retry batch')

    t.same(ids(await q.take(10)), [w2.id, w4.id], 'the others wait in their order')
    t.equal(await q.takeDue(4999), undefined, 'the mixed batch keeps its due time')
    const a = await q.takeDue(5000)
    t.equal(a?.id, 'A', 'and its id (the destination\'s idempotency key)')
    t.same(ids(a?.items), [s2.id], 'without Jane')
    t.equal(await q.takeDue(10_000), undefined, 'the batch of Jane\'s only is gone')
    const after = q.shared !== undefined ? await q.shared.refresh() : q.counts()
    t.equal(after.scheduled, 0)
    t.equal(after.waiting, 0)
    // What was in flight is untouched: its worker settles it as usual.
    await q.settle([f1.id, f2.id, w2.id, w4.id, s2.id, c1.id])
    t.equal(queued(q.shared !== undefined ? await q.shared.refresh() : q.counts()), 0, 'everything accounted for')
    t.same(await factory.eraser.erase(jane), [], 'nothing left of Jane')
    await q.shared?.close()
  })
}

t.test('dead letters: removed in every tag, and gone from the journal on disk', async t => {
  const dir = t.testdir()
  const file = join(dir, 'dead.jsonl')
  const store = await FileDeadLetters.open({ file, max: 100 })
  t.teardown(() => store.close())
  const letter = (tag: string, email: string): Parameters<FileDeadLetters['add']>[0] => ({
    tag, event: ev('purchase', { params: { note: email } }), outcome: 'dropped', reason: 'HTTP 400', attempts: 1, atMs: 1
  })
  await store.add(letter('a', 'jane@example.com'))
  await store.add(letter('a', 'bob@example.com'))
  await store.add(letter('b', 'jane@example.com'))
  t.match(await readFile(file, 'utf8'), /jane@example\.com/)
  const removed = await removeLetters(store, l => JSON.stringify(l.event).includes('jane@'))
  t.same(removed, [{ tag: 'a', removed: 1 }, { tag: 'b', removed: 1 }])
  t.equal(await store.count('a'), 1)
  const journal = await readFile(file, 'utf8')
  t.notMatch(journal, /jane@example\.com/, 'compacted: not only marked removed')
  t.match(journal, /bob@example\.com/)
  const reopened = await FileDeadLetters.open({ file, max: 100 })
  t.equal((await reopened.list()).length, 1, 'and it stays so across a restart')
  await reopened.close()
})
