// Triggers, consent and per-tag transformations, through the whole pipeline to real deliveries.
import t from 'tap'
import { createHash } from 'node:crypto'
import { harness, drained, metric, hookTag, gtagQuery } from './fixtures/harness.js'

const YAML = `server:
  rateLimit: false
triggers:
  purchase: { event_name: purchase }
  staging: { page_location: { matches: "^https://staging\\\\." } }
  big_order: { all: [ { event_name: purchase }, { value: { gte: 500 } } ] }
`

function tags (url: string): string {
  return [
    hookTag('ads', url, `fireOn: [purchase, { event_name: page_view }]
blockOn: [staging]
consent: [ad_storage]`),
    hookTag('analytics', url, `params:
  exclude: [user_data, params.internal_note, items.0.item_name, not.there.at_all]
  set: { params.source_system: tagline, currency: EUR, "x-custom": { nested: true } }`),
    hookTag('big', url, 'fireOn: [big_order]'),
    hookTag('off', url, 'enabled: false')
  ].join('')
}

t.test('fireOn / blockOn / consent decide which tag gets what', async t => {
  const h = await harness({ yaml: YAML, tags })
  t.teardown(h.close)
  const hit = async (params: Record<string, string>): Promise<void> => {
    const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery(params)}` })
    t.equal(res.statusCode, 204)
  }
  await hit({ en: 'page_view', gcs: 'G100', 'ep.event_id': 'denied-pv' })
  await hit({ en: 'page_view', gcs: 'G111', 'ep.event_id': 'granted-pv' })
  await hit({ en: 'page_view', gcs: 'G101', 'ep.event_id': 'ad-denied-pv' })
  await hit({ en: 'page_view', gcd: '13p3t3t2t5l1', 'ep.event_id': 'gcd-denied-pv' })
  await hit({ en: 'scroll', 'ep.event_id': 'scroll-1' })
  await hit({ en: 'purchase', 'ep.transaction_id': 'T-staging', dl: 'https://staging.shop.example/checkout', 'epn.value': '10' })
  await hit({ en: 'purchase', 'ep.transaction_id': 'T-big', dl: 'https://shop.example/checkout', 'epn.value': '700' })
  await drained(h)

  const ids = (tag: string): string[] => h.sink.delivered(`/${tag}`).map(e => e.event_id as string).sort()
  t.same(ids('ads'), ['T-big', 'granted-pv'], 'ads: only triggered, unblocked, consented events')
  t.same(ids('analytics'), ['T-big', 'T-staging', 'ad-denied-pv', 'denied-pv', 'gcd-denied-pv', 'granted-pv', 'scroll-1'], 'analytics (no consent requirement): everything')
  t.same(ids('big'), ['T-big'], 'an all: [...] trigger')
  t.same(ids('off'), [], 'a disabled tag gets nothing')

  const m = async (tag: string, outcome: string): Promise<number> => await metric(h.metrics, 'tagline_tag_events_total', { tag, outcome })
  t.equal(await m('ads', 'blocked_by_consent'), 3, 'ads: three page views refused by consent')
  t.equal(await m('ads', 'not_triggered'), 1, 'ads: scroll does not trigger')
  t.equal(await m('ads', 'blocked_by_trigger'), 1, 'ads: the staging purchase is blocked')
  t.equal(await m('ads', 'sent'), 2)
  t.equal(await m('analytics', 'sent'), 7)
  t.equal(await m('big', 'not_triggered'), 6)
  t.equal(await m('off', 'not_triggered') + await m('off', 'disabled'), 0, 'a disabled tag is not counted as not triggered')
  t.equal(h.delivery.depth('off'), 0)
})

t.test('params.exclude / params.set change only that tag\'s copy', async t => {
  const h = await harness({ yaml: YAML, tags })
  t.teardown(h.close)
  const res = await h.app.inject({
    method: 'POST',
    url: '/collect',
    payload: {
      event_name: 'purchase',
      transaction_id: 'T-tx',
      value: 42,
      currency: 'USD',
      user_data: { email_address: 'jane.doe@example.com' },
      items: [{ item_id: 'sku-1', item_name: 'Blue Shirt', price: 42 }, { item_id: 'sku-2', item_name: 'Hat' }],
      params: { internal_note: 'vip', coupon_code: 'X' },
      consent: { ad_storage: 'granted' }
    }
  })
  t.equal(res.statusCode, 202)
  await drained(h)
  const [ads] = h.sink.delivered('/ads')
  const [analytics] = h.sink.delivered('/analytics')
  t.ok(ads && analytics, 'both tags got the purchase')

  t.equal(analytics.user_data, undefined, 'analytics: user_data excluded')
  t.equal(analytics.params?.internal_note, undefined, 'analytics: params.internal_note excluded')
  t.equal(analytics.params?.coupon_code, 'X', 'analytics: other params kept')
  t.equal(analytics.params?.source_system, 'tagline', 'analytics: params.source_system set')
  t.equal(analytics.currency, 'EUR', 'analytics: currency overwritten')
  t.same((analytics as Record<string, unknown>)['x-custom'], { nested: true }, 'analytics: an object value set')
  t.same(analytics.items?.[0], { item_id: 'sku-1', price: 42 }, 'analytics: items.0.item_name excluded')
  t.equal(analytics.items?.[1].item_name, 'Hat', 'analytics: the other items untouched')

  t.same(ads.user_data, { sha256_email_address: createHash('sha256').update('jane.doe@example.com').digest('hex') }, 'ads: user_data intact (and hashed, as every webhook sends it)')
  t.same(ads.params, { internal_note: 'vip', coupon_code: 'X' }, 'ads: params intact')
  t.equal(ads.currency, 'USD', 'ads: currency intact')
  t.equal(ads.items?.[0].item_name, 'Blue Shirt', 'ads: items intact')
  t.equal((ads as Record<string, unknown>)['x-custom'], undefined)
  t.equal(ads.event_id, analytics.event_id, 'both copies are the same event')
})
