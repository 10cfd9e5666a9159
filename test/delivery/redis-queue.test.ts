// What the Redis queue does that the memory queue cannot show: several processes on one queue. A
// "process" here is a RedisStreamQueue on its own connection, same prefix and tag, its own
// consumer name; it dies by dropping the queue object and closing its connection without settling.
import net from 'node:net'
import t from 'tap'
import type { Redis } from 'ioredis'
import { queued } from '../../server/delivery/queue.js'
import { RedisStreamQueue } from '../../server/delivery/redis-queue.js'
import type { QueuedEvent } from '../../server/delivery/types.js'
import { ev } from './fixtures/helpers.js'
import { redisClient, redisFixture } from './fixtures/redis.js'
import { until } from '../fixtures/wait.js'

const CLAIM_IDLE_MS = 100

let n = 0
function item (enqueuedMs: number): QueuedEvent {
  return { id: `r${++n}`, tag: 'a', event: ev(), attempts: 0, enqueuedMs }
}

/** Another process on the same queue: its own connection and consumer name. */
async function processOn (prefix: string, consumer: string, client?: Redis): Promise<{ q: RedisStreamQueue, die: () => Promise<void>, claims: number[] }> {
  const own = client ?? redisClient()
  if (own.status === 'wait') await own.connect()
  const claims: number[] = []
  const q = new RedisStreamQueue({ client: own, prefix, tag: 'a', consumer, claimIdleMs: CLAIM_IDLE_MS, onClaim: n => claims.push(n) })
  return { q, die: async () => { await own.quit() }, claims }
}

/** Until Redis holds every pending entry of `stream` idle for at least claimIdleMs. */
async function stale (client: Redis, prefix: string, stream: 'q' | 'retrying', count: number): Promise<void> {
  const key = `${prefix}{a}:${stream}`
  await until(async () => (await client.xpending(key, 'delivery', 'IDLE', CLAIM_IDLE_MS, '-', '+', 100)).length === count,
    5000, `${count} entries of ${stream} idle for ${CLAIM_IDLE_MS} ms`)
}

t.test('a second consumer takes over what a dead one took and never settled, after claimIdleMs', async t => {
  const { client, prefix } = await redisFixture(t)
  const one = await processOn(prefix, 'one')
  const two = await processOn(prefix, 'two', client)
  const items = [item(1), item(2), item(3)]
  await one.q.push(items)
  const taken = await one.q.take(2)
  await one.die()

  t.same((await two.q.take(10)).map(i => i.id), [items[2].id], 'before claimIdleMs only the waiting event is there to take')
  await stale(client, prefix, 'q', 3)
  const claimed = await two.q.take(10)
  t.same(claimed, taken, 'then the dead consumer\'s events, the same records, oldest first')
  t.same(await two.q.take(10), [], 'taken over once')
  t.equal(two.q.counts().inFlight, 3)

  await stale(client, prefix, 'q', 3)
  t.same(await two.q.take(10), [], 'a live consumer never takes back what it holds, however long it holds it')
  await two.q.settle(items.map(i => i.id))
  t.equal(queued(two.q.counts()), 0, 'settled by the consumer that took them over')
})

t.test('a scheduled retry outlives the queue object and is taken by another consumer', async t => {
  const { client, prefix } = await redisFixture(t)
  const one = await processOn(prefix, 'one')
  const [a, b] = [item(1), item(2)]
  await one.q.push([a, b])
  await one.q.take(2)
  const retry = { id: 'B1', items: [{ ...a, attempts: 1, lastReason: 'HTTP 503' }, { ...b, attempts: 1 }] }
  await one.q.schedule(retry, 1000)
  await one.die()

  const two = await processOn(prefix, 'two', client)
  const counts = await two.q.refresh()
  t.same([counts.waiting, counts.inFlight, counts.scheduled, counts.nextDueMs], [0, 0, 2, 1000], 'a new process reads it back')
  t.equal(await two.q.takeDue(999), undefined, 'not before it is due')
  t.same(await two.q.takeDue(1000), retry, 'then the same batch: its id and its new records')
})

t.test('a retry batch taken by a process that died is taken again, whole, by another', async t => {
  const { client, prefix } = await redisFixture(t)
  const one = await processOn(prefix, 'one')
  const [a, b, c] = [item(1), item(2), item(3)]
  await one.q.schedule({ id: 'B1', items: [a, b, c] }, 0)
  const first = await one.q.takeDue(0)
  t.equal(first?.id, 'B1')
  t.equal(one.q.counts().inFlight, 3, 'in flight while the process holds it')
  await one.die()

  const two = await processOn(prefix, 'two', client)
  t.equal(await two.q.takeDue(0), undefined, 'before claimIdleMs nobody takes it')
  await stale(client, prefix, 'retrying', 1)
  const again = await two.q.takeDue(0)
  t.same(again, first, 'after it, the same batch (same id, same records) for another try')
  t.same([two.q.counts().inFlight, two.q.counts().scheduled], [3, 0])
  t.same(two.claims, [3], 'counted as a claim of a dead consumer\'s events')

  await two.q.settle([a.id])
  t.equal(two.q.counts().inFlight, 2, 'a batch partly settled counts what is left')
  await two.q.schedule({ id: 'B1', items: [{ ...b, attempts: 1 }, { ...c, attempts: 1 }] }, 50)
  t.same([two.q.counts().inFlight, two.q.counts().scheduled], [0, 2], 'the rest is scheduled again, and the taken batch is gone')
  t.equal((await two.q.takeDue(50))?.items[0].attempts, 1)
  t.same(two.claims, [3], 'a due batch of its own is not a claim')
})

t.test('a settle and a schedule running at once release a taken batch once', async t => {
  const { client, prefix } = await redisFixture(t)
  const { q } = await processOn(prefix, 'one', client)
  const [a, b, c] = [item(1), item(2), item(3)]
  await q.schedule({ id: 'B1', items: [a, b, c] }, 0)
  await q.takeDue(0)
  await Promise.all([q.settle([a.id]), q.schedule({ id: 'B1', items: [{ ...b, attempts: 1 }, { ...c, attempts: 1 }] }, 10)])
  t.same([q.counts().inFlight, q.counts().scheduled], [0, 2])
  t.equal(await client.xlen(`${prefix}{a}:retrying`), 0, 'the taken batch was acknowledged and deleted')
})

t.test('a settle that releases nothing asks Redis nothing: a retry-only plan cannot fail before its schedule', async t => {
  const { prefix } = await redisFixture(t)
  const { q, die } = await processOn(prefix, 'one')
  const [a, b] = [item(1), item(2)]
  await q.push([a, b])
  await q.take(2)
  await die() // Redis is gone for this object from here on
  await q.settle([]) // resolves: no command was sent
  t.equal(q.counts().inFlight, 2, 'what it holds is still counted in flight')
  await t.rejects(q.schedule({ id: 'B1', items: [{ ...a, attempts: 1 }, { ...b, attempts: 1 }] }, 10), 'a schedule needs Redis')
})

t.test('counts are this replica\'s last reading of a shared queue', async t => {
  const { client, prefix } = await redisFixture(t)
  const one = await processOn(prefix, 'one', client)
  const two = await processOn(prefix, 'two', client)
  await one.q.push([item(7), item(8)])
  t.equal(two.q.counts().waiting, 0, 'another replica\'s push is not seen before this one reads')
  t.same(await two.q.refresh(), { waiting: 2, inFlight: 0, scheduled: 0, oldestWaitingMs: 7, nextDueMs: undefined })
  await two.q.take(1)
  t.equal(one.q.counts().waiting, 2, 'nor its take')
})

t.test('a take gets other replicas\' events whole and its own from what it pushed, oldest first', async t => {
  const { client, prefix } = await redisFixture(t)
  const one = await processOn(prefix, 'one', client)
  const two = await processOn(prefix, 'two')
  t.teardown(two.die)
  const a = [item(1), item(2)]
  const b = [item(3)]
  await one.q.push(a)
  await two.q.push(b)
  const taken = await two.q.take(10)
  t.same(taken, [...a, ...b], 'the same records, in the order they were stored')
  t.equal(taken[2], b[0], 'its own push is not read back from Redis')
  await two.q.settle(taken.map(i => i.id))
  t.equal(await client.xlen(`${prefix}{a}:q`), 0)
})

t.test('the pushes of one event-loop turn go in one script, each stored or shed on its own', async t => {
  const { client, prefix } = await redisFixture(t)
  const own = redisClient()
  await own.connect()
  t.teardown(() => own.quit())
  const sent: string[] = []
  const send = own.sendCommand.bind(own)
  own.sendCommand = ((cmd: { name: string }) => { sent.push(cmd.name); return send(cmd as never) }) as typeof own.sendCommand
  const q = new RedisStreamQueue({ client: own, prefix, tag: 'a', consumer: 'one', claimIdleMs: CLAIM_IDLE_MS })
  await q.push([item(1)]) // the groups are made at the first push
  sent.length = 0
  const marks = (key: string): { keys: string[], ttlMs: number } => ({ keys: [key], ttlMs: 60_000 })
  const results = await Promise.all([
    q.push([item(2)], { marks: marks('purchase\u0000o-1'), max: 3 }),
    q.push([item(3)], { marks: marks('purchase\u0000o-1'), max: 3 }),
    q.push([item(4), item(5)], { max: 3 }),
    q.push([item(6)], { marks: marks('purchase\u0000o-2'), max: 3 })
  ])
  t.same(sent.filter(name => /^eval/.test(name)), ['evalsha'], 'one script for the four pushes')
  t.same(results, [
    { shed: false, repeats: [] },
    { shed: false, repeats: [0] },
    { shed: true, repeats: [] },
    { shed: false, repeats: [] }
  ], 'a repeat of an earlier push of the same turn; a push past max shed whole, the next one that fits stored')
  t.same((await q.take(10)).map(i => i.enqueuedMs), [1, 2, 6])
  t.equal(await client.exists(`${prefix}{a}:seen:purchase\u0000o-2`), 1, 'the stored push\'s mark is set')
})

t.test('a wait that begins after close opens no connection and returns at once', async t => {
  const { client, prefix } = await redisFixture(t)
  const { q } = await processOn(prefix, 'one', client)
  await q.refresh()
  await q.close()
  let timer: NodeJS.Timeout | undefined
  const waited = await Promise.race([q.wait(30_000).then(() => 'returned'), new Promise(resolve => { timer = setTimeout(() => resolve('blocked'), 5000) })])
  clearTimeout(timer)
  t.equal(waited, 'returned', 'not the 30 s of a blocking read on a new connection (which nothing would close)')
})

t.test('push stores all of its events or none', async t => {
  const { client, prefix } = await redisFixture(t)
  const { q } = await processOn(prefix, 'one', client)
  const unwritable = { ...item(2), event: { ...ev(), value: 1n } } as unknown as QueuedEvent
  await t.rejects(q.push([item(1), unwritable]), 'a record that cannot be written fails the push')
  t.equal(queued(await q.refresh()), 0, 'and nothing was stored')

  // A push of one request is one script, which Redis runs whole. A larger push (a spool replay)
  // is several scripts in one MULTI: a connection lost after Redis queued every one of them,
  // before EXEC, must store nothing.
  const proxy = await cutBeforeExec()
  t.teardown(() => proxy.close())
  const cut = redisClient(`redis://127.0.0.1:${proxy.port}`, { retryStrategy: () => null })
  t.teardown(() => cut.disconnect())
  await cut.connect()
  const viaCut = new RedisStreamQueue({ client: cut, prefix, tag: 'a', consumer: 'cut', claimIdleMs: CLAIM_IDLE_MS })
  const large = Array.from({ length: 2001 }, (_, i) => item(3 + i))
  await t.rejects(viaCut.push(large), 'the push fails')
  t.ok(await proxy.closedAfterQueued(3), 'Redis had queued the three scripts (1000 + 1000 + 1 events) when the connection closed')
  t.equal(queued(await q.refresh()), 0, 'and stored none of them')
  t.equal(await client.xlen(`${prefix}{a}:q`), 0)
})

/**
 * A TCP proxy to the test Redis that forwards everything until the client sends EXEC; then it
 * passes on what came before EXEC, closes the connection to Redis once Redis has answered, and
 * drops the client. (EXEC is looked for across chunk boundaries: a large MULTI spans several.)
 */
async function cutBeforeExec (): Promise<{ port: number, close: () => Promise<void>, closedAfterQueued: (n: number) => Promise<boolean> }> {
  const EXEC = Buffer.from('*1\r\n$4\r\nexec\r\n') // ioredis sends command names in lower case
  const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
  let answers = ''
  let upstreamClosed: Promise<void> | undefined
  const server = net.createServer(socket => {
    const upstream = net.connect(Number(redisUrl.port || 6379), redisUrl.hostname)
    upstream.on('error', () => {})
    socket.on('error', () => {})
    let cut = false
    let tail = Buffer.alloc(0) // the end of what was forwarded, where an EXEC may have begun
    // Every answer is kept: Redis answers MULTI and each queued script as it reads them, so with
    // a large transaction some come back before the proxy has even seen the EXEC.
    upstream.on('data', chunk => {
      answers += chunk.toString('latin1')
      if (!cut) socket.write(chunk)
    })
    socket.on('data', chunk => {
      if (cut) return
      const seen = Buffer.concat([tail, chunk])
      const at = seen.indexOf(EXEC)
      if (at === -1) {
        upstream.write(chunk)
        tail = seen.subarray(Math.max(0, seen.length - EXEC.length))
        return
      }
      cut = true
      upstreamClosed = new Promise(resolve => upstream.on('close', () => resolve()))
      upstream.end(seen.subarray(tail.length, Math.max(tail.length, at)))
      socket.destroy()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => await new Promise<void>(resolve => server.close(() => resolve())),
    closedAfterQueued: async (count: number) => {
      await upstreamClosed
      const multi = answers.indexOf('+OK\r\n')
      return multi >= 0 && answers.slice(multi).split('+QUEUED\r\n').length - 1 >= count
    }
  }
}
