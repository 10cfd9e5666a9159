import t from 'tap'
import { contentsOf, valueOf, currencyOf, numItems, isMissingCurrency } from '../../tags/commerce.js'
import type { TaglineEvent } from '../../schemas/event.js'

// Loosely typed: item currency is a GA4 custom item key the schema allows but does not name.
const ev = (e: Record<string, unknown>): TaglineEvent => ({ event_name: 'purchase', ...e }) as TaglineEvent

t.test('contentsOf: items with an item_id only, fields renamed', async t => {
  const e = ev({
    items: [
      { item_id: 'SKU1', item_name: 'Shirt', item_category: 'Apparel', item_brand: 'Acme', price: 10.5, quantity: 2 },
      { item_name: 'No id' },
      { item_id: '  ', price: 1 },
      { item_id: 'SKU2' },
      { item_id: 77 as any, price: Number.NaN, quantity: 'x' as any }
    ]
  })
  t.same(contentsOf(e), [
    { id: 'SKU1', quantity: 2, item_price: 10.5, title: 'Shirt', category: 'Apparel', brand: 'Acme' },
    { id: 'SKU2' },
    { id: '77' }
  ])
  t.same(contentsOf(ev({})), [])
  t.same(contentsOf(ev({ items: 'nope' as any })), [])
  t.same(contentsOf(ev({ items: [null, 3] as any })), [])
})

t.test('valueOf: event value, else Σ price × qty when every item is priced', async t => {
  t.equal(valueOf(ev({ value: 42, items: [{ item_id: 'a', price: 1 }] })), 42)
  t.equal(valueOf(ev({ value: 0 })), 0)
  t.equal(valueOf(ev({ items: [{ item_id: 'a', price: 10.5, quantity: 2 }, { item_id: 'b', price: 1 }] })), 22)
  t.equal(valueOf(ev({ items: [{ item_id: 'a', price: 0.1 }, { item_id: 'b', price: 0.2 }] })), 0.3, 'float noise rounded')
  t.equal(valueOf(ev({ items: [{ item_id: 'a', price: 10 }, { item_id: 'b' }] })), undefined, 'one unpriced item')
  t.equal(valueOf(ev({ items: [] })), undefined)
  t.equal(valueOf(ev({})), undefined)
  t.equal(valueOf(ev({ value: Number.NaN, items: [{ price: 3, quantity: 3 }] })), 9, 'non-finite value ignored')
})

t.test('currencyOf: upper-cased ISO 4217, event first then items', async t => {
  t.equal(currencyOf(ev({ currency: 'usd' })), 'USD')
  t.equal(currencyOf(ev({ currency: ' eur ' })), 'EUR')
  t.equal(currencyOf(ev({ items: [{ item_id: 'a', currency: 'gbp' }] })), 'GBP')
  t.equal(currencyOf(ev({ currency: 'dollars', items: [{ item_id: 'a' }, { item_id: 'b', currency: 'jpy' }] })), 'JPY')
  t.equal(currencyOf(ev({ currency: '' })), undefined)
  t.equal(currencyOf(ev({ currency: 5 as any })), undefined)
  t.equal(currencyOf(ev({})), undefined)
})

t.test('numItems: Σ quantity, 1 per item without one', async t => {
  t.equal(numItems(ev({ items: [{ item_id: 'a', quantity: 3 }, { item_id: 'b' }, { item_name: 'c', quantity: 2 }] })), 6)
  t.equal(numItems(ev({ items: [{ quantity: -1 }] })), 1)
  t.equal(numItems(ev({ items: [] })), undefined)
  t.equal(numItems(ev({})), undefined)
})

t.test('isMissingCurrency', async t => {
  t.equal(isMissingCurrency(ev({ value: 10 })), true)
  t.equal(isMissingCurrency(ev({ items: [{ item_id: 'a', price: 5 }] })), true, 'computed value counts')
  t.equal(isMissingCurrency(ev({ value: 10, currency: 'EUR' })), false)
  t.equal(isMissingCurrency(ev({ items: [{ item_id: 'a', price: 5, currency: 'EUR' }] })), false)
  t.equal(isMissingCurrency(ev({})), false, 'no value, nothing missing')
  t.equal(isMissingCurrency(ev({ items: [{ item_id: 'a' }] })), false)
})

t.test('sums past the largest number give no value, never Infinity (which JSON writes as null)', async t => {
  const huge = { event_name: 'purchase', items: [{ item_id: 'A', price: 1e303, quantity: 1e6 }, { item_id: 'B', price: 1e308, quantity: 10 }] } as any
  t.equal(valueOf(huge), undefined)
  t.equal(numItems({ event_name: 'begin_checkout', items: [{ item_id: 'A', quantity: 1e308 }, { item_id: 'B', quantity: 1e308 }] } as any), undefined)
  t.equal(valueOf({ event_name: 'purchase', items: [{ item_id: 'A', price: 1e303 }] } as any), 1e303, 'large but finite: kept (no rounding overflow)')
  t.equal(valueOf({ event_name: 'purchase', items: [{ item_id: 'A', price: 0.1 }, { item_id: 'B', price: 0.2 }] } as any), 0.3)
})
