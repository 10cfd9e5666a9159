// server/delivery/admin.ts, the one implementation behind /admin/* and `tagline queues|replay`,
// against the memory queues and dead letters and against the Redis ones (the real Redis).
import t, { type Test } from 'tap'
import { memoryQueues, redisQueues, type QueueFactory } from '../../server/delivery/factory.js'
import type { TagQueue } from '../../server/delivery/queue.js'
import type { DeadLetter, QueuedEvent } from '../../server/delivery/types.js'
import { queueStats, replay } from '../../server/delivery/admin.js'
import { ev, silent } from './fixtures/helpers.js'
import { redisFixture } from './fixtures/redis.js'

interface Kit {
  factory: QueueFactory
  /** One queue object per tag, as Delivery keeps them. */
  queueOf: (tag: string) => TagQueue
}

type MakeKit = (t: Test) => Promise<Kit>

function kit (factory: QueueFactory): Kit {
  const queues = new Map<string, TagQueue>()
  return {
    factory,
    queueOf: tag => {
      let q = queues.get(tag)
      if (q === undefined) queues.set(tag, q = factory.queue(tag))
      return q
    }
  }
}

const record = (tag: string, id: string, enqueuedMs: number, extra: Partial<QueuedEvent> = {}): QueuedEvent => ({ id, tag, event: ev('purchase'), attempts: 0, enqueuedMs, ...extra })

const letter = (tag: string, atMs: number, reason = 'HTTP 400: bad', extra: Partial<DeadLetter> = {}): DeadLetter =>
  ({ tag, event: ev('purchase', { user_data: { sha256_email_address: 'a'.repeat(64) } }), outcome: 'dropped', reason, attempts: 3, status: 400, response: '{"error":"bad"}', atMs, ...extra })

let idSeq = 0
const newId = (): string => `replayed-${++idSeq}`

function cases (t: Test, make: MakeKit): void {
  t.test('queueStats: per tag, waiting, in flight, scheduled, dead and the oldest wait', async t => {
    const { factory, queueOf } = await make(t)
    const a = queueOf('a')
    await a.push([record('a', 'a1', 1000), record('a', 'a2', 2000), record('a', 'a3', 3000)])
    const [first] = await a.take(1)
    const [second] = await a.take(1)
    await a.schedule({ id: 'batch-1', items: [{ ...second, attempts: 1 }] }, 50_000)
    await factory.deadLetters.add(letter('a', 100))
    await factory.deadLetters.add(letter('a', 200))
    await factory.deadLetters.add(letter('c', 300))
    const stats = await queueStats(['a', 'b'], queueOf, factory.deadLetters, 10_000)
    t.same(stats, [
      { tag: 'a', waiting: 1, inFlight: 1, scheduled: 1, dead: 2, oldestWaitingAgeMs: 7000 },
      { tag: 'b', waiting: 0, inFlight: 0, scheduled: 0, dead: 0 }
    ], 'in the order asked; no age when nothing waits; only the tags asked for')
    t.notOk('oldestWaitingAgeMs' in stats[1], 'the age is absent, not undefined')
    t.equal(first.id, 'a1')
  })

  t.test('replay: only the named tag, as fresh events, letters removed after the push', async t => {
    const { factory, queueOf } = await make(t)
    const dead = factory.deadLetters
    const mine = [letter('a', 100, 'HTTP 400: bad'), letter('a', 200, 'HTTP 400: bad'), letter('a', 300, 'retry window spent', { outcome: 'dead_lettered', attempts: 20 })]
    for (const l of mine) await dead.add(l)
    await dead.add(letter('b', 150))
    const result = await replay({ tag: 'a', queue: queueOf('a'), deadLetters: dead, dryRun: false, now: 5000, newId })
    t.same(result, { tag: 'a', matched: 3, replayed: 3, byReason: { 'HTTP 400: bad': 2, 'retry window spent': 1 } })
    t.equal(await dead.count('a'), 0, 'the tag\'s letters are gone')
    t.equal(await dead.count('b'), 1, 'another tag\'s letters stay')
    const b = queueOf('b')
    t.same((await queueStats(['b'], queueOf, dead, 5000))[0], { tag: 'b', waiting: 0, inFlight: 0, scheduled: 0, dead: 1 }, 'and nothing went into its queue')
    const queued = await queueOf('a').take(10)
    t.same(queued.map(q => q.event), mine.map(l => l.event), 'the letters\' events as they were (prepared: hashed user data), oldest first')
    t.ok(queued.every(q => q.attempts === 0 && q.enqueuedMs === 5000 && q.tag === 'a' && q.firstAttemptMs === undefined && q.lastReason === undefined), 'fresh records: no attempts, enqueued now')
    t.equal(new Set(queued.map(q => q.id)).size, 3, 'each with a new id')
    t.ok(queued.every(q => q.id.startsWith('replayed-')), 'from newId')
    t.same(await b.take(10), [], 'b\'s queue is empty')
  })

  t.test('replay: since and limit pick the window; the rest stays dead', async t => {
    const { factory, queueOf } = await make(t)
    const dead = factory.deadLetters
    for (const at of [100, 200, 300, 400, 500]) await dead.add(letter('a', at, `r${at}`))
    const result = await replay({ tag: 'a', queue: queueOf('a'), deadLetters: dead, sinceMs: 200, limit: 2, dryRun: false, now: 1000, newId })
    t.same(result, { tag: 'a', matched: 2, replayed: 2, byReason: { r200: 1, r300: 1 } }, 'the oldest 2 from 200 on')
    t.same((await dead.list('a')).map(l => l.atMs), [100, 400, 500], 'the others are still dead letters')
    t.equal((await queueOf('a').take(10)).length, 2)
    const none = await replay({ tag: 'a', queue: queueOf('a'), deadLetters: dead, sinceMs: 10_000, dryRun: false, now: 1000, newId })
    t.same(none, { tag: 'a', matched: 0, replayed: 0, byReason: {} }, 'an empty window replays nothing')
  })

  t.test('replay: a dry run lists and changes nothing', async t => {
    const { factory, queueOf } = await make(t)
    const dead = factory.deadLetters
    for (const at of [100, 200]) await dead.add(letter('a', at))
    const before = await dead.list('a')
    const result = await replay({ tag: 'a', queue: queueOf('a'), deadLetters: dead, dryRun: true, now: 1000, newId })
    t.same(result, { tag: 'a', matched: 2, replayed: 0, byReason: { 'HTTP 400: bad': 2 } })
    t.same(await dead.list('a'), before, 'the letters, ids included, are as they were')
    t.same((await queueStats(['a'], queueOf, dead, 1000))[0], { tag: 'a', waiting: 0, inFlight: 0, scheduled: 0, dead: 2 }, 'the queue is empty')
  })

  t.test('replay: no dedup check; the event goes in though its key is marked', async t => {
    const { factory, queueOf } = await make(t)
    const q = queueOf('a')
    const original = record('a', 'o1', 100)
    const pushed = await q.push([original], { marks: { keys: ['purchase:T_1'], ttlMs: 60_000 } })
    t.same(pushed.repeats, [])
    await q.settle((await q.take(1)).map(i => i.id))
    t.same((await q.push([record('a', 'o2', 100)], { marks: { keys: ['purchase:T_1'], ttlMs: 60_000 } })).repeats, [0], 'the key is marked')
    await factory.deadLetters.add({ ...letter('a', 100), event: original.event })
    t.same(await replay({ tag: 'a', queue: q, deadLetters: factory.deadLetters, dryRun: false, now: 1000, newId }), { tag: 'a', matched: 1, replayed: 1, byReason: { 'HTTP 400: bad': 1 } })
    t.same((await q.take(10)).map(i => i.event), [original.event], 'replayed, not taken for a repeat')
  })

  t.test('replay: a push that fails removes nothing (at least once)', async t => {
    const { factory } = await make(t)
    await factory.deadLetters.add(letter('a', 100))
    const down = { push: async () => { throw new Error('queue unreachable') } }
    await t.rejects(replay({ tag: 'a', queue: down, deadLetters: factory.deadLetters, dryRun: false, now: 1000, newId }), /queue unreachable/)
    t.equal(await factory.deadLetters.count('a'), 1, 'the letter is still there')
  })
}

t.test('memory queues and dead letters', async t => {
  cases(t, async () => kit(memoryQueues({ logger: silent() })))
})

t.test('redis queues and dead letters', async t => {
  const { client, prefix } = await redisFixture(t)
  let n = 0
  // A prefix of its own for every case: empty queues and dead letters.
  cases(t, async () => kit(redisQueues({ client, prefix: `${prefix}${++n}:`, consumer: 'admin-test', claimIdleMs: 60_000 })))
})

t.test('redis: queueStats reads the shared queue afresh, not this object\'s last reading', async t => {
  const { client, prefix } = await redisFixture(t)
  const gateway = kit(redisQueues({ client, prefix, consumer: 'gateway', claimIdleMs: 60_000 }))
  const cli = kit(redisQueues({ client, prefix, consumer: 'cli', claimIdleMs: 60_000 }))
  const seen = cli.queueOf('a')
  t.same((await queueStats(['a'], cli.queueOf, cli.factory.deadLetters, 5000))[0].waiting, 0, 'empty at first')
  await gateway.queueOf('a').push([record('a', 'x1', 1000), record('a', 'x2', 2000)])
  await gateway.queueOf('a').take(1)
  t.equal(seen.counts().waiting, 0, 'the other object\'s last reading is stale')
  t.same(await queueStats(['a'], cli.queueOf, cli.factory.deadLetters, 5000), [{ tag: 'a', waiting: 1, inFlight: 1, scheduled: 0, dead: 0, oldestWaitingAgeMs: 3000 }], 'queueStats sees the other process\'s push and take')
})
