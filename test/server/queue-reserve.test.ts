// A queue's last tenth is kept for events sent with an API key: when a destination is down and
// browser beacons fill its queue, the backend's orders still get in (README, "Full queues").
import t from 'tap'
import { MemoryStore, type Store } from '../../server/store/index.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import { AUTH, harness, hookTag, json, redisStore } from './fixtures/harness.js'

const stores: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', async () => await redisStore()]
]

for (const [kind, makeStore] of stores) {
  t.test(`beacons fill 90% of a queue, a backend purchase still gets in (${kind} store)`, async t => {
    const sink = await startSink(t, 'hang')
    const store = await makeStore()
    t.teardown(() => store.close())
    // maxEvents 100: nothing leaves before the queue is full, so depth is what was accepted.
    const h = await harness({ store, sink, maxQueue: 20, tags: url => hookTag('hook', url).replace('maxWaitMs: 0', 'maxWaitMs: 60000') })
    t.teardown(h.close)
    const beacon = async (i: number): Promise<number> => (await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json' }, payload: { event_name: 'page_view', event_id: `pv-${i}` } })).statusCode
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push(await beacon(i))
    t.same(statuses, [...Array(18).fill(202), 503, 503], 'browser events: 18 of 20, then queue_full')
    const order = await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', authorization: AUTH }, payload: { event_name: 'purchase', transaction_id: 'T-1', value: 10, currency: 'EUR' } })
    t.equal(order.statusCode, 202, 'the backend\'s purchase is taken')
    t.same(json(order).event_ids, ['T-1'])
    // Redis mode: depth is this replica's last reading of the shared queue, refreshed by its worker.
    await until(() => h.delivery.depth('hook') === 19, 5000, 'the queue to hold 19')
  })
}

t.test('without API keys no request is a backend\'s: browser events may fill the whole queue', async t => {
  const sink = await startSink(t, 'hang')
  const h = await harness({ sink, maxQueue: 20, apiKeys: false, tags: url => hookTag('hook', url).replace('maxWaitMs: 0', 'maxWaitMs: 60000') })
  t.teardown(h.close)
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) statuses.push((await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json' }, payload: { event_name: 'page_view', event_id: `pv-${i}` } })).statusCode)
  t.same(statuses, [...Array(20).fill(202), 503])
})
