// The embedded drain and spool at scale (issue 8, "durable delivery"): 200,000 events held by one
// tag whose destination never answers are all spooled at close() (no stack overflow, no failed
// shutdown), one JSONL line each, and a new Delivery's replaySpool() loads all of them back.
// About 17 s on a 2-core machine (23 s under coverage): enqueue ~1 s, close() ~4 s (drain, and a
// 68 MB spool written and fsynced), reading it back ~2 s, replaySpool() ~3.5 s, the second close
// ~4 s. The bound only turns a hang into a failure.
import t from 'tap'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { Delivery, type SpooledEvent } from '../../server/delivery/index.js'
import { captureLogger, count, ev, metrics, tag } from './fixtures/helpers.js'
import { startSink } from '../fixtures/sink.js'

t.setTimeout(120_000)

const TOTAL = 200_000
const CHUNK = 1000

/** The spool, a line at a time (a 200,000-line file is read as a stream, not held as one string). */
async function spoolLines (file: string): Promise<{ lines: number, ids: Set<string>, tags: Set<string>, withBatch: number, bad: number }> {
  const ids = new Set<string>()
  const tags = new Set<string>()
  let lines = 0
  let withBatch = 0
  let bad = 0
  for await (const text of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (text === '') continue
    lines++
    try {
      const line = JSON.parse(text) as SpooledEvent
      ids.add(String(line.event.event_id))
      tags.add(line.tag)
      if (line.batchId !== undefined) withBatch++
    } catch { bad++ }
  }
  return { lines, ids, tags, withBatch, bad }
}

t.test(`close() spools ${TOTAL.toLocaleString('en')} events a hanging destination holds; a new Delivery replays all of them`, async t => {
  const spoolFile = join(t.testdir(), 'spool.jsonl')
  // Never answers: what is taken is in flight until the tag's timeout (short, so some batches are
  // also scheduled for a retry by then) or until close() aborts it.
  const sink = await startSink(t, 'hang')
  const hanging = tag('a', { url: sink.url }, { timeoutMs: 100, batch: { maxEvents: 100, maxWaitMs: 0 }, retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAgeMs: 3_600_000 } })
  const log = captureLogger('info')
  const m = metrics()
  const first = new Delivery({ tags: [hanging], metrics: m, logger: log.logger, spoolFile, maxQueue: TOTAL })
  let closedFirst = false
  t.teardown(async () => { if (!closedFirst) await first.close(0) })

  const started = Date.now()
  const sent = new Set<string>()
  for (let i = 0; i < TOTAL; i += CHUNK) {
    const items = Array.from({ length: Math.min(CHUNK, TOTAL - i) }, () => {
      const event = ev('purchase', { currency: 'USD', value: 12.5, transaction_id: `T-${i}`, page_location: 'https://shop.example/thanks' })
      sent.add(String(event.event_id))
      return { tag: 'a', event }
    })
    const outcomes = await first.enqueue(items)
    if (outcomes.some(o => o !== 'queued')) { t.fail(`chunk at ${i}: ${outcomes.filter(o => o !== 'queued').length} not queued`); return }
  }
  t.equal(sent.size, TOTAL, `${TOTAL} distinct events enqueued`)
  t.equal(first.depth('a'), TOTAL, `depth ${TOTAL} before close (nothing delivered, nothing dead-lettered)`)
  const enqueuedMs = Date.now() - started

  let result: { delivered: number, spooled: number } | undefined
  let failure: unknown
  const closeStarted = Date.now()
  try { result = await first.close(300) } catch (err) { failure = err }
  closedFirst = true
  const closeMs = Date.now() - closeStarted
  t.equal(failure, undefined, `close() resolves: no stack overflow, no failed shutdown${failure instanceof Error ? ` (${failure.stack ?? failure.message})` : ''}`)
  t.same(result, { delivered: 0, spooled: TOTAL }, `close() spooled all ${TOTAL}`)
  t.equal(first.depth('a'), 0, 'the queue is empty after the drain')
  const logged = log.lines.map(l => JSON.parse(l))
  t.same(logged.filter(l => l.level >= 50).map(l => l.msg), [], 'nothing logged as an error (no "lost … undelivered events")')
  t.match(logged.find(l => l.msg === 'undelivered events spooled for the next start'), { events: TOTAL, byTag: { a: TOTAL } }, 'the spool is logged with its count')
  t.equal(await count(m, 'a', 'dead_lettered') + await count(m, 'a', 'dropped'), 0, 'nothing given up')

  const readStarted = Date.now()
  const spool = await spoolLines(spoolFile)
  t.equal(spool.lines, TOTAL, `the spool file has ${TOTAL} lines (${(statSync(spoolFile).size / 1e6).toFixed(1)} MB)`)
  t.equal(spool.bad, 0, 'each a JSON line')
  t.equal(spool.ids.size, TOTAL, 'each event once')
  t.ok([...spool.ids].every(id => sent.has(id)), 'and only the events enqueued')
  t.same([...spool.tags], ['a'], 'all for tag a')
  t.ok(spool.withBatch > 0, `the batches that were in flight or scheduled keep their batch id (${spool.withBatch} events)`)
  const verifyMs = Date.now() - readStarted

  // The next start: the same tag, still hanging (a long timeout: nothing settles while we look).
  const second = new Delivery({ tags: [tag('a', { url: sink.url }, { timeoutMs: 30_000, batch: { maxEvents: 100, maxWaitMs: 0 }, retry: { maxAgeMs: 3_600_000 } })], metrics: metrics(), logger: captureLogger('info').logger, spoolFile, maxQueue: TOTAL })
  let closedSecond = false
  t.teardown(async () => { if (!closedSecond) await second.close(0) })
  const replayStarted = Date.now()
  t.equal(await second.replaySpool(), TOTAL, `replaySpool() loads all ${TOTAL}`)
  const replayMs = Date.now() - replayStarted
  t.equal(second.depth('a'), TOTAL, `depth ${TOTAL} after the replay`)
  t.notOk(existsSync(spoolFile), 'the spool is deleted once loaded')

  // And back to the spool at its close: the round trip lost nothing.
  const again = await second.close(0)
  closedSecond = true
  t.same(again, { delivered: 0, spooled: TOTAL }, `the second close spools all ${TOTAL} again`)
  t.equal((await spoolLines(spoolFile)).ids.size, TOTAL, 'the same events')
  t.comment(`enqueue ${enqueuedMs} ms, close ${closeMs} ms, read back ${verifyMs} ms, replaySpool ${replayMs} ms; ${sink.requests.length} requests reached the hanging sink`)
})
