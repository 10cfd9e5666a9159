import t from 'tap'
import { Delivery } from '../../server/delivery/index.js'
import type { CompiledTag } from '../../config/types.js'
import { count, ev, metrics, received, silent, tag, testTag } from './fixtures/helpers.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'

t.test('a build that throws for every event dead-letters the whole batch with the error message', async t => {
  const sink = await startSink(t)
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url, explode: true })], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: ev() }])
  await until(async () => (await d.deadLetters.list('a')).length === 2, 2000, 'dead letters')
  t.same((await d.deadLetters.list('a')).map(l => l.reason), ['build failed: template exploded', 'build failed: template exploded'])
  t.equal(await count(m, 'a', 'dead_lettered'), 2)
  t.equal(received(sink).length, 0)
  t.equal(d.depth('a'), 0)
  await d.close(1000)
})

t.test('a build that throws for one event dead-letters that event only; the rest of the batch goes out', async t => {
  const sink = await startSink(t)
  const picky: CompiledTag = {
    ...tag('picky', { url: sink.url }),
    def: {
      ...testTag,
      build (events, settings, ctx) {
        // As GA4's build did with a timestamp no Date can hold: one event's value throws for all.
        if (events.some(e => e.event_name === 'bomb')) throw new RangeError('Invalid time value')
        return testTag.build(events, settings, ctx)
      }
    }
  }
  const m = metrics()
  const d = new Delivery({ tags: [picky], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'picky', event: ev() }, { tag: 'picky', event: ev('bomb') }, { tag: 'picky', event: ev() }])
  await until(() => d.depth('picky') === 0, 2000, 'the batch')
  t.same(received(sink).map(r => r.events.length), [2], 'the two other events in one request')
  t.same((await d.deadLetters.list('picky')).map(l => [l.event.event_name, l.reason]), [['bomb', 'build failed: Invalid time value']])
  t.equal(await count(m, 'picky', 'sent'), 2)
  t.equal(await count(m, 'picky', 'dead_lettered'), 1)
  await d.close(1000)
})

t.test('rejected events are dead-lettered, the rest are sent', async t => {
  const sink = await startSink(t)
  const m = metrics()
  const d = new Delivery({ tags: [tag('a', { url: sink.url })], metrics: m, logger: silent() })
  const bad = ev('poison')
  d.enqueue([{ tag: 'a', event: ev() }, { tag: 'a', event: bad }, { tag: 'a', event: ev() }])
  await until(() => d.depth('a') === 0, 2000, 'the batch')
  t.equal(received(sink).length, 1)
  t.equal(received(sink)[0].events.length, 2)
  const [dl] = await d.deadLetters.list('a')
  t.equal(dl.reason, 'poison event')
  t.equal(dl.event.event_id, bad.event_id)
  t.equal(await count(m, 'a', 'sent'), 2)
  t.equal(await count(m, 'a', 'dead_lettered'), 1)
  await d.close(1000)
})

t.test('outcomes apply per request; an event no request carries is not lost silently', async t => {
  const ok = await startSink(t)
  const bad = await startSink(t, () => ({ status: 422, body: 'nope' }))
  const split: CompiledTag = {
    ...tag('split', {}),
    def: {
      ...testTag,
      build (events, _s, ctx) {
        const req = (url: string, idx: number[]) => ({ method: 'POST' as const, url, headers: {}, body: JSON.stringify({ batchId: ctx.batchId, attempt: ctx.attempt, events: idx.map(i => events[i]) }), events: idx })
        return { requests: [req(ok.url, [0]), req(bad.url, [1])] }
      }
    }
  }
  const m = metrics()
  const d = new Delivery({ tags: [split], metrics: m, logger: silent() })
  d.enqueue([{ tag: 'split', event: ev() }, { tag: 'split', event: ev() }, { tag: 'split', event: ev('orphan') }])
  await until(() => d.depth('split') === 0, 2000, 'the batch')
  t.equal(await count(m, 'split', 'sent'), 1)
  t.equal(await count(m, 'split', 'dropped'), 1, 'the destination refused one')
  t.equal(await count(m, 'split', 'dead_lettered'), 1, 'the tag forgot one')
  t.same((await d.deadLetters.list('split')).map(l => [l.event.event_name, l.status]).sort(), [['orphan', undefined], ['page_view', 422]].sort())
  await d.close(1000)
})
