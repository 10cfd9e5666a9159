// A destination that refuses a whole batch for one bad event (Meta, TikTok): delivery resends in
// halves until the bad event is alone, dead-letters it with the vendor's reason, delivers the rest.
import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import type { TagDefinition } from '../../tags/types.js'
import { batchOf, count, ev, metrics, received, silent, tag, testTag } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'

const splitting: TagDefinition<any> = {
  ...testTag,
  classify (res, req) {
    if (res.status === 200) return { kind: 'ok' }
    if (res.status === 400) return { kind: 'split', reason: `vendor: ${res.body}` }
    return { kind: 'retry', reason: `HTTP ${res.status}` }
  }
}

t.test('one bad event in a batch of eight: isolated in halves, the seven others delivered', async t => {
  const sink = await startSink(t, r => batchOf(r).events.some(e => e.event_name === 'bad')
    ? { status: 400, body: 'Invalid parameter in event 3' }
    : { status: 200 })
  const m = metrics()
  // maxAttempts 1: halving rounds must not use up the innocent events' retry budget.
  const d = new Delivery({ tags: [{ ...tag('meta', { url: sink.url }, { batch: { maxEvents: 10, maxWaitMs: 20 }, retry: { maxAttempts: 1 } }), def: splitting }], metrics: m, logger: silent() })
  const events = Array.from({ length: 8 }, (_, i) => ev(i === 3 ? 'bad' : 'purchase'))
  d.enqueue(events.map(event => ({ tag: 'meta', event })))
  await until(() => d.depth('meta') === 0, 3000, 'all settled')

  const delivered = received(sink).filter((_, i) => i > 0).flatMap(r => r.events.some(e => e.event_name === 'bad') ? [] : r.events)
  t.same(delivered.map(e => e.event_id).sort(), events.filter(e => e.event_name !== 'bad').map(e => e.event_id).sort(), 'every good event delivered once')
  const letters = await d.deadLetters.list('meta')
  t.equal(letters.length, 1)
  t.equal(letters[0].event.event_id, events[3].event_id, 'the bad one is dead-lettered')
  t.equal(letters[0].reason, 'vendor: Invalid parameter in event 3')
  t.equal(letters[0].status, 400)
  t.equal(received(sink)[0].events.length, 8, 'the first request carried the whole batch')
  t.ok(received(sink).length <= 1 + 2 * 3, `isolated in log2 rounds (${received(sink).length} requests)`)
  t.equal(await count(m, 'meta', 'sent'), 7)
  t.equal(await count(m, 'meta', 'dropped'), 1)
  t.equal(await count(m, 'meta', 'retried'), 0, 'splitting is not retrying')
  await d.close(1000)
})

t.test('a lone event that is refused whole is simply dropped', async t => {
  const sink = await startSink(t, () => ({ status: 400, body: 'bad' }))
  const d = new Delivery({ tags: [{ ...tag('meta', { url: sink.url }), def: splitting }], metrics: metrics(), logger: silent() })
  d.enqueue([{ tag: 'meta', event: ev() }])
  await until(async () => (await d.deadLetters.list('meta')).length === 1, 2000, 'dead letter')
  t.equal(received(sink).length, 1, 'sent once, not split further')
  await d.close(1000)
})
