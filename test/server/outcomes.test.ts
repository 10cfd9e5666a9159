// The one outcome vocabulary, end to end: what the pipeline and delivery decide for each
// (event, tag) reaches the metrics, the dead letters and an attached observer in the same words.
import t from 'tap'
import { harness, drained, metric, hookTag, AUTH, json, silent, fixedIds } from './fixtures/harness.js'
import { DELIVERY_OUTCOMES, ROUTING_OUTCOMES, type TagDecision } from '../../common/outcome.js'
import { Delivery } from '../../server/delivery/index.js'
import { ContextWriter, runPipeline } from '../../server/pipeline.js'
import { StoreFaults } from '../../server/store/faults.js'
import type { DeliveryObserver, RequestObserver } from '../../server/observer.js'
import { loadConfig } from '../../config/load.js'
import { createMetrics } from '../../server/metrics.js'
import { MemoryStore } from '../../server/store/index.js'
import type { RequestSnapshot } from '../../clients/types.js'
import type { TaglineEvent } from '../../schemas/event.js'
import { startSink } from '../fixtures/sink.js'

const COUNTED = ['not_triggered', 'blocked_by_trigger', 'declined', 'blocked_by_consent', 'sent', 'retried', 'split', 'dead_lettered', 'dropped']

t.test('the metric help names every counted outcome, and every word is described', async t => {
  const m = createMetrics({ defaultMetrics: false })
  const help = (await m.registry.getMetricsAsJSON()).find(x => x.name === 'tagline_tag_events_total')?.help ?? ''
  for (const o of COUNTED) t.match(help, o)
  for (const [word, meaning] of Object.entries({ ...ROUTING_OUTCOMES, ...DELIVERY_OUTCOMES })) t.ok(meaning.length > 20, `${word} is described`)
})

t.test('a prepare() that throws dead-letters the event for that tag, without its user data, and sends nothing unprepared', async t => {
  const h = await harness({ tags: url => hookTag('hook', url) + hookTag('other', url) })
  t.teardown(h.close)
  // The webhook tag hashes user data in prepare(); make it fail the way a tag bug would.
  const hook = h.config.tags[0]
  hook.def = { ...hook.def, prepare: () => { throw new Error('normaliser bug on Jane.Doe@Example.com') } }
  const res = await h.app.inject({
    method: 'POST',
    url: '/collect',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    payload: { event_name: 'sign_up', event_id: 'E-1', user_data: { email_address: 'Jane.Doe@Example.com' } }
  })
  t.equal(res.statusCode, 202)
  t.same(json(res).event_ids, ['E-1'])
  await drained(h)
  t.same(h.sink.delivered('/hook'), [], 'nothing reached the tag whose prepare failed')
  t.same(h.sink.delivered('/other').map(e => e.event_id), ['E-1'], 'the other tag is unaffected')
  const [letter, ...more] = await h.delivery.deadLetters.list('hook')
  t.same(more, [])
  t.match(letter, { tag: 'hook', outcome: 'dead_lettered', reason: /^prepare failed: normaliser bug/, attempts: 0 })
  t.equal(letter.event.event_id, 'E-1')
  t.notOk('user_data' in letter.event, 'the unprepared user data is not kept')
  t.notMatch(JSON.stringify(letter), /Jane/i, 'nor the raw e-mail the failing prepare quoted')
  t.equal(await metric(h.metrics, 'tagline_tag_events_total', { tag: 'hook', outcome: 'dead_lettered' }), 1)
  t.equal(await metric(h.metrics, 'tagline_tag_events_total', { tag: 'hook', outcome: 'dropped' }), 0, 'not counted as dropped: the destination never saw it')
})

t.test('an event a tag declines is counted as declined, not as not_triggered', async t => {
  const sink = await startSink(t)
  const h = await harness({
    sink,
    tags: url => `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok, endpoint: "${url}/meta", consent: [] }\n`
  })
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'scroll' } })
  t.equal(res.statusCode, 202)
  t.equal(await metric(h.metrics, 'tagline_tag_events_total', { tag: 'meta', outcome: 'declined' }), 1)
  t.equal(await metric(h.metrics, 'tagline_tag_events_total', { tag: 'meta', outcome: 'not_triggered' }), 0)
})

t.test('observers hear every routing and delivery outcome of a request, in the vocabulary', async t => {
  const sink = await startSink(t, req => req.path === '/bad' ? { status: 400, body: 'no' } : 200)
  const config = loadConfig({
    text: `
triggers:
  staging: { page_location: { matches: "^https://staging\\\\." } }
tags:
  - { name: good, type: webhook, url: "${sink.origin}/good", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, batch: { maxWaitMs: 0 } }
  - { name: bad, type: webhook, url: "${sink.origin}/bad", batch: { maxWaitMs: 0 }, fireOn: [{ event_name: purchase }] }
  - { name: guarded, type: webhook, url: "${sink.origin}/g", blockOn: [staging], consent: [ad_storage] }
  - { name: off, type: webhook, url: "${sink.origin}/off", enabled: false }
`
  }, {})
  const sends: Parameters<NonNullable<DeliveryObserver['exchange']>>[0][] = []
  const finals: Array<{ tag: string, outcome: string, id?: string }> = []
  const observer: DeliveryObserver = {
    exchange: x => sends.push(x),
    outcome: x => finals.push({ tag: x.tag, outcome: x.outcome, id: x.event.event_id })
  }
  const metrics = createMetrics({ defaultMetrics: false })
  const store = new MemoryStore()
  const delivery = new Delivery({ tags: config.tags, metrics, logger: silent(), observer })
  t.teardown(async () => { await delivery.close(500); await store.close() })
  const routed: Array<[string | undefined, TagDecision]> = []
  const seen: { events?: readonly TaglineEvent[], client?: string } = {}
  const trace: RequestObserver = { claimed: c => { seen.client = c }, events: e => { seen.events = e }, routed: (e, d) => routed.push([e.event_id, d]) }
  const ids = fixedIds()
  const deps = { config, store, delivery, metrics, ids, contexts: new ContextWriter(store, 60_000), faults: new StoreFaults(metrics.storeErrors), observer: trace }
  const snap: RequestSnapshot = { method: 'POST', path: '/collect', query: '', body: '', headers: {}, ip: '203.0.113.1', cookies: {}, trusted: true, requestId: 'r1', receivedMs: ids.now() }
  const events = [
    { event_name: 'purchase', event_id: 'P-1', transaction_id: 'P-1', currency: 'EUR', value: 5 },
    { event_name: 'page_view', event_id: 'V-1', page_location: 'https://staging.shop.example/', consent: { ad_storage: 'granted' as const } },
    { event_name: 'page_view', event_id: 'V-2', consent: { ad_storage: 'denied' as const } }
  ]
  await runPipeline(deps, snap, 'json', events)
  await runPipeline(deps, snap, 'json', [events[0]])
  t.same(seen.events?.map(e => e.event_id), ['P-1'], 'the enriched events of the second request')
  t.equal(seen.client, 'json', 'the claiming client')
  const decision = (id: string, tag: string): string | undefined => {
    const d = routed.find(([e, r]) => e === id && r.tag === tag)?.[1]
    return d === undefined ? undefined : d.detail !== undefined ? `${d.outcome} ${d.detail}` : d.outcome
  }
  t.equal(decision('P-1', 'good'), 'queued all')
  t.equal(decision('P-1', 'bad'), 'queued fireOn[0]', 'an inline trigger is named by its place')
  t.equal(decision('V-1', 'bad'), 'not_triggered')
  t.equal(decision('V-1', 'guarded'), 'blocked_by_trigger staging')
  t.equal(decision('V-2', 'guarded'), 'blocked_by_consent ad_storage')
  t.equal(decision('V-2', 'off'), 'disabled')
  t.same(routed.slice(-4).map(([e, r]) => [e, r.tag, r.outcome]), [['P-1', 'off', 'disabled'], ['P-1', 'good', 'deduplicated'], ['P-1', 'bad', 'deduplicated'], ['P-1', 'guarded', 'deduplicated']],
    'the repeat is reported deduplicated at every tag that had it; a switched-off tag stays disabled')

  await delivery.close(2000)
  t.same(finals.filter(f => f.tag === 'bad'), [{ tag: 'bad', outcome: 'dropped', id: 'P-1' }])
  t.same(finals.filter(f => f.tag === 'good').map(f => f.outcome), ['sent', 'sent', 'sent'])
  const bad = sends.find(s => s.tag === 'bad')
  t.match(bad, { attempt: 1, answer: { status: 400, body: 'no' }, result: { kind: 'drop' } })
  const good = sends.find(s => s.tag === 'good')
  t.match(good?.request, { method: 'POST' })
  t.notMatch(JSON.stringify(sends), 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'no secret reaches an observer')
})
