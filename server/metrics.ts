// Prometheus metrics. One registry per app (no globals), so tests can build many apps.
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client'

import { DELIVERY_OUTCOMES, ROUTING_OUTCOMES, type TagOutcome } from '../common/outcome.js'
import type { TagStats } from './delivery/admin.js'

export interface Metrics {
  registry: Registry
  httpRequests: Counter<'route' | 'status'>
  eventsReceived: Counter<'client'>
  eventsRejected: Counter<'client' | 'reason'>
  eventTimesClamped: Counter<string>
  eventsDeduplicated: Counter<string>
  tagEvents: Counter<'tag' | 'outcome'>
  /** The one way to count an (event, tag) outcome: the label is always a word of the vocabulary. */
  countOutcome (tag: string, outcome: TagOutcome, n?: number): void
  tagRequestDuration: Histogram<'tag'>
  deliveryLatency: Histogram<'tag'>
  queueDepth: Gauge<'tag'>
  /** Redis mode: events of dead (or stuck) replicas this one took over. */
  queueClaimed: Counter<'tag'>
  /** User-data fields a tag's prepare left out of its copy of an event, by field and reason. */
  userDataDropped: Counter<'tag' | 'field' | 'reason'>
  valuesCut: Counter<'tag' | 'field'>
  /** 1 while a tag's breaker holds it paused, by reason (credentials, failing). */
  tagPaused: Gauge<'tag' | 'reason'>
  /** Redis mode: 1 while a setting of the shared Redis puts queued events at risk (eviction, no_aof). */
  storeRisk: Gauge<'risk'>
  /** Store operations that failed, by op: enqueue (the request got 503), context_read, context_write. */
  storeErrors: Counter<'op'>
  /** Config reloads (SIGHUP or a change of the file) by result: ok, invalid, unchanged. */
  configReloads: Counter<'result'>
  /** 1 for the running config's content hash (short sha256); the label changes on a reload. */
  configInfo: Gauge<'hash'>
  /**
   * Where the per-tag queue gauges read at scrape time: in Redis mode straight from the store, so
   * every replica reports the same numbers. Set once, by Delivery.
   */
  readQueues (read: () => Promise<readonly TagStats[]>): void
}

export function createMetrics (opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  // The event-loop delay is sampled every 100 ms, not prom-client's 10: at 10 its timer was most of
  // an idle gateway's CPU, and a gateway's lag worth alerting on lasts far longer than 100 ms.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tagline_', eventLoopMonitoringPrecision: 100 })
  const registers = [registry]
  const tagEvents = new Counter({
    name: 'tagline_tag_events_total',
    help: `Events per tag by outcome: ${[...Object.keys(ROUTING_OUTCOMES), ...Object.keys(DELIVERY_OUTCOMES)].filter(o => o !== 'queued' && o !== 'deduplicated' && o !== 'disabled').join(', ')}.`,
    labelNames: ['tag', 'outcome'],
    registers
  })
  let read: (() => Promise<readonly TagStats[]>) | undefined
  let reading: Promise<readonly TagStats[]> | undefined
  // Both gauges come from one reading per scrape.
  const once = async (): Promise<readonly TagStats[]> => {
    if (read === undefined) return []
    reading ??= read().finally(() => { setImmediate(() => { reading = undefined }) })
    return await reading
  }
  new Gauge({
    name: 'tagline_queue_events',
    help: 'Events per tag and state, read from the queue store at scrape time (Redis mode: the same on every replica): waiting, in_flight, scheduled (retries), dead (dead letters kept), buffered (Redis mode: accepted by this replica while Redis was away, not stored there yet).',
    labelNames: ['tag', 'state'],
    registers,
    async collect () {
      this.reset()
      for (const q of await once().catch(() => [])) {
        this.set({ tag: q.tag, state: 'waiting' }, q.waiting)
        this.set({ tag: q.tag, state: 'in_flight' }, q.inFlight)
        this.set({ tag: q.tag, state: 'scheduled' }, q.scheduled)
        this.set({ tag: q.tag, state: 'dead' }, q.dead)
        this.set({ tag: q.tag, state: 'buffered' }, q.buffered ?? 0)
      }
    }
  })
  new Gauge({
    name: 'tagline_queue_oldest_waiting_seconds',
    help: 'Per tag, how long the oldest waiting event has waited (0 when none waits): the alert for a tag that is not keeping up.',
    labelNames: ['tag'],
    registers,
    async collect () {
      this.reset()
      for (const q of await once().catch(() => [])) this.set({ tag: q.tag }, (q.oldestWaitingAgeMs ?? 0) / 1000)
    }
  })
  return {
    registry,
    readQueues: fn => { read = fn },
    httpRequests: new Counter({ name: 'tagline_http_requests_total', help: 'HTTP requests by route and status.', labelNames: ['route', 'status'], registers }),
    eventsReceived: new Counter({ name: 'tagline_events_received_total', help: 'Events parsed from incoming requests, by client.', labelNames: ['client'], registers }),
    eventsRejected: new Counter({ name: 'tagline_events_rejected_total', help: 'Requests or events refused at the edge, by client and reason.', labelNames: ['client', 'reason'], registers }),
    eventTimesClamped: new Counter({ name: 'tagline_event_times_clamped_total', help: 'Events whose own time was after their arrival (a sender\'s clock ahead, or microseconds sent as milliseconds), sent with the arrival time instead, by client.', labelNames: ['client'], registers }),
    eventsDeduplicated: new Counter({ name: 'tagline_events_deduplicated_total', help: 'Events dropped as repeats of (event_name, event_id) inside the dedup window.', registers }),
    tagEvents,
    countOutcome: (tag, outcome, n = 1) => { tagEvents.inc({ tag, outcome }, n) },
    tagRequestDuration: new Histogram({
      name: 'tagline_tag_request_duration_seconds',
      help: 'Duration of outgoing requests per tag.',
      labelNames: ['tag'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    deliveryLatency: new Histogram({
      name: 'tagline_delivery_latency_seconds',
      help: 'From receipt of the event to its acknowledged delivery, per tag.',
      labelNames: ['tag'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14400],
      registers
    }),
    queueDepth: new Gauge({ name: 'tagline_queue_depth', help: 'Events a tag queue holds: waiting, in flight and scheduled for retry.', labelNames: ['tag'], registers }),
    tagPaused: new Gauge({ name: 'tagline_tag_paused', help: 'Tags paused by their breaker: reason credentials (the destination refused the token or permissions: fix the config) or failing (attempts kept failing: probed with backoff).', labelNames: ['tag', 'reason'], registers }),
    userDataDropped: new Counter({
      name: 'tagline_user_data_dropped_total',
      help: 'User-data fields given in an event but not sent to a tag, by field (email_address, phone_number, …) and reason: no_country (a national phone number and no defaultCountry to read it in), invalid (nothing the destination\'s rules can hash).',
      labelNames: ['tag', 'field', 'reason'],
      registers
    }),
    valuesCut: new Counter({
      name: 'tagline_values_cut_total',
      help: 'Values past what a destination keeps, cut before queueing (GA4 over Measurement Protocol: page_location 1,000 characters, page_referrer 420, page_title 300, other parameters and item values 100, user properties 36; past 25 parameters, 25 user properties or 10 custom item parameters, the rest left out; a parameter, item parameter or user property whose name GA4 reserves or cannot read, or whose value is not a string, number or boolean, left out), by field: page_location, page_referrer, page_title, params, items, user_properties; counted once per value when the event is queued for the tag, which sends it cut (unless it refuses the event for another reason, such as its age).',
      labelNames: ['tag', 'field'],
      registers
    }),
    storeRisk: new Gauge({ name: 'tagline_store_risk', help: 'Redis mode: 1 while a setting of the shared Redis puts queued events at risk, by risk: eviction (a maxmemory-policy other than noeviction with maxmemory set: keys can be evicted), no_aof (appendonly no: a restart of Redis loses what it acknowledged since its last snapshot). Read at start and every 5 minutes.', labelNames: ['risk'], registers }),
    storeErrors: new Counter({ name: 'tagline_store_errors_total', help: 'Store operations that failed, by op: enqueue (events could not be stored: the request was answered 503 and its sender retries), context_read (a backend event went unstitched), context_write (a browser context, or a refusal, was not remembered).', labelNames: ['op'], registers }),
    configReloads: new Counter({ name: 'tagline_config_reloads_total', help: 'Config reloads (SIGHUP or a change of the config file) by result: ok (applied), invalid (refused, the running config stays), unchanged (the file changed on disk but its content is the running one).', labelNames: ['result'], registers }),
    configInfo: new Gauge({ name: 'tagline_config_info', help: 'Always 1, labelled with the running config file\'s content hash (first 12 hex digits of its sha256).', labelNames: ['hash'], registers }),
    queueClaimed: new Counter({ name: 'tagline_queue_claimed_total', help: 'Redis mode: events another replica took and never settled (it died or stalled past delivery.claimIdle), taken over by this one.', labelNames: ['tag'], registers })
  }
}
