// Per-tag pauses: refused credentials hold a tag's events (no attempt spent, nothing dead-lettered)
// until the config is fixed; attempts that keep failing pause the tag and probe it with one
// batch. The other tags never notice.
import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import { Breaker } from '../../server/delivery/breaker.js'
import { verdict } from '../../server/delivery/worker.js'
import type { QueuedEvent } from '../../server/delivery/types.js'
import { captureLogger, count, ev, fakeClock, metrics, received, tag, watchedQueues } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'
import type { Metrics } from '../../server/metrics.js'

async function paused (m: Metrics, tagName: string): Promise<Record<string, number>> {
  const data = await m.tagPaused.get()
  return Object.fromEntries(data.values.filter(v => v.labels.tag === tagName).map(v => [String(v.labels.reason), v.value]))
}

t.test('the breaker: opens after N failures or at once on credentials, probes once, doubles its cooldown, closes on an answer', async t => {
  const b = new Breaker({ failures: 3, cooldownMs: 100, maxCooldownMs: 350 })
  t.equal(b.record('failed', 0), undefined)
  t.equal(b.record('answered', 0), undefined, 'an answer resets the count')
  t.equal(b.record('failed', 0), undefined)
  t.equal(b.record('failed', 0), undefined)
  t.equal(b.record('failed', 10), 'opened', 'the third failure in a row opens it')
  t.match(b, { state: 'open', reason: 'failing', untilMs: 110 })
  t.equal(b.allows(109, 0), false, 'nothing before the cooldown ends')
  t.equal(b.allows(110, 0), true, 'then one probe')
  t.equal(b.limit(4), 1, 'alone')
  t.equal(b.allows(110, 1), false, 'and no second batch beside it')
  t.equal(b.record('failed', 150), undefined, 'a failed probe keeps it open')
  t.match(b, { state: 'open', untilMs: 350 }, 'for twice as long')
  t.equal(b.record('failed', 200), undefined, 'a batch already in flight when it opened, failing too, changes nothing')
  b.allows(350, 0)
  t.equal(b.record('failed', 200), undefined, 'the next failed probe')
  t.match(b, { state: 'open', untilMs: 550 }, 'doubles again, up to the cap')
  b.allows(550, 0)
  b.record('failed', 550)
  t.equal(b.untilMs, 900, 'capped at maxCooldownMs')
  t.equal(b.record('credentials', 900), 'opened', 'refused credentials: another reason')
  t.equal(b.reason, 'credentials')
  b.allows(2000, 0)
  t.equal(b.record('answered', 2000), 'closed')
  t.match(b, { state: 'closed', reason: undefined })
  t.equal(b.record('credentials', 0), 'opened', 'credentials open it at once')
  t.equal(b.record('none', 0), undefined, 'an attempt that reached nothing says nothing')
})

t.test('what an attempt says of the destination: a letter stored again from the queue says nothing', async t => {
  const item = (letter?: QueuedEvent['letter']): QueuedEvent => ({ id: 'x', tag: 'a', event: ev(), attempts: 1, enqueuedMs: 0, ...(letter !== undefined ? { letter } : {}) })
  const dropped = { outcome: 'dropped' as const, reason: 'HTTP 400', status: 400 }
  t.equal(verdict({ sent: [item()], letters: [], halves: [] }), 'answered')
  t.equal(verdict({ sent: [], letters: [{ ...dropped, item: item() }], halves: [] }), 'answered', 'a refusal is an answer')
  t.equal(verdict({ sent: [], letters: [{ ...dropped, item: item(dropped) }], halves: [] }), 'none', 'a letter whose first store failed: nothing was sent (a paused tag stays paused)')
  t.equal(verdict({ sent: [], letters: [{ outcome: 'dead_lettered', reason: 'too old', item: item() }], halves: [] }), 'none')
  t.equal(verdict({ sent: [], letters: [], halves: [], retry: { batch: { id: 'b', items: [item()] }, dueMs: 1, reason: 'HTTP 503', aborted: false } }), 'failed')
})

t.test('refused credentials pause the tag: its events wait, no attempt is spent, nothing is dead-lettered; a config fix resumes it', async t => {
  // The refusal quotes the token back, as some APIs do: the log must not.
  const sink = await startSink(t, r => r.path === '/a' && r.headers.authorization !== 'Bearer fresh-token-2' ? { status: 401, body: `invalid token ${String(r.headers.authorization)}` } : { status: 200 })
  const time = fakeClock()
  const q = watchedQueues()
  const m = metrics()
  const log = captureLogger('info')
  const tags = [tag('a', { url: `${sink.origin}/a`, token: 'stale-token-1' }), tag('b', { url: `${sink.origin}/b` })]
  const d = new Delivery({ tags, metrics: m, logger: log.logger, clock: time.clock, queues: q.queues })
  t.teardown(async () => { await d.close(0) })
  await d.enqueue([1, 2, 3].map(() => ({ tag: 'a', event: ev() })))
  await d.enqueue([{ tag: 'b', event: ev() }, { tag: 'b', event: ev() }])
  await until(async () => (await paused(m, 'a')).credentials === 1, 5000, 'tag a to pause')
  await until(() => d.depth('b') === 0, 5000, 'tag b to deliver')
  t.equal(sink.requests.filter(r => r.path === '/a').length, 1, 'one refused request, not one per event or per retry')
  t.same(await paused(m, 'a'), { credentials: 1, failing: 0 })
  t.same(await d.deadLetters.list(), [], 'nothing dead-lettered')
  t.equal(await count(m, 'a', 'retried'), 0, 'no retry budget spent')
  t.match(q.counts('a'), { scheduled: 3, inFlight: 0 }, 'the three events are kept')
  t.match(log.lines.map(l => JSON.parse(l)).find(l => l.level === 50), { tag: 'a', reason: /HTTP 401: invalid token/, msg: /refused the credentials: tag paused/ })
  t.notMatch(log.text(), /stale-token-1/, 'the token is not logged, though the destination quoted it')

  await d.enqueue([{ tag: 'a', event: ev() }])
  await time.tick(4_999)
  t.equal(sink.requests.filter(r => r.path === '/a').length, 1, 'paused: nothing goes out before the probe')
  await time.tick(1)
  await until(() => sink.requests.filter(r => r.path === '/a').length === 2, 5000, 'the probe')
  await until(async () => (await paused(m, 'a')).credentials === 1 && q.counts('a').inFlight === 0, 5000, 'the refused probe')

  d.reload([tag('a', { url: `${sink.origin}/a`, token: 'fresh-token-2' }), tags[1]])
  await until(() => d.depth('a') === 0, 5000, 'tag a to deliver after the fix')
  const delivered = received(sink).filter((_, i) => sink.requests[i].path === '/a' && sink.requests[i].headers.authorization === 'Bearer fresh-token-2')
  t.equal(delivered.flatMap(r => r.events).length, 4, 'every kept event, and the one queued while paused, delivered')
  t.ok(delivered.every(r => r.attempt === 1), 'as first attempts: the refusals spent none')
  t.same(await paused(m, 'a'), { credentials: 0, failing: 0 })
  t.ok(log.lines.some(l => /"msg":"tag resumed"/.test(l) && /config changed/.test(l)), 'resumed, and why')
  t.equal(received(sink).filter((_, i) => sink.requests[i].path === '/b').length, 1, 'tag b sent its batch once, untouched by a\'s pause')
})

t.test('attempts that keep failing pause the tag, then one probe goes out; an answer resumes it', async t => {
  let down = true
  const sink = await startSink(t, () => down ? { status: 503, body: 'down' } : { status: 200 })
  const time = fakeClock()
  const m = metrics()
  const log = captureLogger('warn')
  const d = new Delivery({
    tags: [tag('a', { url: sink.url }, { batch: { maxEvents: 1 }, retry: { maxAttempts: 50, maxAgeMs: 3_600_000, initialDelayMs: 10, maxDelayMs: 10 }, breaker: { failures: 3, cooldownMs: 1000, maxCooldownMs: 4000 } })],
    metrics: m,
    logger: log.logger,
    clock: time.clock,
    concurrency: 1
  })
  t.teardown(async () => { await d.close(0) })
  await d.enqueue([1, 2, 3, 4, 5].map(() => ({ tag: 'a', event: ev() })))
  // One batch at a time, each event its own batch: the waiting events go out one after another.
  await until(async () => (await paused(m, 'a')).failing === 1, 5000, 'three failures to pause the tag')
  t.equal(sink.requests.length, 3, 'three failures in a row pause it')
  await until(async () => await count(m, 'a', 'retried') === 3, 5000, 'the third retry to be scheduled')
  t.match(log.lines.map(l => JSON.parse(l)), [{ tag: 'a', reason: /HTTP 503/, probeInMs: 1000, msg: /keep failing: tag paused/ }])
  await time.tick(999)
  t.equal(sink.requests.length, 3, 'nothing goes out while paused, though retries fell due and events wait')
  await time.tick(1)
  await until(() => sink.requests.length === 4, 5000, 'one probe')
  await until(async () => await count(m, 'a', 'retried') === 4, 5000, 'the probe to fail')
  await time.tick(1999)
  t.equal(sink.requests.length, 4, 'a failed probe doubles the wait')
  down = false
  await time.tick(1)
  await until(() => d.depth('a') === 0, 5000, 'everything to go once the probe is answered')
  t.equal(await count(m, 'a', 'sent'), 5)
  t.same(await paused(m, 'a'), { credentials: 0, failing: 0 })
})

t.test('a refusal of the old credentials that lands after a reload does not pause the tag again', async t => {
  let release: () => void = () => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const sink = await startSink(t, async r => {
    if (r.headers.authorization === 'Bearer fresh-token-2') return { status: 200 }
    await held // the refusal of the old token arrives after the reload
    return { status: 401, body: 'invalid token' }
  })
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url, token: 'stale-token-1' })], metrics: m, logger: captureLogger('warn').logger })
  t.teardown(async () => { await d.close(0) })
  await d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }])
  await sink.arrived(1)
  d.reload([tag('a', { url: sink.url, token: 'fresh-token-2' })])
  release()
  await until(() => d.depth('a') === 0, 5000, 'the events to go with the new token')
  t.same(await paused(m, 'a'), {}, 'never paused: the refusal spoke for credentials already replaced')
  t.same(received(sink).filter((_, i) => sink.requests[i].headers.authorization === 'Bearer fresh-token-2').flatMap(r => r.events).length, 2, 'sent at once with the new token')
})
