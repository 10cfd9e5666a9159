import t from 'tap'
import { ADD_TO_CART_ITEM } from './fixtures/add-to-cart.js'
import { decodeItem, itemIndex, normalizeItem, normalizeItems } from '../../clients/items.js'
import { toNumber } from '../../common/guards.js'

t.test('decodes every token of the add_to_cart hit\'s item, custom k0/v0 pair included', async t => {
  const raw = 'idSKU_12345~nmStan and Friends Tee~afGoogle Merchandise Store~cpSUMMER_FUN~ds2.22~lp0~brGoogle~caApparel~c2Adult~c3Shirts~c4Crew~c5Short sleeve~lirelated_products~lnRelated Products~vagreen~loChIJIQBpAG2ahYAR_6128GcTUEo~pr10.01~qt3~k0stock_status~v0in_stock'
  t.strictSame(decodeItem(raw), ADD_TO_CART_ITEM)
})

t.test('promotion tokens and the ca2 alias', async t => {
  t.strictSame(decodeItem('idA~piP1~pnSummer~cnBanner~csslot_1~ca2Adult'), {
    item_id: 'A', promotion_id: 'P1', promotion_name: 'Summer', creative_name: 'Banner', creative_slot: 'slot_1', item_category2: 'Adult'
  })
})

t.test('custom pairs: multi-digit indices and values that start with digits', async t => {
  t.strictSame(decodeItem('idA~k0size~v042~k10colour~v10red~k1fit~v1slim'), { item_id: 'A', size: '42', colour: 'red', fit: 'slim' })
  t.strictSame(decodeItem('idA~v0orphan'), { item_id: 'A' }, 'a value without its key is dropped')
  t.strictSame(decodeItem('idA~k0price~v0free'), { item_id: 'A' }, 'a custom pair never overrides a standard key')
})

t.test('garbage tokens are skipped; non-numeric numbers dropped; empty items are undefined', async t => {
  t.strictSame(decodeItem('idA~zz9~~x~prabc~qt~k0~v0'), { item_id: 'A' })
  t.equal(decodeItem('~~~'), undefined)
  t.equal(decodeItem(''), undefined)
  t.equal(decodeItem('prNaN~qtInfinity'), undefined)
})

t.test('itemIndex accepts pr1..pr200 only', async t => {
  t.equal(itemIndex('pr1'), 1)
  t.equal(itemIndex('pr200'), 200)
  t.equal(itemIndex('pr201'), 0)
  t.equal(itemIndex('pr0'), 0)
  t.equal(itemIndex('pr01'), 0)
  t.equal(itemIndex('pr'), 0)
  t.equal(itemIndex('prx'), 0)
  t.equal(itemIndex('pr1x'), 0)
  t.equal(itemIndex('pscdl'), 0)
})

t.test('toNumber: finite numbers and numeric strings only', async t => {
  t.equal(toNumber('10.01'), 10.01)
  t.equal(toNumber(3), 3)
  t.equal(toNumber(''), undefined)
  t.equal(toNumber('  '), undefined)
  t.equal(toNumber('abc'), undefined)
  t.equal(toNumber('Infinity'), undefined)
  t.equal(toNumber(NaN), undefined)
  t.equal(toNumber(null), undefined)
  t.equal(toNumber(true), undefined)
})

t.test('normalizeItem converts numeric strings, stringifies ids, keeps scalar custom keys', async t => {
  t.strictSame(normalizeItem({ item_id: 123, item_name: 'Tee', price: '10.01', quantity: '3', discount: 'n/a', index: 2, size: 'M', in_stock: true, nested: { a: 1 }, nothing: null }), {
    item_id: '123', item_name: 'Tee', price: 10.01, quantity: 3, index: 2, size: 'M', in_stock: true
  })
  t.equal(normalizeItem('SKU'), undefined)
  t.equal(normalizeItem([1]), undefined)
  t.equal(normalizeItem({}), undefined)
  t.same(normalizeItems([{ item_id: 'a' }, 5, null, { item_id: 'b' }]), [{ item_id: 'a' }, { item_id: 'b' }])
  t.equal(normalizeItems('x'), undefined)
  t.equal(normalizeItems(Array.from({ length: 250 }, (_, i) => ({ item_id: String(i) })))?.length, 200)
})

t.test('normalizeItem never copies prototype keys', async t => {
  const raw = JSON.parse('{"item_id":"a","__proto__":{"polluted":1},"constructor":"x","prototype":"y"}')
  const item = normalizeItem(raw) as Record<string, unknown>
  t.strictSame(Object.keys(item), ['item_id'])
  t.equal(Object.getPrototypeOf(item), Object.prototype)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.strictSame(decodeItem('idA~k0__proto__~v0x~k1constructor~v1y'), { item_id: 'A' })
})
