import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import { count, ev, fakeClock, metrics, received, silent, tag, watchedQueues } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'

t.test('a batch goes out as soon as it has maxEvents events', async t => {
  const sink = await startSink(t)
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 3, maxWaitMs: 60_000 } })], metrics: m, logger: silent() })
  d.enqueue(Array.from({ length: 7 }, () => ({ tag: 'a', event: ev() })))
  await sink.arrived(2)
  t.same(received(sink).map(r => r.events.length), [3, 3])
  await until(() => d.depth('a') === 1, 2000, 'both batches acknowledged')
  t.pass('the seventh event waits for more company')
  t.not(received(sink)[0].batchId, received(sink)[1].batchId, 'every batch has its own id')
  const closed = await d.close(1000)
  t.same(closed, { delivered: 1, spooled: 0 }, 'close flushes the partial batch')
  t.same(received(sink).map(r => r.events.length), [3, 3, 1])
  t.equal(await count(m, 'a', 'sent'), 7)
  t.equal(d.depth('a'), 0)
})

t.test('a partial batch goes out when its oldest event waited maxWaitMs', async t => {
  const sink = await startSink(t)
  const time = fakeClock()
  const q = watchedQueues()
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 100, maxWaitMs: 80 } })], metrics: metrics(), logger: silent(), clock: time.clock, queues: q.queues })
  d.enqueue([{ tag: 'a', event: ev() }])
  await time.tick(20)
  d.enqueue([{ tag: 'a', event: ev() }])
  await time.tick(59)
  t.match(q.counts('a'), { waiting: 2, inFlight: 0, oldestWaitingMs: 0 }, 'at 79 ms both events still wait: none was taken for sending')
  t.equal(sink.requests.length, 0, 'and nothing reached the sink')
  await time.tick(1)
  await sink.arrived(1)
  t.match(q.counts('a'), { waiting: 0 }, 'at 80 ms the oldest event has waited maxWaitMs: the batch went out')
  t.equal(received(sink)[0].events.length, 2, 'both events in one batch')
  t.equal(received(sink)[0].attempt, 1)
  await d.close(1000)
})

t.test('maxWaitMs 0 sends on the next tick; one synchronous burst shares a batch', async t => {
  const sink = await startSink(t)
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 10, maxWaitMs: 0 } })], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  d.enqueue([{ tag: 'a', event: ev() }])
  await sink.arrived(1)
  t.equal(received(sink)[0].events.length, 2)
  await d.close(1000)
})

t.test('concurrency bounds batches in flight per tag', async t => {
  const sink = await startSink(t, () => 'hang')
  const q = watchedQueues()
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 1, maxWaitMs: 0 } })], metrics: metrics(), logger: silent(), concurrency: 2, queues: q.queues })
  d.enqueue(Array.from({ length: 5 }, () => ({ tag: 'a', event: ev() })))
  await sink.arrived(2)
  // The worker takes every batch it may start in one pass, long before a request reaches the sink.
  t.match(q.counts('a'), { inFlight: 2, waiting: 3 }, 'two batches in flight, three left waiting while they hang')
  t.equal(received(sink).length, 2, 'no third request while two hang')
  t.equal(d.depth('a'), 5, 'in flight still counts')
  t.same(await d.close(50), { delivered: 0, spooled: 0 })
})

t.test('each tag has its own concurrency', async t => {
  const sink = await startSink(t, () => 'hang')
  const q = watchedQueues()
  const one = { batch: { maxEvents: 1, maxWaitMs: 0 } }
  const d = new Delivery({ tags: [tag('a', { url: `${sink.origin}/a` }, { ...one, concurrency: 1 }), tag('b', { url: `${sink.origin}/b` }, { ...one, concurrency: 3 })], metrics: metrics(), logger: silent(), queues: q.queues })
  await d.enqueue(Array.from({ length: 10 }, (_, i) => ({ tag: i % 2 === 0 ? 'a' : 'b', event: ev() })))
  await sink.arrived(4)
  t.match(q.counts('a'), { inFlight: 1, waiting: 4 }, 'a: one batch at a time')
  t.match(q.counts('b'), { inFlight: 3, waiting: 2 }, 'b: three')
  t.same(sink.requests.map(r => r.path).sort(), ['/a', '/b', '/b', '/b'])
  t.same(await d.close(50), { delivered: 0, spooled: 0 })
})
