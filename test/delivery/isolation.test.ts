import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import { isTaglineError } from '../../common/errors.js'
import { captureLogger, count, ev, metrics, received, silent, tag } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'

t.test('a full tag sheds its events; the other tags still take theirs; all shed is queue_full', async t => {
  const sink = await startSink(t)
  const tags = [
    tag('a', { url: sink.url }, { batch: { maxEvents: 100, maxWaitMs: 60_000 } }),
    tag('b', { url: sink.url }, { batch: { maxEvents: 100, maxWaitMs: 60_000 } })
  ]
  const m = metrics()
  const log = captureLogger('warn')
  const d = new Delivery({ tags, metrics: m, logger: log.logger, maxQueue: 3 })
  t.same(await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }]), ['queued', 'queued'])
  t.same(await d.enqueue([{ tag: 'b', event: ev() }, { tag: 'a', event: ev() }, { tag: 'a', event: ev() }]), ['queued', 'shed', 'shed'],
    'the tag that would pass maxQueue sheds the push whole; the tag with room takes its event')
  t.same([d.depth('a'), d.depth('b')], [2, 1])
  t.equal(await count(m, 'a', 'shed'), 2, 'counted per tag as shed')
  t.match(log.lines.map(l => JSON.parse(l)), [{ tag: 'a', events: 2, maxQueue: 3, msg: /queue full: the tag sheds/ }], 'and logged, naming the tag')
  const err = await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }]).then(() => undefined, (e: unknown) => e)
  t.ok(isTaglineError(err), 'nothing of the request was kept anywhere: refused, so the sender retries')
  t.match(err, { code: 'queue_full', statusCode: 503 })
  t.equal(log.lines.length, 1, 'a second shed within the second is counted, not logged again')
  t.same(await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'b', event: ev() }]), ['queued', 'queued'])
  t.same(await d.enqueue([]), [], 'nothing to store is not a full queue')
  t.same([d.depth('a'), d.depth('b')], [3, 2], 'exactly up to maxQueue is fine')
  await new Promise(resolve => setImmediate(resolve))
  const depth = await m.queueDepth.get()
  t.same(depth.values.map(v => [v.labels.tag, v.value]).sort(), [['a', 3], ['b', 2]])
  await d.close(1000)
  t.equal(received(sink).length, 2, 'close flushed both tags, a batch each')
})

t.test('events sent without an API key leave a queue\'s last tenth to backend events', async t => {
  const sink = await startSink(t)
  const m = metrics()
  const log = captureLogger('warn')
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 100, maxWaitMs: 60_000 } })], metrics: m, logger: log.logger, maxQueue: 20 })
  t.teardown(async () => { await d.close(0) })
  const anonymous = async (n: number): Promise<unknown> => await d.enqueue(Array.from({ length: n }, () => ({ tag: 'a', event: ev() })), { anonymous: true }).catch((err: { code: string }) => err.code)
  t.same(await anonymous(17), Array(17).fill('queued'))
  t.equal(await anonymous(2), 'queue_full', 'a push that would pass 18 of 20 is shed whole')
  t.same(await anonymous(1), ['queued'], '18 of 20')
  t.equal(await anonymous(1), 'queue_full')
  t.same(await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }]), ['queued', 'queued'], 'a backend request takes the last two')
  t.equal(await d.enqueue([{ tag: 'a', event: ev() }]).catch((err: { code: string }) => err.code), 'queue_full', 'and past maxQueue it sheds too')
  t.equal(d.depth('a'), 20)
  t.equal(await count(m, 'a', 'shed'), 4)
  t.same(log.lines.map(l => JSON.parse(l)).map(l => [l.events, l.anonymousMax, /without an API key/.test(l.msg), /whoever sent them/.test(l.msg)]),
    [[2, 18, true, false], [1, undefined, false, true]], 'a line per kind within the same second: the browser events, then the backend\'s')
})

t.test('unknown tags and enqueue after close are refused with 503', async t => {
  const sink = await startSink(t)
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: metrics(), logger: silent() })
  await t.rejects(d.enqueue([{ tag: 'nope', event: ev() }]), { code: 'not_ready', statusCode: 503 })
  const closing = d.close(1000)
  await t.rejects(d.enqueue([{ tag: 'a', event: ev() }]), { code: 'not_ready', statusCode: 503 })
  t.same(await closing, { delivered: 0, spooled: 0 })
  t.same(await d.close(1000), { delivered: 0, spooled: 0 }, 'close is idempotent')
})

t.test('a hanging sink does not slow another tag', async t => {
  const hanging = await startSink(t, () => 'hang')
  const fast = await startSink(t)
  const tags = [
    // A timeout far beyond the test's own: the slow tag's requests stay open for as long as it runs.
    tag('slow', { url: hanging.url }, { timeoutMs: 600_000, batch: { maxEvents: 1, maxWaitMs: 0 } }),
    tag('fast', { url: fast.url }, { batch: { maxEvents: 1, maxWaitMs: 0 } })
  ]
  const log = captureLogger('info')
  const m = metrics()
  const d = new Delivery({ tags, metrics: m, logger: log.logger, concurrency: 2 })
  // Fill the slow tag's concurrency first, then keep feeding both.
  await d.enqueue(Array.from({ length: 6 }, () => ({ tag: 'slow', event: ev() })))
  await hanging.arrived(2)
  for (let i = 0; i < 10; i++) await d.enqueue([{ tag: 'slow', event: ev() }, { tag: 'fast', event: ev() }])
  await until(() => received(fast).length === 10 && d.depth('fast') === 0, 10_000, 'the fast tag')
  t.equal(await count(m, 'fast', 'sent'), 10, 'the fast tag delivered all ten events')
  t.same(hanging.requests.map(r => r.status), [0, 0], 'while the slow tag\'s first two requests still hang, unanswered')
  t.equal(await count(m, 'slow', 'retried'), 0, 'none of them timed out or was retried')
  t.equal(d.depth('slow'), 16)
  const closed = await d.close(50)
  t.same(closed, { delivered: 0, spooled: 0 })
  const lost = log.lines.map(l => JSON.parse(l)).find(l => l.level === 50)
  t.match(lost, { events: 16, byTag: { slow: 16 }, msg: /lost 16 undelivered events/ }, 'no spool file: logged as lost with a count')
  t.equal(d.depth('slow'), 0)
})

t.test('reload keeps queues of tags that stay, retires removed ones after they drain', async t => {
  const sink = await startSink(t)
  const slow = { batch: { maxEvents: 100, maxWaitMs: 60_000 } }
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, slow), tag('gone', { url: sink.url }, slow)], metrics: metrics(), logger: silent() })
  await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'gone', event: ev() }])
  d.reload([tag('a', { url: sink.url }, { batch: { maxEvents: 1, maxWaitMs: 0 } }), tag('new', { url: sink.url })])
  await until(() => d.depth('a') === 0, 2000, 'a sent under its new batch settings')
  await t.rejects(d.enqueue([{ tag: 'gone', event: ev() }]), { code: 'not_ready' })
  t.equal(d.depth('gone'), 1, 'the removed tag still holds what it accepted')
  await d.enqueue([{ tag: 'new', event: ev() }])
  await until(() => d.depth('new') === 0, 2000, 'the new tag works')
  const closed = await d.close(1000)
  t.equal(closed.delivered, 1, 'the retired tag drains at close')
  t.equal(received(sink).length, 3)
})
