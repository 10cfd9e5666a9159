import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Delivery, type SpooledEvent } from '../../server/delivery/index.js'
import { captureLogger, count, ev, fakeClock, metrics, received, silent, tag } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { freePort, startSink } from '../fixtures/sink.js'

const readLines = (file: string): SpooledEvent[] => readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l))

t.test('close spools what an unreachable sink left; the next start replays it', async t => {
  const spoolFile = join(t.testdir(), 'nested', 'dir', 'tagline.spool.jsonl')
  const port = await freePort()
  const retryLater = { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, batch: { maxEvents: 2, maxWaitMs: 0 } }
  const log = captureLogger('debug')
  // Started at the real time: the spool is replayed below by a Delivery on the real clock.
  const startMs = Date.now()
  const time = fakeClock(startMs)
  const first = new Delivery({ tags: [tag('a', { url: `http://127.0.0.1:${port}/` }, retryLater)], metrics: metrics(), logger: log.logger, spoolFile, clock: time.clock })
  const events = [ev(), ev(), ev()]
  first.enqueue(events.map(event => ({ tag: 'a', event })))
  await until(() => log.lines.filter(l => l.includes('retry scheduled')).length === 2, 5000, 'both batches failed once')
  const dueIn = log.lines.map(l => JSON.parse(l)).filter(l => l.msg === 'retry scheduled').map(l => l.inMs as number)
  t.ok(dueIn.length === 2 && dueIn.every(ms => ms > 5000), `both retries fall due after the 5 s deadline (in ${dueIn.join(' and ')} ms)`)
  // The clock never moves: close can only resolve by seeing that nothing can happen before its deadline.
  const closed = await first.close(5000)
  t.equal(time.now(), startMs, 'close resolved without waiting for its deadline')
  t.same(closed, { delivered: 0, spooled: 3 })
  t.equal(first.depth('a'), 0)
  const lines = readLines(spoolFile)
  t.equal(lines.length, 3)
  t.same(lines.map(l => l.event.event_id).sort(), events.map(e => e.event_id).sort(), 'every event, once')
  for (const l of lines) {
    t.match(l, { tag: 'a', attempts: 1, firstAttemptMs: Number, enqueuedMs: Number, batchId: String, lastReason: 'ECONNREFUSED' })
  }

  // Next start: same tag name, now a working sink; plus a stale entry for a removed tag.
  writeFileSync(spoolFile, readFileSync(spoolFile, 'utf8') + JSON.stringify({ tag: 'removed', event: ev(), attempts: 0, enqueuedMs: 1 }) + '\n{"torn li')
  const sink = await startSink(t)
  const m = metrics()
  const second = new Delivery({ tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 2, maxWaitMs: 0 } })], metrics: m, logger: silent(), spoolFile })
  t.equal(await second.replaySpool(), 3)
  t.notOk(existsSync(spoolFile), 'the spool is deleted once loaded')
  await until(() => second.depth('a') === 0, 2000, 'replayed events delivered')
  t.same(received(sink).flatMap(r => r.events.map(e => e.event_id)).sort(), events.map(e => e.event_id).sort())
  t.same(received(sink).map(r => r.attempt), [2, 2], 'attempt counts survive the restart')
  t.same(new Set(received(sink).map(r => r.batchId)), new Set(lines.map(l => l.batchId)), 'and so do the batch ids')
  t.equal(await count(m, 'a', 'sent'), 3)
  t.equal(await second.replaySpool(), 0, 'nothing left to replay')
  t.same(await second.close(1000), { delivered: 0, spooled: 0 })
  t.notOk(existsSync(spoolFile), 'an empty shutdown writes no spool')
})

t.test('close gives in-flight requests until the deadline, then aborts them and spools them with what waits', async t => {
  const spoolFile = join(t.testdir(), 'spool.jsonl')
  let answerFirst = (): void => {}
  const sink = await startSink(t, r => r.n === 0 ? new Promise(resolve => { answerFirst = () => resolve(200) }) : 'hang')
  const time = fakeClock()
  const d = new Delivery({
    tags: [tag('a', { url: sink.url }, { timeoutMs: 30_000, batch: { maxEvents: 1, maxWaitMs: 0 } })],
    metrics: metrics(), logger: silent(), spoolFile, concurrency: 1, clock: time.clock
  })
  d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }, { tag: 'a', event: ev() }])
  await sink.arrived(1)
  let result: { delivered: number, spooled: number } | undefined
  const closing = d.close(100).then(r => { result = r })
  await time.tick(99)
  t.equal(result, undefined, 'at 99 ms close still waits')
  answerFirst()
  await sink.arrived(2)
  t.pass('an answer before the deadline frees the slot and close sends the next event: nothing was aborted yet')
  t.equal(result, undefined, 'close waits for that one too')
  await time.tick(1)
  await closing
  t.same(result, { delivered: 1, spooled: 2 }, 'at 100 ms close ends: the answered event delivered, the rest spooled')
  const lines = readLines(spoolFile)
  t.same(lines.map(l => l.attempts).sort(), [0, 1], 'the aborted one and the one still waiting')
  t.match(lines.find(l => l.attempts === 1), { batchId: received(sink)[1].batchId, lastReason: 'ABORTED_AT_SHUTDOWN' }, 'the in-flight request was aborted by the deadline, not by its 30 s timeout')
  t.same(sink.delivered().map(e => e.event_id), [received(sink)[0].events[0].event_id])
})

t.test('retries that fall due before the deadline still run during close', async t => {
  const sink = await startSink(t, r => r.n === 0 ? { status: 500 } : { status: 200 })
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { retry: { initialDelayMs: 30, maxDelayMs: 30 } })], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }])
  await sink.arrived(1)
  t.same(await d.close(2000), { delivered: 1, spooled: 0 })
  t.equal(received(sink).length, 2)
})

t.test('replayed events past maxAge are dead-lettered without another send', async t => {
  const spoolFile = join(t.testdir(), 'spool.jsonl')
  const now = Date.now()
  const old: SpooledEvent = { tag: 'a', event: ev(), attempts: 3, firstAttemptMs: now - 120_000, enqueuedMs: now - 120_000, batchId: 'B1', lastReason: 'HTTP 500' }
  const fresh: SpooledEvent = { tag: 'a', event: ev(), attempts: 0, enqueuedMs: now - 1000 }
  writeFileSync(spoolFile, [old, fresh].map(e => JSON.stringify(e)).join('\n') + '\n')
  const sink = await startSink(t)
  const d = new Delivery({ tags: [tag('a', { url: sink.url }, { retry: { maxAgeMs: 60_000 } })], metrics: metrics(), logger: silent(), spoolFile })
  t.equal(await d.replaySpool(), 2)
  await until(() => d.depth('a') === 0, 2000, 'both handled')
  t.same((await d.deadLetters.list('a')).map(l => [l.event.event_id, l.reason, l.attempts]), [[old.event.event_id, 'gave up after 3 attempts: HTTP 500', 3]])
  t.same(received(sink).flatMap(r => r.events.map(e => e.event_id)), [fresh.event.event_id])
  await d.close(1000)
})

t.test('a spooled copy prepared for one type of tag is never sent by another type of tag that took its name', async t => {
  const spoolFile = join(t.testdir(), 'spool.jsonl')
  const port = await freePort()
  const log = captureLogger('debug')
  const first = new Delivery({ tags: [tag('x', { url: `http://127.0.0.1:${port}/` }, { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })], metrics: metrics(), logger: log.logger, spoolFile })
  await first.enqueue([{ tag: 'x', event: ev('purchase') }])
  await until(() => log.lines.some(l => l.includes('retry scheduled')), 5000, 'the first attempt failed')
  t.same(await first.close(100), { delivered: 0, spooled: 1 })
  t.match(readLines(spoolFile), [{ tag: 'x', type: 'test' }], 'the record says the type it was prepared for')

  // The next start has a tag of another type under the same name.
  const sink = await startSink(t)
  const m = metrics()
  const other = { ...tag('x', { url: sink.url }), type: 'other-type' }
  const second = new Delivery({ tags: [other], metrics: m, logger: silent(), spoolFile })
  t.equal(await second.replaySpool(), 1)
  await until(async () => await count(m, 'x', 'dead_lettered') === 1, 3000, 'dead-lettered')
  t.equal(sink.requests.length, 0, 'nothing sent')
  const letters = await second.deadLetters.list('x')
  t.match(letters, [{ reason: "queued for a tag of type test; 'x' is now of type other-type, so it is not sent", type: 'test' }], 'the letter keeps the type')
  // A replay of the letter into the tag of the other type: dead-lettered again, never sent.
  t.match(await second.replay({ tag: 'x' }), { replayed: 1 })
  await until(async () => await count(m, 'x', 'dead_lettered') === 2, 3000, 'dead-lettered again')
  t.equal(sink.requests.length, 0, 'still nothing sent')
  await second.close(100)
})
