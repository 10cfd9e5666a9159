// /healthz, /readyz and /metrics.
import t from 'tap'
import { harness, drained, json, redisStore, uniquePrefix } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import { RedisStore } from '../../server/store/index.js'

t.test('/healthz is 200 whatever the store says', async t => {
  const store = new RedisStore({ url: 'redis://127.0.0.1:1' })
  t.teardown(() => store.close())
  const h = await harness({ store, isReady: () => false })
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(json(res), { status: 'ok' })
})

t.test('/readyz: 503 while starting or draining; a shared store out of reach is reported, not a reason to leave the load balancer', async t => {
  const mem = await harness()
  t.teardown(mem.close)
  const ok = await mem.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ok.statusCode, 200)
  t.same(json(ok), { status: 'ready', store: 'memory', storeReachable: true })

  const redis = await redisStore()
  t.teardown(() => redis.close())
  const withRedis = await harness({ store: redis })
  t.teardown(withRedis.close)
  const r = await withRedis.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(r.statusCode, 200)
  t.same(json(r), { status: 'ready', store: 'redis', storeReachable: true })

  const down = new RedisStore({ url: 'redis://127.0.0.1:1' })
  t.teardown(() => down.close())
  const unreachable = await harness({ store: down, yaml: 'delivery: { localBuffer: 0 }' })
  t.teardown(unreachable.close)
  const u = await unreachable.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(u.statusCode, 200, 'every replica shares that Redis: all of them leaving at once helps nobody')
  t.same(json(u), { status: 'ready', store: 'redis', storeReachable: false })
  const refused = await unreachable.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'sign_up' } })
  t.equal(refused.statusCode, 503, 'while events are refused with 503')
  t.equal(json(refused).error, 'store_unavailable')
  t.equal(refused.headers['retry-after'], '2')

  let ready = false
  const starting = await harness({ isReady: () => ready })
  t.teardown(starting.close)
  const s = await starting.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(s.statusCode, 503, 'starting or draining')
  t.equal(json(s).error, 'not_ready')
  ready = true
  t.equal((await starting.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready once isReady() says so')
})

t.test('/metrics exposes the gateway\'s metrics in Prometheus text format', async t => {
  const h = await harness({ defaultMetrics: true })
  t.teardown(h.close)
  await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'sign_up', event_id: 'm-1', timestamp_ms: Date.now() + 3_600_000 } })
  await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 'sign_up', event_id: 'm-1' } })
  await h.app.inject({ method: 'POST', url: '/collect', payload: { event_name: 5 } })
  await h.app.inject({ method: 'GET', url: '/g/collect?v=2&tid=G-1&en=page_view&cid=1.2' })
  await h.app.inject({ method: 'GET', url: '/nope' })
  await drained(h)

  const res = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  const text = res.body
  const has = (re: RegExp, what = String(re)): void => { t.match(text, re, what) }
  has(/^# TYPE tagline_http_requests_total counter$/m, 'http requests counter')
  has(/^tagline_http_requests_total\{route="\/collect",status="202"\} 2$/m, 'by route and status')
  has(/^tagline_http_requests_total\{route="\/collect",status="400"\} 1$/m, 'errors by status')
  has(/^tagline_http_requests_total\{route="\/g\/collect",status="204"\} 1$/m)
  has(/^tagline_http_requests_total\{route="unmatched",status="404"\} 1$/m, 'unknown routes under one label, not one per path')
  has(/^tagline_events_received_total\{client="json"\} 2$/m, 'received by client')
  has(/^tagline_events_received_total\{client="gtag"\} 1$/m)
  has(/^tagline_events_rejected_total\{client="json",reason="invalid_event"\} 1$/m, 'rejected by client and reason')
  has(/^tagline_events_deduplicated_total 1$/m, 'deduplicated')
  has(/^tagline_event_times_clamped_total\{client="json"\} 1$/m, 'a time an hour ahead, clamped to the arrival')
  has(/^tagline_tag_events_total\{tag="hook",outcome="sent"\} 2$/m, 'tag events by outcome')
  has(/^tagline_tag_request_duration_seconds_bucket\{le="[^"]+",tag="hook"\} \d+$/m, 'request duration histogram')
  has(/^tagline_tag_request_duration_seconds_count\{tag="hook"\} [1-9]\d*$/m)
  has(/^tagline_delivery_latency_seconds_count\{tag="hook"\} 2$/m, 'delivery latency histogram')
  has(/^tagline_queue_depth\{tag="hook"\} 0$/m, 'queue depth gauge')
  has(/^tagline_process_cpu_user_seconds_total \d/m, 'default process metrics, prefixed')
  has(/^tagline_process_resident_memory_bytes \d/m)
  has(/^tagline_nodejs_eventloop_lag_seconds \d/m)

  const again = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.match(again.body, /^tagline_http_requests_total\{route="\/metrics",status="200"\} 1$/m, '/metrics counts itself')
})

t.test('/metrics reads the queues at scrape time: per tag and state, the oldest wait; in Redis mode every replica reports the same', async t => {
  for (const kind of ['memory', 'redis'] as const) {
    const sink = await startSink(t, 'hang')
    const prefix = uniquePrefix()
    const stores = kind === 'redis' ? [await redisStore(prefix), await redisStore(prefix)] : [undefined]
    for (const s of stores) if (s !== undefined) t.teardown(() => s.close())
    const tag = (url: string): string => `  - { name: hook, type: webhook, url: "${url}/hook", batch: { maxEvents: 2, maxWaitMs: 0 }, timeoutMs: 60000 }`
    const replicas = await Promise.all(stores.map(async store => await harness({ store, sink, tags: tag })))
    for (const r of replicas) t.teardown(r.close)
    const res = await replicas[0].app.inject({ method: 'POST', url: '/collect', payload: Array.from({ length: 20 }, (_, i) => ({ event_name: 'sign_up', event_id: `qm-${i}` })) })
    t.equal(res.statusCode, 202)
    // The sink never answers: each replica has 4 batches of 2 in flight (its concurrency), the rest wait.
    const inFlight = 8 * replicas.length
    await until(() => sink.requests.length === 4 * replicas.length, 5000, 'every replica\'s batches in flight')
    for (const r of replicas) {
      const text = (await r.app.inject({ method: 'GET', url: '/metrics' })).body
      const value = (state: string): number => Number(text.match(new RegExp(`^tagline_queue_events\\{tag="hook",state="${state}"\\} (\\d+)$`, 'm'))?.[1])
      t.same([value('waiting'), value('in_flight'), value('scheduled'), value('dead')], [20 - inFlight, inFlight, 0, 0], `${kind}: read from the queue store`)
      t.match(text, /^tagline_queue_oldest_waiting_seconds\{tag="hook"\} \d/m, `${kind}: the oldest waiting event's age`)
    }
  }
})
