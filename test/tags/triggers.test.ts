import t from 'tap'
import { ConditionError, compileCondition, compilePath, compileTagDecision } from '../../tags/triggers.js'
import type { ConditionSpec, TriggerRefSpec } from '../../schemas/config.js'
import type { TaglineEvent } from '../../schemas/event.js'
import type { Predicate } from '../../tags/triggers.js'

const ev = (e: Record<string, unknown>): TaglineEvent => ({ event_name: 'page_view', ...e }) as TaglineEvent
const holds = (spec: unknown, e: Record<string, unknown>): boolean => compileCondition(spec as ConditionSpec)(ev(e))

const purchase = ev({
  event_name: 'purchase',
  value: 750,
  currency: 'EUR',
  page_location: 'https://shop.example/checkout?x=1',
  consent: { ad_storage: 'granted', analytics_storage: 'denied' },
  params: { plan: 'pro', seats: '12', tags: ['vip', 'b2b'], codes: [1, 2, 3], flag: true, nothing: null },
  items: [{ item_id: 'SKU-1', price: 10 }, { item_id: 'SKU-2', price: 20 }]
})
const on = (spec: unknown): boolean => compileCondition(spec as ConditionSpec)(purchase)

t.test('paths', async t => {
  t.equal(compilePath('event_name')(purchase), 'purchase')
  t.equal(compilePath('consent.ad_storage')(purchase), 'granted')
  t.equal(compilePath('params.plan')(purchase), 'pro')
  t.equal(compilePath('items.0.item_id')(purchase), 'SKU-1')
  t.equal(compilePath('items.1.price')(purchase), 20)
  t.equal(compilePath('items.2.item_id')(purchase), undefined, 'index past the end')
  t.equal(compilePath('items.first')(purchase), undefined, 'arrays only take indices')
  t.equal(compilePath('items.length')(purchase), undefined, 'no array length')
  t.equal(compilePath('params.plan.length')(purchase), undefined, 'strings have no fields')
  t.equal(compilePath('consent.nope.deeper')(purchase), undefined)
  t.equal(compilePath('')(purchase), undefined)
  t.equal(compilePath('params..plan')(purchase), undefined)
})

t.test('paths never walk the prototype', async t => {
  for (const p of ['__proto__', 'constructor', 'params.constructor', 'params.__proto__', 'toString', 'params.hasOwnProperty', 'constructor.name', 'items.constructor']) {
    t.equal(compilePath(p)(purchase), undefined, p)
  }
  const own = JSON.parse('{"event_name":"x","__proto__":{"polluted":1},"params":{"constructor":"c"}}')
  t.equal(compilePath('__proto__.polluted')(own), undefined, 'even an own __proto__ key')
  t.equal(compilePath('params.constructor')(own), undefined, 'even an own constructor key')
  t.equal(holds({ 'constructor.name': 'Object' }, {}), false)
  t.equal(holds({ toString: { exists: true } }, {}), false)
  t.equal(holds({ toString: { exists: false } }, {}), true)
})

t.test('scalar matcher and eq', async t => {
  t.equal(on({ event_name: 'purchase' }), true)
  t.equal(on({ event_name: 'refund' }), false)
  t.equal(on({ event_name: { eq: 'purchase' } }), true)
  t.equal(on({ value: 750 }), true)
  t.equal(on({ value: '750' }), true, 'numeric string matches a number')
  t.equal(on({ value: '750.0' }), true, 'compared as numbers')
  t.equal(on({ 'params.seats': 12 }), true, 'number matches a numeric string')
  t.equal(on({ 'params.seats': '12' }), true)
  t.equal(on({ 'params.seats': ' 12' }), false, 'not numeric: strict')
  t.equal(on({ 'params.plan': 0 }), false, 'non-numeric string is not 0')
  t.equal(on({ 'params.flag': true }), true)
  t.equal(on({ 'params.flag': 'true' }), false, 'booleans compare strictly')
  t.equal(on({ 'params.flag': 1 }), false)
  t.equal(on({ 'params.nothing': null }), true)
  t.equal(on({ 'params.missing': null }), false, 'missing is not null')
  t.equal(on({ 'params.missing': { eq: 'x' } }), false, 'eq on a missing field')
  t.equal(on({ currency: 'eur' }), false, 'case-sensitive')
})

t.test('ne', async t => {
  t.equal(on({ event_name: { ne: 'refund' } }), true)
  t.equal(on({ event_name: { ne: 'purchase' } }), false)
  t.equal(on({ value: { ne: '750' } }), false, 'numeric comparison')
  t.equal(on({ 'params.missing': { ne: 'x' } }), true, 'missing field is not equal')
})

t.test('in and nin', async t => {
  t.equal(on({ event_name: { in: ['view_item', 'purchase'] } }), true)
  t.equal(on({ event_name: { in: ['view_item'] } }), false)
  t.equal(on({ value: { in: [1, '750'] } }), true, 'numeric string in the list')
  t.equal(on({ 'params.seats': { in: [12] } }), true, 'number in the list, numeric string in the event')
  t.equal(on({ 'params.seats': { in: ['12.0'] } }), false, 'two strings compare strictly')
  t.equal(on({ 'params.flag': { in: [true] } }), true)
  t.equal(on({ 'params.missing': { in: ['a', null] } }), false, 'in on a missing field')
  t.equal(on({ event_name: { nin: ['refund'] } }), true)
  t.equal(on({ event_name: { nin: ['purchase'] } }), false)
  t.equal(on({ 'params.missing': { nin: ['a'] } }), true, 'nin on a missing field')
})

t.test('gt, gte, lt, lte', async t => {
  t.equal(on({ value: { gt: 749 } }), true)
  t.equal(on({ value: { gt: 750 } }), false)
  t.equal(on({ value: { gte: 750 } }), true)
  t.equal(on({ value: { lt: 751 } }), true)
  t.equal(on({ value: { lt: 750 } }), false)
  t.equal(on({ value: { lte: 750 } }), true)
  t.equal(on({ value: { gte: 500, lt: 1000 } }), true, 'a range: every operator must hold')
  t.equal(on({ value: { gte: 500, lt: 600 } }), false)
  t.equal(on({ 'params.seats': { gt: 10 } }), true, 'numeric string')
  t.equal(on({ 'params.plan': { gt: 0 } }), false, 'non-numeric string')
  t.equal(on({ 'params.plan': { lt: 0 } }), false)
  t.equal(on({ 'params.flag': { gte: 0 } }), false, 'boolean')
  t.equal(on({ 'params.nothing': { lte: 0 } }), false, 'null is not 0')
  t.equal(on({ items: { gte: 0 } }), false, 'array')
  t.equal(on({ 'params.missing': { gte: 0 } }), false, 'missing field')
  t.equal(on({ 'params.missing': { lt: 0 } }), false)
})

t.test('contains, startsWith, endsWith', async t => {
  t.equal(on({ page_location: { contains: '/checkout' } }), true, 'substring')
  t.equal(on({ page_location: { contains: '/cart' } }), false)
  t.equal(on({ 'params.tags': { contains: 'vip' } }), true, 'array element')
  t.equal(on({ 'params.tags': { contains: 'vi' } }), false, 'array: element equality, not substring')
  t.equal(on({ 'params.codes': { contains: '2' } }), true, 'numeric string finds a number element')
  t.equal(on({ value: { contains: '75' } }), false, 'not on numbers')
  t.equal(on({ 'params.missing': { contains: 'x' } }), false)
  t.equal(on({ page_location: { startsWith: 'https://shop.' } }), true)
  t.equal(on({ page_location: { startsWith: 'http://' } }), false)
  t.equal(on({ page_location: { endsWith: 'x=1' } }), true)
  t.equal(on({ page_location: { endsWith: 'x=2' } }), false)
  t.equal(on({ value: { startsWith: '7' } }), false, 'not on numbers')
  t.equal(on({ 'params.missing': { startsWith: '' } }), false)
  t.equal(on({ 'params.missing': { endsWith: '' } }), false)
})

t.test('matches', async t => {
  t.equal(on({ page_location: { matches: '^https://shop\\.example/' } }), true)
  t.equal(on({ page_location: { matches: '^https://staging\\.' } }), false)
  t.equal(on({ value: { matches: '^7' } }), false, 'not on numbers')
  t.equal(on({ items: { matches: '.' } }), false, 'not on arrays')
  t.equal(on({ 'params.missing': { matches: '.*' } }), false, 'not on a missing field')
  const p = compileCondition({ page_location: { matches: 'checkout' } } as ConditionSpec)
  t.equal(p(purchase) && p(purchase) && p(purchase), true, 'no lastIndex state between events')
  t.throws(() => compileCondition({ page_location: { matches: '(' } } as ConditionSpec),
    { name: 'ConditionError', code: 'bad_regex', path: ['page_location', 'matches'], message: /^invalid regular expression \(RE2 syntax.*missing closing \)/ })
  // RE2, as in Google Tag Manager: what a JavaScript pattern string usually holds works.
  t.equal(on({ page_location: { matches: '(?i)^HTTPS://SHOP\\.example/(checkout|cart)' } }), true, '(?i) for case')
  t.equal(on({ page_location: { matches: 'shop.example/check' } }), true, 'a / needs no escape')
  t.equal(on({ page_location: { matches: '(?<host>shop)\\.example' } }), true, 'named groups')
  t.equal(holds({ page_title: { matches: '\\u00e9t\\u00e9' } }, { page_title: 'Soldes d\'\u00e9t\u00e9' }), true, '\\u escapes')
  t.equal(holds({ page_title: { matches: '\\\\k<' } }, { page_title: 'a\\k<b' }), true, 'a backslash then k< is text')
  t.equal(holds({ page_title: { matches: 'a{1000}' } }, { page_title: 'a'.repeat(1000) }), true)
  t.throws(() => compileCondition({ page_title: { matches: 'a{1001}' } } as ConditionSpec), { code: 'bad_regex', message: /repeat counts up to 1000.*invalid repeat count/ })
  for (const bad of ['(?=x)a', '(?!staging)', '(?<=a)b', '(a)\\1', '(?<n>a)\\k<n>']) {
    t.throws(() => compileCondition({ page_location: { matches: bad } } as ConditionSpec), { code: 'bad_regex', message: /no lookarounds, no backreferences/ }, bad)
  }
})

t.test('exists', async t => {
  t.equal(on({ currency: { exists: true } }), true)
  t.equal(on({ currency: { exists: false } }), false)
  t.equal(on({ 'params.missing': { exists: true } }), false)
  t.equal(on({ 'params.missing': { exists: false } }), true)
  t.equal(on({ 'params.nothing': { exists: true } }), true, 'null is present')
  t.equal(on({ 'params.missing': { exists: false, ne: 'x', nin: ['y'] } }), true)
})

t.test('all, any, not and nesting', async t => {
  t.equal(on({ all: [{ event_name: 'purchase' }, { value: { gte: 500 } }] }), true)
  t.equal(on({ all: [{ event_name: 'purchase' }, { value: { gte: 5000 } }] }), false)
  t.equal(on({ any: [{ event_name: 'refund' }, { value: { gte: 500 } }] }), true)
  t.equal(on({ any: [{ event_name: 'refund' }, { value: { gte: 5000 } }] }), false)
  t.equal(on({ not: { event_name: 'refund' } }), true)
  t.equal(on({ not: { event_name: 'purchase' } }), false)
  t.equal(on({ event_name: 'purchase', any: [{ currency: 'USD' }, { currency: 'EUR' }] }), true, 'combinators beside fields')
  t.equal(on({ event_name: 'refund', any: [{ currency: 'EUR' }] }), false, 'everything in the object must hold')
  t.equal(on({ event_name: 'purchase', not: { 'consent.analytics_storage': 'denied' } }), false)
  t.equal(on({ all: [{ any: [{ currency: 'USD' }, { not: { currency: 'GBP' } }] }, { not: { any: [{ value: 1 }, { value: 2 }] } }] }), true, 'nested')
  t.equal(on({ not: { not: { event_name: 'purchase' } } }), true)
  const three = { all: [{ event_name: 'purchase' }, { currency: 'EUR' }, { value: 750 }] }
  t.equal(on(three), true)
  t.equal(on({ ...three, value: 1 }), false)
  t.equal(on({ any: [{ value: 1 }, { value: 2 }, { value: 3 }, { value: 750 }] }), true)
})

t.test('malformed conditions throw ConditionError with a path', async t => {
  const bad = (spec: unknown, path: string, code = 'invalid_condition'): void => {
    let caught: unknown
    try { compileCondition(spec as ConditionSpec) } catch (e) { caught = e }
    t.ok(caught instanceof ConditionError, `${path}: throws a ConditionError`)
    t.match(caught, { code, path: path === '' ? [] : path.split('.').map(s => /^\d+$/.test(s) ? Number(s) : s) }, path)
  }
  bad({}, '')
  bad([], '')
  bad({ all: [] }, 'all')
  bad({ any: 'x' }, 'any')
  bad({ not: 'x' }, 'not')
  bad({ all: [{ x: { foo: 1 } }] }, 'all.0.x.foo')
  bad({ x: {} }, 'x')
  bad({ x: [1] }, 'x')
  bad({ x: { gt: '5' } }, 'x.gt')
  bad({ x: { in: 'a' } }, 'x.in')
  bad({ x: { exists: 'yes' } }, 'x.exists')
  bad({ any: [{ x: 1 }, { y: { matches: '[' } }] }, 'any.1.y.matches', 'bad_regex')
})

t.test('fireOn / blockOn decisions', async t => {
  const named = new Map<string, Predicate>([
    ['purchase', e => e.event_name === 'purchase'],
    ['staging', e => (e.page_location ?? '').startsWith('https://staging.')],
    ['denied', e => e.consent?.ad_storage === 'denied']
  ])
  const decide = (fireOn: unknown, blockOn: unknown, e: Record<string, unknown>) =>
    compileTagDecision(fireOn as TriggerRefSpec[] | undefined, blockOn as TriggerRefSpec[] | undefined, named)(ev(e))

  t.same(decide(undefined, undefined, {}), { fire: true, trigger: 'all' }, 'fireOn defaults to [all]')
  t.same(decide(['all'], [], {}), { fire: true, trigger: 'all' }, 'all is built in')
  t.same(decide(['purchase'], undefined, { event_name: 'purchase' }), { fire: true, trigger: 'purchase' })
  t.same(decide(['purchase'], undefined, {}), { fire: false, reason: 'not_triggered' })
  t.same(decide(['purchase', { event_name: 'page_view' }], undefined, {}), { fire: true, trigger: 'fireOn[1]' }, 'inline conditions are named by position')
  t.same(decide(['purchase', 'all'], undefined, { event_name: 'purchase' }), { fire: true, trigger: 'purchase' }, 'the first trigger that holds names the firing')
  t.same(decide(['all', 'purchase'], undefined, { event_name: 'purchase' }), { fire: true, trigger: 'all' })
  t.same(decide(['purchase'], ['staging'], { event_name: 'purchase', page_location: 'https://staging.shop/' }),
    { fire: false, reason: 'blocked', trigger: 'staging' }, 'block wins')
  t.same(decide(['all'], ['staging', { 'consent.ad_storage': 'denied' }], { consent: { ad_storage: 'denied' } }),
    { fire: false, reason: 'blocked', trigger: 'blockOn[1]' }, 'inline block named by position')
  t.same(decide(['all'], ['denied', { 'consent.ad_storage': 'denied' }], { consent: { ad_storage: 'denied' } }),
    { fire: false, reason: 'blocked', trigger: 'denied' }, 'the first block that holds is named')
  t.same(decide(['purchase'], ['staging'], { event_name: 'page_view', page_location: 'https://staging.shop/' }),
    { fire: false, reason: 'not_triggered' }, 'not triggered wins over blocked when nothing fires')
  t.same(decide(['all'], ['all'], {}), { fire: false, reason: 'blocked', trigger: 'all' })

  const allOnly = compileTagDecision(undefined, undefined, named)
  t.equal(allOnly(ev({})), allOnly(ev({ event_name: 'x' })), 'decisions are shared, not allocated per event')

  t.throws(() => compileTagDecision(['nope'], undefined, named), { name: 'ConditionError', code: 'unknown_trigger', path: ['fireOn', 0] })
  t.throws(() => compileTagDecision(['all'], [{ x: { matches: '(' } } as TriggerRefSpec], named), { code: 'bad_regex', path: ['blockOn', 0, 'x', 'matches'] })
})

t.test('a visitor\'s long values cost comparisons and patterns time in proportion, not more', async t => {
  // A long run of digits then a non-digit: the numeric reading backtracked quadratically (seconds
  // at 64 KB); a test timeout, not a timer, is what would catch a return of that.
  const digits = '1'.repeat(1_000_000)
  t.equal(holds({ 'params.qty': { gt: 0 } }, { params: { qty: `${digits}x` } }), false, 'digits then a letter: not a number')
  t.equal(holds({ 'params.qty': { gt: 0 } }, { params: { qty: digits } }), true, 'digits alone: a (huge) number')
  for (const [s, n] of [['1', true], ['1.', true], ['1.5', true], ['.5', true], ['-1e5', true], ['1.5E-3', true], ['1e', false], ['e5', false], ['.', false], ['-', false], ['1..2', false], ['0x1f', false], [' 1', false], ['', false]] as const) {
    t.equal(holds({ 'params.n': { gte: -Infinity } }, { params: { n: s } }), n, `${JSON.stringify(s)} ${n ? 'is' : 'is not'} numeric`)
  }
  // matches reads the whole value in time linear in it (RE2), whatever the pattern: what comes
  // late in a long URL is seen, and patterns that backtrack do not.
  const long = `https://shop.example/${'a'.repeat(200_000)}/checkout`
  t.equal(holds({ page_location: { matches: '.*checkout' } }, { page_location: long }), true, 'the end of a 200 KB value is read')
  t.equal(holds({ page_location: { matches: '^https://shop\\.example/' } }, { page_location: long }), true)
  t.equal(holds({ page_location: { matches: '(a+)+$' } }, { page_location: long }), false, 'a nested quantifier: no match, and no backtracking')
  t.equal(holds({ page_location: { matches: '(a+)+/checkout$' } }, { page_location: long }), true)
  const leak = `https://shop.example/account?${'x'.repeat(5000)}&email=jane%40example.com`
  t.equal(holds({ page_location: { matches: '[?&]email=' } }, { page_location: leak }), true, 'e-mail in a long URL: a blockOn sees it')
})
