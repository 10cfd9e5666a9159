// A page that forwards its dataLayer forwards its Consent Mode commands with it: a refusal by
// gtag('consent', 'update', …) keeps the pushes after it from Meta, through the real app.
import t from 'tap'
import { harness, drained } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'

t.test('a dataLayer with a consent update: Meta gets the page view before it, not the purchase after it', async t => {
  const sink = await startSink(t)
  const h = await harness({
    sink,
    tags: o => [
      `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok, endpoint: "${o}/meta", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`,
      `  - { name: hook, type: webhook, url: "${o}/hook", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`
    ].join('\n') + '\n'
  })
  t.teardown(h.close)
  const pushes = [
    { 0: 'consent', 1: 'default', 2: { ad_storage: 'granted', ad_user_data: 'granted' } },
    { event: 'page_view', event_id: 'pv-1', page_location: 'https://shop.example/' },
    { 0: 'consent', 1: 'update', 2: { ad_storage: 'denied', ad_user_data: 'denied' } },
    { event: 'purchase', event_id: 'buy-1', ecommerce: { transaction_id: 'T-DL', currency: 'EUR', value: 5 } }
  ]
  const res = await h.app.inject({ method: 'POST', url: '/collect', payload: pushes })
  t.equal(res.statusCode, 202)
  // A gtag.js page's dataLayer: its events are gtag('event', …) commands.
  const gtagStyle = await h.app.inject({ method: 'POST', url: '/collect', payload: [['consent', 'update', { ad_storage: 'denied', ad_user_data: 'denied' }], ['event', 'purchase', { event_id: 'buy-2', transaction_id: 'T-DL2', currency: 'EUR', value: 7 }]] })
  t.same(gtagStyle.json(), { accepted: 1, deduplicated: 0, event_ids: ['buy-2'] })
  await sink.waitFor(() => sink.delivered('/hook').length === 3, 'all three at the webhook')
  await drained(h)
  const meta = sink.requests.filter(r => r.path === '/meta').flatMap(r => (r.json as any).data.map((e: any) => e.event_id))
  t.same(meta, ['pv-1'], 'Meta: the page view only')
  t.match(sink.delivered('/hook').find(e => e.event_id === 'buy-1'), { consent: { ad_storage: 'denied', ad_user_data: 'denied' } })
})
