import t, { type Test } from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import { captureLogger, count, ev, fakeClock, metrics, received, silent, tag, watchedQueues } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { freePort, startSink, type Sink } from '../fixtures/sink.js'
import type { QueueFactory } from '../../server/delivery/factory.js'
import type { DeadLetterStore } from '../../server/delivery/dead-letters.js'
import type { DeadLetter } from '../../server/delivery/types.js'
import type { TaglineEvent } from '../../schemas/event.js'
import { giveUp } from '../../server/delivery/letter.js'
import { MAX_RESPONSE_CHARS } from '../../server/delivery/dead-letters.js'

/** `store`, refusing every letter ("disk full") while `refuse()` says so; `refusals()` counts them. */
function refusing (store: DeadLetterStore, refuse = (): boolean => true): { store: DeadLetterStore, refusals: () => number } {
  let n = 0
  const wrapped = Object.assign(Object.create(store) as DeadLetterStore, {
    add: async (l: DeadLetter) => { if (refuse()) { n++; throw new Error('disk full') } await store.add(l) }
  })
  return { store: wrapped, refusals: () => n }
}

/**
 * A tag whose destination drops every event (400) and whose dead-letter store refuses letters
 * until `accept()`, on a fake clock; one purchase sent.
 */
async function refusedLetterRun (t: Test): Promise<{ sink: Sink, time: ReturnType<typeof fakeClock>, q: ReturnType<typeof watchedQueues>, log: ReturnType<typeof captureLogger>, m: ReturnType<typeof metrics>, d: Delivery, event: TaglineEvent, deadLetters: DeadLetterStore, refusals: () => number, accept: () => void }> {
  const sink = await startSink(t, () => ({ status: 400, body: '{"error":"bad field currency"}' }))
  const time = fakeClock()
  const q = watchedQueues()
  const log = captureLogger('info')
  let refuse = true
  const deadLetters = q.queues.deadLetters
  const { store, refusals } = refusing(deadLetters, () => refuse)
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: m, logger: log.logger, clock: time.clock, queues: { ...q.queues, deadLetters: store } })
  const event = ev('purchase')
  d.enqueue([{ tag: 'a', event }])
  await sink.arrived(1)
  return { sink, time, q, log, m, d, event, deadLetters, refusals, accept: () => { refuse = false } }
}

t.test('500 then 200: retried with the same batch id, attempt 1 then 2', async t => {
  const sink = await startSink(t, r => r.n === 0 ? { status: 500, body: 'busy' } : { status: 200 })
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }])
  await until(() => received(sink).length === 2 && d.depth('a') === 0, 2000, 'the retry')
  const [first, second] = received(sink)
  t.equal(first.batchId, second.batchId, 'the batch id is the idempotency key: stable across retries')
  t.equal(first.headers['x-batch-id'], second.headers['x-batch-id'])
  t.same([first.attempt, second.attempt], [1, 2])
  t.equal(await count(m, 'a', 'retried'), 2)
  t.equal(await count(m, 'a', 'sent'), 2)
  t.same(await d.deadLetters.list(), [])
  const latency = await m.deliveryLatency.get()
  t.equal(latency.values.find(v => v.metricName === 'tagline_delivery_latency_seconds_count')?.value, 2, 'latency observed per delivered event')
  const duration = await m.tagRequestDuration.get()
  t.equal(duration.values.find(v => v.metricName === 'tagline_tag_request_duration_seconds_count')?.value, 2, 'duration observed per request')
  await d.close(1000)
})

t.test('a dead letter the store refuses keeps its event queued, and is stored later without sending the event again', async t => {
  const { sink, time, q, log, m, d, event, deadLetters, accept } = await refusedLetterRun(t)
  await until(() => q.counts('a').scheduled === 1, 5000, 'the event kept as a retry')
  t.match(q.counts('a'), { scheduled: 1, inFlight: 0, waiting: 0, nextDueMs: 30_000 }, 'kept in the queue, tried again in 30 s')
  t.equal(await count(m, 'a', 'dropped'), 0, 'not counted as dropped while its letter is not stored')
  t.match(log.lines.map(l => JSON.parse(l)).filter(l => l.level >= 50), [{ msg: 'dead letters could not be stored: their events stay queued', events: 1, event_ids: [event.event_id], retryInMs: 30_000, err: { message: 'disk full' } }], 'logged once, with the error')
  await time.tick(29_999)
  t.equal(q.counts('a').scheduled, 1, 'still waiting at 29.999 s')
  accept()
  await time.tick(1)
  await until(async () => (await deadLetters.list('a')).length === 1, 5000, 'the letter stored')
  const [dl] = await deadLetters.list('a')
  t.match(dl, { outcome: 'dropped', status: 400, response: '{"error":"bad field currency"}', attempts: 1 })
  t.equal(dl.event.event_id, event.event_id)
  t.match(dl.reason, /bad field currency/)
  await until(() => d.depth('a') === 0, 5000, 'the event settled')
  t.equal(received(sink).length, 1, 'the destination was asked once: storing the letter sends nothing')
  t.equal(await count(m, 'a', 'dropped'), 1, 'counted once, when stored')
  await d.close(1000)
})

t.test('a letter the store keeps refusing is tried again after 30 s, then 60, 120, … up to 10 minutes', async t => {
  const { sink, time, q, log, m, d, deadLetters, refusals, accept } = await refusedLetterRun(t)
  const waits = [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]
  let at = 0
  for (const [i, wait] of waits.entries()) {
    await until(() => refusals() === i + 1 && q.counts('a').scheduled === 1, 5000, `refusal ${i + 1} kept`)
    t.equal(q.counts('a').nextDueMs, at + wait, `after refusal ${i + 1}: tried again ${wait / 1000} s later`)
    at += wait
    await time.tick(wait)
  }
  accept()
  await time.tick(600_000)
  await until(async () => (await deadLetters.list('a')).length === 1, 5000, 'the letter stored at last')
  t.equal(received(sink).length, 1, 'the destination was asked once in all')
  t.same(log.lines.map(l => JSON.parse(l)).filter(l => l.level >= 50).map(l => l.retryInMs), [...waits, 600_000], 'each refusal logged with its wait')
  t.equal(await count(m, 'a', 'dropped'), 1, 'counted once, when stored')
  await d.close(1000)
})

t.test('a refused letter waits in the queue scrubbed and capped as the store would keep it', async t => {
  const log = captureLogger('info')
  const m = metrics()
  const full = refusing(watchedQueues().queues.deadLetters).store
  const event = ev('purchase', { user_data: { email_address: 'jane@example.com' } })
  const item = { id: 'i1', tag: 'a', event, attempts: 2, enqueuedMs: 0 }
  const body = `{"error":"bad email jane@example.com"}${'x'.repeat(70_000)}`
  const refused = await giveUp({ metrics: m, logger: log.logger, deadLetters: full }, 'a', { item, outcome: 'dropped', reason: 'HTTP 400: bad email jane@example.com', status: 400, response: body, why: 'max_attempts' }, 5)
  t.match(refused?.err, /disk full/, 'refused, with the store\'s error')
  const kept = refused?.letter
  t.ok(kept, 'and the fields to keep queued')
  t.equal(kept?.response?.length, MAX_RESPONSE_CHARS, 'the response capped as a stored letter is')
  t.notMatch(JSON.stringify(kept), 'jane@example.com', 'no user data in what waits in the queue')
  t.match(kept, { outcome: 'dropped', status: 400, why: 'max_attempts', reason: /^HTTP 400: bad email / })
  t.equal(await count(m, 'a', 'dropped'), 0, 'not counted until stored')
  const stored = await giveUp({ metrics: m, logger: log.logger, deadLetters: watchedQueues().queues.deadLetters }, 'a', { item, ...(kept as NonNullable<typeof kept>) }, 6)
  t.equal(stored, undefined, 'stored: nothing to keep')
  t.equal(await count(m, 'a', 'dropped'), 1)
})

t.test('a letter given up at the edge (never queued) that the store refuses: counted, and its loss logged', async t => {
  const log = captureLogger('info')
  const m = metrics()
  const base = watchedQueues().queues
  const queues: QueueFactory = { ...base, deadLetters: refusing(base.deadLetters).store }
  const d = new Delivery({ tags: [tag('a', { url: 'http://127.0.0.1:9/' })], metrics: m, logger: log.logger, queues })
  const event = ev('purchase')
  await d.deadLetter('a', event, 'prepare failed: bad phone')
  t.equal(await count(m, 'a', 'dead_lettered'), 1)
  t.match(log.lines.map(l => JSON.parse(l)).filter(l => l.level >= 50), [{ msg: 'the dead letter could not be stored and is lost', tag: 'a', event_id: event.event_id, err: { message: 'disk full' } }])
  await d.close(1000)
})

t.test('Retry-After is a floor for the next attempt', async t => {
  const sink = await startSink(t, r => r.n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 })
  const time = fakeClock()
  const q = watchedQueues()
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { retry: { initialDelayMs: 5, maxDelayMs: 10 } })], metrics: m, logger: silent(), clock: time.clock, queues: q.queues })
  d.enqueue([{ tag: 'a', event: ev() }])
  await sink.arrived(1)
  await until(async () => await count(m, 'a', 'retried') === 1, 5000, 'the 429 to schedule a retry')
  t.match(q.counts('a'), { scheduled: 1, nextDueMs: 1000 }, 'the retry is due 1 s after the 429, not after the 5-10 ms backoff')
  await time.tick(999)
  t.match(q.counts('a'), { scheduled: 1, inFlight: 0 }, 'at 999 ms the retry is still waiting')
  t.equal(sink.requests.length, 1, 'and no second attempt was made')
  await time.tick(1)
  await sink.arrived(2)
  const [first, second] = received(sink)
  t.equal(second.batchId, first.batchId, 'at 1000 ms the same batch goes out again')
  t.equal(second.attempt, 2)
  await until(() => d.depth('a') === 0, 5000, 'the second attempt acknowledged')
  t.equal(await count(m, 'a', 'sent'), 1)
  await d.close(1000)
})

t.test('400 drops at once: dead letter with the status and the vendor message', async t => {
  const sink = await startSink(t, () => ({ status: 400, body: '{"error":"bad field currency"}' }))
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: m, logger: silent() })
  const event = ev('purchase')
  d.enqueue([{ tag: 'a', event }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 2000, 'the dead letter')
  const [dl] = await d.deadLetters.list('a')
  t.equal(dl.status, 400)
  t.equal(dl.response, '{"error":"bad field currency"}')
  t.match(dl.reason, /bad field currency/)
  t.equal(dl.attempts, 1)
  t.equal(dl.event.event_id, event.event_id)
  t.equal(received(sink).length, 1, 'no retry')
  t.equal(await count(m, 'a', 'dropped'), 1)
  t.equal(d.depth('a'), 0)
  t.same(await d.deadLetters.list(), await d.deadLetters.list('a'))
  t.same(await d.deadLetters.list('other'), [])
  await d.close(1000)
})

t.test('maxAttempts exhausted: dead-lettered with the last reason', async t => {
  const sink = await startSink(t, () => ({ status: 503, body: 'down for maintenance' }))
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { retry: { maxAttempts: 3 } })], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 3000, 'the dead letter')
  const [dl] = await d.deadLetters.list('a')
  t.equal(dl.reason, 'gave up after 3 attempts: HTTP 503')
  t.equal(dl.attempts, 3)
  t.equal(dl.status, 503)
  t.equal(dl.response, 'down for maintenance')
  t.same(received(sink).map(r => r.attempt), [1, 2, 3])
  t.equal(await count(m, 'a', 'retried'), 2)
  t.equal(await count(m, 'a', 'dead_lettered'), 1)
  t.equal(d.depth('a'), 0)
  await d.close(1000)
})

t.test('maxAge ends retries even with attempts left', async t => {
  const sink = await startSink(t, () => ({ status: 500 }))
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { retry: { maxAttempts: 100, maxAgeMs: 60, initialDelayMs: 20, maxDelayMs: 20 } })], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 3000, 'the dead letter')
  t.ok(received(sink).length < 10, `${received(sink).length} attempts`)
  t.match((await d.deadLetters.list('a'))[0].reason, /^gave up after \d+ attempts: HTTP 500$/)
  await d.close(1000)
})

t.test('connection refused: retried, then dead-lettered with the error code', async t => {
  const port = await freePort()
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: `http://127.0.0.1:${port}/` }, { retry: { maxAttempts: 2 } })], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 3000, 'the dead letter')
  t.equal((await d.deadLetters.list('a'))[0].reason, 'gave up after 2 attempts: ECONNREFUSED')
  t.equal((await d.deadLetters.list('a'))[0].status, undefined)
  t.equal(await count(m, 'a', 'retried'), 1)
  await d.close(1000)
})

t.test('a sink that never answers times out and is retried', async t => {
  const sink = await startSink(t, r => r.n === 0 ? 'hang' : { status: 200 })
  const m = metrics()
  const log = captureLogger('debug')
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { timeoutMs: 100 })], metrics: m, logger: log.logger })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(() => received(sink).length === 2 && d.depth('a') === 0, 5000, 'the retry')
  t.equal(sink.requests[0].status, 0, 'the sink never answered the first attempt')
  const lines = log.lines.map(l => JSON.parse(l))
  t.match(lines.find(l => l.msg === 'request failed'), { code: 'TIMEOUT', message: 'no complete answer within 100 ms' }, 'it was cut by the tag\'s own timeoutMs, nothing shorter')
  t.match(lines.find(l => l.msg === 'retry scheduled'), { reason: 'TIMEOUT', batchId: received(sink)[0].batchId }, 'and retried for that reason')
  t.same(received(sink).map(r => [r.batchId, r.attempt]), [[received(sink)[0].batchId, 1], [received(sink)[0].batchId, 2]], 'the same batch, attempt 1 then 2')
  t.equal(await count(m, 'a', 'retried'), 1)
  t.equal(await count(m, 'a', 'sent'), 1)
  await d.close(1000)
})

t.test('timeouts until the budget is spent end as TIMEOUT dead letters', async t => {
  const sink = await startSink(t, () => 'hang')
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { timeoutMs: 50, retry: { maxAttempts: 2 } })], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 3000, 'the dead letter')
  t.equal((await d.deadLetters.list('a'))[0].reason, 'gave up after 2 attempts: TIMEOUT')
  await d.close(1000)
})

t.test('a redirect is not followed', async t => {
  const target = await startSink(t)
  const sink = await startSink(t, () => ({ status: 307, headers: { location: target.url } }))
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 2000, 'the dead letter')
  t.equal((await d.deadLetters.list('a'))[0].status, 307)
  t.equal(received(target).length, 0)
  await d.close(1000)
})

t.test('a request the tag built broken (bad URL) is dropped, not retried', async t => {
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: 'not a url' })], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 1, 2000, 'the dead letter')
  t.match((await d.deadLetters.list('a'))[0].reason, /^ERR_INVALID_URL: /)
  t.equal(await count(m, 'a', 'dropped'), 1)
  t.equal(await count(m, 'a', 'retried'), 0)
  await d.close(1000)
})
