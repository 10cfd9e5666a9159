import t from 'tap'
import { DEFAULT_EVENT_NAMES, destinationEventName } from '../../tags/event-names.js'

t.test('meta defaults (docs/destinations.md, meta: Default event names)', async t => {
  const want: Record<string, string> = {
    page_view: 'PageView', view_item: 'ViewContent', search: 'Search', view_search_results: 'Search',
    add_to_cart: 'AddToCart', add_to_wishlist: 'AddToWishlist', begin_checkout: 'InitiateCheckout',
    add_payment_info: 'AddPaymentInfo', purchase: 'Purchase', sign_up: 'CompleteRegistration',
    generate_lead: 'Lead', contact: 'Contact', subscribe: 'Subscribe', start_trial: 'StartTrial',
    schedule: 'Schedule', find_location: 'FindLocation', customize_product: 'CustomizeProduct',
    submit_application: 'SubmitApplication', donate: 'Donate'
  }
  t.same({ ...DEFAULT_EVENT_NAMES.meta }, want)
  for (const [ga4, meta] of Object.entries(want)) t.equal(destinationEventName('meta', ga4), meta)
  for (const none of ['view_item_list', 'login', 'refund', 'file_download', 'click', 'remove_from_cart']) {
    t.equal(destinationEventName('meta', none), undefined, `${none} skipped by default`)
    t.equal(destinationEventName('meta', none, undefined, true), none, `${none} sent as custom`)
  }
})

t.test('tiktok defaults (docs/destinations.md, tiktok: Default event names)', async t => {
  const want: Record<string, string> = {
    view_item: 'ViewContent', search: 'Search', view_search_results: 'Search', add_to_cart: 'AddToCart',
    add_to_wishlist: 'AddToWishlist', begin_checkout: 'InitiateCheckout', add_payment_info: 'AddPaymentInfo',
    purchase: 'Purchase', sign_up: 'CompleteRegistration', generate_lead: 'Lead', contact: 'Contact',
    subscribe: 'Subscribe', start_trial: 'StartTrial', file_download: 'Download', schedule: 'Schedule',
    find_location: 'FindLocation', customize_product: 'CustomizeProduct', submit_application: 'SubmitApplication'
  }
  t.same({ ...DEFAULT_EVENT_NAMES.tiktok }, want)
  t.equal(destinationEventName('tiktok', 'page_view'), undefined, 'page views off by default')
  t.equal(destinationEventName('tiktok', 'donate'), undefined)
  t.equal(destinationEventName('tiktok', 'purchase', { purchase: 'CompletePayment' }), 'CompletePayment', 'legacy name via override')
  t.equal(destinationEventName('tiktok', 'page_view', { page_view: 'Pageview' }), 'Pageview')
})

t.test('posthog: page_view → $pageview, everything else keeps its name', async t => {
  t.same({ ...DEFAULT_EVENT_NAMES.posthog }, { page_view: '$pageview' })
  t.equal(destinationEventName('posthog', 'page_view'), '$pageview')
  t.equal(destinationEventName('posthog', 'purchase'), 'purchase')
  t.equal(destinationEventName('posthog', 'my_custom'), 'my_custom')
  t.equal(destinationEventName('posthog', 'my_custom', undefined, false), undefined)
})

t.test('overrides win; empty override skips; prototype keys are not names', async t => {
  t.equal(destinationEventName('meta', 'purchase', { purchase: 'Order' }), 'Order')
  t.equal(destinationEventName('meta', 'my_event', { my_event: 'MyEvent' }), 'MyEvent')
  t.equal(destinationEventName('meta', 'page_view', { page_view: '' }), undefined)
  t.equal(destinationEventName('posthog', 'x', { x: '' }), undefined)
  t.equal(destinationEventName('meta', 'add_to_cart', { purchase: 'Order' }), 'AddToCart')
  for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    t.equal(destinationEventName('meta', k), undefined, k)
    t.equal(destinationEventName('meta', k, {}), undefined, k)
    t.equal(destinationEventName('meta', k, {}, true), k, k)
  }
  t.equal(destinationEventName('meta', ''), undefined)
  t.equal(destinationEventName('meta', 42 as any, undefined, true), undefined)
  t.equal(destinationEventName('meta', 'purchase', null as any), 'Purchase')
  t.equal(destinationEventName('meta', 'purchase', { purchase: 5 } as any), undefined)
})

t.test('defaults are frozen', async t => {
  t.ok(Object.isFrozen(DEFAULT_EVENT_NAMES))
  t.ok(Object.isFrozen(DEFAULT_EVENT_NAMES.meta))
  t.throws(() => { (DEFAULT_EVENT_NAMES.meta as Record<string, string>).purchase = 'X' })
})
