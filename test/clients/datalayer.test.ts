import t from 'tap'
import { datalayer } from '../../clients/datalayer.js'
import { normalizeUserData } from '../../clients/user-data.js'
import type { RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'

function snap (json: unknown, o: Partial<RequestSnapshot> = {}): RequestSnapshot {
  return { method: 'POST', path: '/collect', query: '', body: JSON.stringify(json) ?? '', json, contentType: 'application/json', headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

// The GTM e-commerce push shape (https://developers.google.com/analytics/devguides/collection/ga4/ecommerce?client_type=gtm).
const PURCHASE = {
  event: 'purchase',
  event_id: 'T_12345',
  page_location: 'https://shop.example/checkout/thank-you',
  ecommerce: {
    transaction_id: 'T_12345',
    value: 72.05,
    tax: 4.90,
    shipping: 5.99,
    currency: 'USD',
    coupon: 'SUMMER_FUN',
    customer_type: 'returning',
    items: [
      { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', affiliation: 'Google Merchandise Store', coupon: 'SUMMER_FUN', discount: 2.22, index: 0, item_brand: 'Google', item_category: 'Apparel', item_category2: 'Adult', item_list_id: 'related_products', item_list_name: 'Related Products', item_variant: 'green', location_id: 'ChIJIQBpAG2ahYAR_6128GcTUEo', price: 10.01, quantity: 3 },
      { item_id: 'SKU_12346', item_name: 'Friends Hoodie', price: '42.02', quantity: '1', discount: '', index: '1', color: 'black' }
    ]
  },
  user_data: { email: 'jane@example.com', phone_number: '+15551234567', address: { first_name: 'Jane', postal_code: 150, country: 'NO' } },
  page_type: 'checkout'
}

t.test('claims objects and arrays with a string `event`, not our JSON', async t => {
  t.ok(datalayer.claims(snap(PURCHASE)))
  t.ok(datalayer.claims(snap([PURCHASE])))
  t.ok(datalayer.claims(snap([{ ecommerce: null }, PURCHASE])), 'a leading clear push does not hide the event')
  t.notOk(datalayer.claims(snap({ event: 'x', event_name: 'x' })))
  t.notOk(datalayer.claims(snap({ event: 5 })))
  t.notOk(datalayer.claims(snap([{ ecommerce: null }])))
  t.notOk(datalayer.claims(snap([])))
  t.notOk(datalayer.claims(snap(null)))
  t.notOk(datalayer.claims(snap('purchase')))
  t.notOk(datalayer.claims(snap([null, PURCHASE])))
  t.notOk(datalayer.claims(snap(undefined)))
})

t.test('a GTM purchase push → one event with model keys, items and user_data', async t => {
  const [ev, ...rest] = datalayer.parse(snap(PURCHASE))
  t.equal(rest.length, 0)
  t.strictSame(ev, {
    event_name: 'purchase',
    event_id: 'T_12345',
    page_location: 'https://shop.example/checkout/thank-you',
    transaction_id: 'T_12345',
    value: 72.05,
    tax: 4.9,
    shipping: 5.99,
    currency: 'USD',
    coupon: 'SUMMER_FUN',
    items: [
      { item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', affiliation: 'Google Merchandise Store', coupon: 'SUMMER_FUN', discount: 2.22, index: 0, item_brand: 'Google', item_category: 'Apparel', item_category2: 'Adult', item_list_id: 'related_products', item_list_name: 'Related Products', item_variant: 'green', location_id: 'ChIJIQBpAG2ahYAR_6128GcTUEo', price: 10.01, quantity: 3 },
      { item_id: 'SKU_12346', item_name: 'Friends Hoodie', price: 42.02, quantity: 1, index: 1, color: 'black' }
    ],
    user_data: { email_address: 'jane@example.com', phone_number: '+15551234567', address: { first_name: 'Jane', postal_code: '150', country: 'NO' } },
    params: { page_type: 'checkout', customer_type: 'returning' }
  })
})

t.test('the clear-push pattern: [{ ecommerce: null }, { event, ecommerce }] → one event', async t => {
  const events = datalayer.parse(snap([
    { ecommerce: null },
    { event: 'view_item', ecommerce: { currency: 'USD', value: 10.01, items: [{ item_id: 'SKU_12345', price: 10.01 }] } },
    { ecommerce: null },
    { event: 'add_to_cart', ecommerce: { currency: 'USD', value: '30.03', items: [{ item_id: 'SKU_12345', price: 10.01, quantity: 3 }] } }
  ]))
  t.equal(events.length, 2)
  t.match(events[0], { event_name: 'view_item', currency: 'USD', value: 10.01 })
  t.match(events[1], { event_name: 'add_to_cart', value: 30.03 })
  t.equal(events[1].items?.[0].quantity, 3)
  t.equal(events[0].items?.[0].quantity, undefined, 'quantity is not invented')
})

t.test('pushes without a string event produce nothing; gtm.* events are kept', async t => {
  const events = datalayer.parse(snap([
    { event: 'gtm.js', 'gtm.start': 1718000000000, 'gtm.uniqueEventId': 1 },
    { user_type: 'member' },
    { event: '' },
    { event: 42 },
    'not a push',
    null,
    { event: 'gtm.dom' }
  ]))
  t.strictSame(events, [
    { event_name: 'gtm.js', params: { 'gtm.start': 1718000000000, 'gtm.uniqueEventId': 1 } },
    { event_name: 'gtm.dom' }
  ])
})

t.test('top-level commerce fields (gtag style) work; ecommerce wins over them', async t => {
  const [ev] = datalayer.parse(snap({ event: 'generate_lead', value: '25', currency: 'EUR', items: [{ item_name: 'Demo' }], ecommerce: { currency: 'USD' } }))
  t.match(ev, { event_name: 'generate_lead', value: 25, currency: 'USD' })
  t.strictSame(ev.items, [{ item_name: 'Demo' }])
})

t.test('non-numeric commerce numbers stay as params; callbacks and undefined are dropped', async t => {
  const [ev] = datalayer.parse(snap({ event: 'x', eventCallback: 'fn', eventTimeout: 2000, ecommerce: { value: 'lots', tax: null, item_list_id: 'l1', items: 'SKU' }, transaction_id: 98765, user_id: '' }))
  t.strictSame(ev, { event_name: 'x', transaction_id: '98765', params: { value: 'lots', tax: null, item_list_id: 'l1', items: 'SKU' } })
})

t.test('an event name over 100 characters is a 400', async t => {
  try {
    datalayer.parse(snap([{ event: 'ok' }, { event: 'x'.repeat(101) }]))
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof TaglineError)
    t.equal((err as TaglineError).code, 'invalid_event')
    t.equal((err as TaglineError).details[0].path, 'pushes[1].event')
  }
})

t.test('at most 500 pushes', async t => {
  t.equal(datalayer.parse(snap(Array.from({ length: 500 }, () => ({ event: 'e' })))).length, 500)
  t.throws(() => datalayer.parse(snap(Array.from({ length: 501 }, () => ({ event: 'e' })))), { code: 'invalid_event', statusCode: 400 })
})

t.test('normalizeUserData: aliases, arrays, sha256 variants, unknown keys dropped', async t => {
  t.strictSame(normalizeUserData({ email: ['a@b.c', 'd@e.f'], phone: 4712345678, sha256_email_address: 'aa', sha256_phone_number: 'bb', external_id: 'u1', unknown: 'x', address: [{ street: 'Main 1', sha256_first_name: 'cc', evil: 'x' }] }), {
    email_address: 'a@b.c', phone_number: '4712345678', sha256_email_address: 'aa', sha256_phone_number: 'bb', external_id: 'u1', address: { street: 'Main 1', sha256_first_name: 'cc' }
  })
  t.strictSame(normalizeUserData({ email_address: 'x@y.z', email: 'first@wins.com' }), { email_address: 'first@wins.com' })
  t.equal(normalizeUserData({ email: '', address: {} }), undefined)
  t.equal(normalizeUserData('jane@example.com'), undefined)
  t.equal(normalizeUserData(null), undefined)
})

t.test('a push\'s consent object becomes the event\'s consent, not a param', async t => {
  const { datalayer } = await import('../../clients/datalayer.js')
  const push = { event: 'add_to_cart', consent: { ad_storage: 'denied', analytics_storage: 'GRANTED', ad_user_data: false, ad_personalization: 'maybe' }, ecommerce: { currency: 'USD', value: 1 } }
  const [ev] = datalayer.parse({ method: 'POST', path: '/collect', query: '', body: JSON.stringify(push), json: push, headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r', receivedMs: 0 })
  t.same(ev.consent, { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied' }, 'unknown values are left unset')
  t.equal(ev.params?.consent, undefined)
})

t.test('Consent Mode commands among the pushes set the consent of the pushes after them', async t => {
  const { datalayer } = await import('../../clients/datalayer.js')
  const pushes = [
    ['consent', 'default', { ad_storage: 'granted', ad_user_data: 'granted', analytics_storage: 'granted' }],
    { event: 'page_view' },
    // gtag() pushes its arguments object; forwarded as it serialises, it is { "0": …, "1": …, "2": … }.
    { 0: 'consent', 1: 'update', 2: { ad_storage: 'denied', ad_user_data: 'denied' } },
    { event: 'purchase', ecommerce: { currency: 'EUR', value: 5 } },
    { event: 'sign_up', consent: { ad_storage: 'granted' } },
    ['config', 'G-ABC123XYZ9'],
    ['consent', 'update', 'not an object']
  ]
  t.ok(datalayer.claims(snap(pushes)), 'claimed, though it starts with a command')
  const [pv, buy, signUp, ...rest] = datalayer.parse(snap(pushes))
  t.same(pv.consent, { ad_storage: 'granted', ad_user_data: 'granted', analytics_storage: 'granted' }, 'the default')
  t.same(buy.consent, { ad_storage: 'denied', ad_user_data: 'denied', analytics_storage: 'granted' }, 'the update, over the default')
  t.same(signUp.consent, { ad_storage: 'granted', ad_user_data: 'denied', analytics_storage: 'granted' }, 'a push\'s own consent wins for its type')
  t.same(rest, [], 'commands are no events')
  t.same(datalayer.parse(snap([{ event: 'x' }]))[0].consent, undefined, 'no command, no consent')
  const late = datalayer.parse(snap([
    ['consent', 'update', { ad_storage: 'denied' }],
    ['consent', 'default', { ad_storage: 'granted', analytics_storage: 'granted' }],
    { event: 'x' }
  ]))[0]
  t.same(late.consent, { ad_storage: 'denied', analytics_storage: 'granted' }, 'a default after an update does not undo it')
  // Google's documented pattern: a strict default for some regions, then one for everyone else.
  // Where the visitor is, the server cannot tell: no default applies, the updates do.
  const regional = datalayer.parse(snap([
    ['consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied', region: ['DE', 'FR'] }],
    ['consent', 'default', { ad_storage: 'granted', ad_user_data: 'granted' }],
    { event: 'page_view' },
    ['consent', 'update', { ad_storage: 'granted' }],
    { event: 'purchase' }
  ]))
  t.same(regional.map(e => e.consent), [undefined, { ad_storage: 'granted' }])
  const looks = [{ event: 'purchase', 0: 'consent', 1: 'update', 2: { ad_storage: 'denied' } }]
  t.ok(datalayer.claims(snap(looks)), 'a push with an event is a push, whatever its other keys')
  t.equal(datalayer.parse(snap(looks)).length, 1)
})

t.test('a gtag.js page\'s dataLayer: its event commands are its events', async t => {
  const pushes = [
    ['js', '2026-12-02T10:00:00.000Z'],
    ['config', 'G-ABC123XYZ9'],
    ['consent', 'update', { ad_storage: 'denied' }],
    ['event', 'purchase', { transaction_id: 'T-7', currency: 'EUR', value: 12.5, items: [{ item_id: 'SKU_1', price: 12.5, quantity: 1 }], coupon_note: 'x' }],
    { 0: 'event', 1: 'sign_up', 2: { method: 'email' } },
    ['event', 'no_params'],
    ['event', 'bad', 'not an object'],
    ['event', 42]
  ]
  t.ok(datalayer.claims(snap(pushes)), 'claimed: commands only')
  const events = datalayer.parse(snap(pushes))
  t.same(events.map(e => e.event_name), ['purchase', 'sign_up', 'no_params'])
  t.match(events[0], { transaction_id: 'T-7', currency: 'EUR', value: 12.5, items: [{ item_id: 'SKU_1' }], params: { coupon_note: 'x' }, consent: { ad_storage: 'denied' } })
  t.same(events[1].params, { method: 'email' })
  t.notOk(datalayer.claims(snap([['js', 'x'], ['config', 'G-1']])), 'commands with no event: not a dataLayer of events')
})

t.test('gtag set commands set what the events after them carry; config gives user_id and user_properties', async t => {
  const pushes = [
    ['js', '2026-12-02T10:00:00.000Z'],
    // Enhanced conversions: the page hands gtag the visitor's data once, for the events after it.
    ['set', 'user_data', { email: 'Jane@Example.com', phone_number: '+15551234567' }],
    ['config', 'G-ABC123XYZ9', { user_id: 'cust-88231', send_page_view: false, user_properties: { tier: 'gold', plan: 'pro' } }],
    ['config', 'AW-123456', { user_id: 'not-this-one' }],
    { 0: 'set', 1: { currency: 'EUR', cookie_flags: 'SameSite=None;Secure', 'developer_id.dZGVkNj': true, event_id: 'shared', __proto__x: 1 } },
    ['event', 'page_view'],
    ['set', 'user_properties', { plan: 'team' }],
    ['event', 'purchase', { transaction_id: 'T-9', value: 30, user_properties: { seats: 3 }, user_data: { email: 'other@example.com' } }],
    ['set', { currency: 'USD' }],
    { event: 'add_to_cart', currency: 'SEK', value: 1 }
  ]
  t.ok(datalayer.claims(snap(pushes)))
  const [pv, buy, cart, ...rest] = datalayer.parse(snap(pushes))
  t.same(rest, [], 'commands are no events')
  t.same(pv.user_data, { email_address: 'Jane@Example.com', phone_number: '+15551234567' }, 'set user_data reaches the event (raw here; tags hash it)')
  t.equal(pv.user_id, 'cust-88231', 'the GA4 config\'s user_id, not another target\'s')
  t.same(pv.user_properties, { tier: 'gold', plan: 'pro' })
  t.equal(pv.currency, 'EUR')
  t.same(pv.params, { __proto__x: 1 }, 'no tag settings, developer ids or cookie flags among the parameters')
  t.equal(pv.event_id, undefined, 'an event_id is never set for all events')
  t.same(buy.user_data, { email_address: 'other@example.com' }, 'the event\'s own user_data wins')
  t.same(buy.user_properties, { tier: 'gold', plan: 'team', seats: 3 }, 'user_properties merge by name, the later and the event\'s own win')
  t.equal(buy.currency, 'EUR')
  t.equal(cart.currency, 'SEK', 'a push\'s own field wins over a set one')
  t.equal(cart.user_id, 'cust-88231')
  const plain = datalayer.parse(snap([{ event: 'x', user_properties: { a: 'b', n: 2, bad: { nested: 1 }, inf: Infinity } }]))[0]
  t.same(plain.user_properties, { a: 'b', n: 2 }, 'a push\'s user_properties are the event\'s, scalars only')
  t.equal(plain.params, undefined, 'not a parameter')
  const before = datalayer.parse(snap([{ event: 'early' }, ['set', { user_id: 'u1' }], { event: 'late' }]))
  t.same(before.map(e => e.user_id), [undefined, 'u1'], 'a set applies to the pushes after it only')
})

t.test('consentAfter: the visitor\'s answer after the last event, for the cookies and the context', async t => {
  const after = (pushes: unknown): unknown => datalayer.consentAfter!(snap(pushes))
  const refuse = { 0: 'consent', 1: 'update', 2: { ad_storage: 'denied', ad_user_data: 'denied' } }
  t.same(after([['consent', 'default', { analytics_storage: 'granted' }], { event: 'page_view' }, refuse]), { analytics_storage: 'granted', ad_storage: 'denied', ad_user_data: 'denied' }, 'the whole state, as the page holds it')
  t.same(after([['event', 'page_view'], ['consent', 'update', { ad_storage: 'granted' }]]), { ad_storage: 'granted' }, 'after a gtag event command too')
  t.equal(after([refuse, { event: 'page_view' }]), undefined, 'an update before the last event: the event says it')
  t.equal(after([{ event: 'page_view' }]), undefined)
  t.equal(after({ event: 'page_view' }), undefined, 'one push')
  t.equal(after([{ event: 'page_view' }, ['set', { currency: 'EUR' }]]), undefined, 'other commands say nothing of consent')
  const [pv] = datalayer.parse(snap([{ event: 'page_view' }, refuse]))
  t.equal(pv.consent, undefined, 'the event keeps the consent it was made under')
})

t.test('user_data inside ecommerce is the event\'s user data, never a parameter', async t => {
  const [ev] = datalayer.parse(snap({ event: 'purchase', ecommerce: { transaction_id: 'T1', value: 5, currency: 'EUR', user_data: { email: 'jane@example.com' } } }))
  t.same(ev.user_data, { email_address: 'jane@example.com' })
  t.equal(ev.params, undefined)
  const [both] = datalayer.parse(snap({ event: 'purchase', user_data: { email: 'top@example.com' }, ecommerce: { user_data: { email: 'inner@example.com' } } }))
  t.same(both.user_data, { email_address: 'top@example.com' }, 'the top-level one wins')
  t.equal(both.params, undefined)
})

t.test('a Consent Mode answer on its own is claimed: no event, and the answer for the visitor', async t => {
  const alone = [['consent', 'update', { ad_storage: 'denied', ad_user_data: 'denied' }]]
  t.ok(datalayer.claims(snap(alone)))
  t.same(datalayer.parse(snap(alone)), [])
  t.same(datalayer.consentAfter!(snap(alone)), { ad_storage: 'denied', ad_user_data: 'denied' })
  const single = { 0: 'consent', 1: 'update', 2: { analytics_storage: 'denied' } }
  t.ok(datalayer.claims(snap(single)), 'as gtag\'s serialised arguments, not in an array')
  t.same(datalayer.consentAfter!(snap(single)), { analytics_storage: 'denied' })
  t.notOk(datalayer.claims(snap([['js', 'x'], ['set', { a: 1 }]])), 'commands with no event and no consent: not a dataLayer')
  t.notOk(datalayer.claims(snap([['consent', 'update', { ad_storage: 'denied' }], { not: 'a command' }])), 'a push that is neither an event nor a command')
})
