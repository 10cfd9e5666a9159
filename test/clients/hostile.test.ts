// Hostile input for every client: nothing may throw a plain Error, nothing may touch
// Object.prototype, and no event may carry a prototype key.
import t from 'tap'
import { parseRequest } from './fixtures/claim.js'
import type { ParsedEvent, RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'


/** The few assertions the helpers below use. */
type Asserts = Pick<typeof t, 'ok' | 'equal' | 'strictSame'>

function snap (o: Partial<RequestSnapshot>): RequestSnapshot {
  return { method: 'POST', path: '/collect', query: '', body: '', json: undefined, contentType: undefined, headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

function clean (t: Asserts): void {
  const probe = {} as Record<string, unknown>
  t.equal(probe.x, undefined, 'Object.prototype.x untouched')
  t.equal(probe.polluted, undefined, 'Object.prototype.polluted untouched')
  t.equal(probe.isAdmin, undefined, 'Object.prototype.isAdmin untouched')
  t.equal(typeof probe.constructor, 'function', 'Object.prototype.constructor untouched')
  t.equal(Object.keys(Object.prototype).length, 0)
}

function noPrototypeKeys (value: unknown, path = 'event'): string[] {
  if (value === null || typeof value !== 'object') return []
  if (Object.getPrototypeOf(value) !== Object.prototype && !Array.isArray(value)) return [`${path} has an odd prototype`]
  const bad: string[] = []
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') bad.push(`${path}.${key}`)
    bad.push(...noPrototypeKeys((value as Record<string, unknown>)[key], `${path}.${key}`))
  }
  return bad
}

/** Runs the request; returns the events or the TaglineError; any other throw fails the test. */
function attempt (t: Asserts, o: Partial<RequestSnapshot>): ParsedEvent[] | TaglineError {
  try {
    const { events } = parseRequest(snap(o))
    t.strictSame(events.flatMap(e => noPrototypeKeys(e)), [], 'no prototype keys in events')
    return events
  } catch (err) {
    t.ok(err instanceof TaglineError, `only TaglineErrors escape (got ${String(err)})`)
    if (err instanceof TaglineError) t.ok(err.statusCode >= 400 && err.statusCode < 500)
    return err as TaglineError
  } finally {
    clean(t)
  }
}


t.test('gtag: prototype parameter names', async t => {
  const events = attempt(t, { path: '/g/collect', query: 'en=x&ep.__proto__=x&ep.constructor=y&ep.prototype=z&epn.__proto__=1&up.__proto__=x&upn.constructor=1&__proto__=x&constructor=y&sst.constructor=z&ep.user_data.__proto__=x&ep.user_data.address.__proto__=x&ep.user_data.address.0.constructor=y&ep.__proto__.isAdmin=true' })
  t.ok(Array.isArray(events))
  const [ev] = events as ParsedEvent[]
  t.equal(ev.params?.['__proto__.isAdmin'], 'true', 'a dotted name is just a name')
  t.equal(ev.user_data, undefined)
})

t.test('gtag: garbage item tokens, epn.value=abc, malformed percent-encoding', async t => {
  const events = attempt(t, { path: '/g/collect', query: 'en=x&pr1=%E0%A4%A~~~zz~k~v~k0__proto__~v0polluted~prNaN&pr2=~&pr999=idX&epn.value=abc&dl=%E0%A4%A&dt=%&ep.q=%%%' }) as ParsedEvent[]
  t.equal(events.length, 1)
  t.equal(events[0].items, undefined)
  t.equal(events[0].value, undefined)
  t.equal(events[0].params?.value, 'abc')
  t.equal(typeof events[0].page_location, 'string')
})

t.test('gtag: 10 000 body lines and a hostile body', async t => {
  const err = attempt(t, { path: '/g/collect', query: 'v=2', body: 'en=x\n'.repeat(10000) })
  t.equal((err as TaglineError).code, 'invalid_event')
  attempt(t, { path: '/g/collect', query: 'v=2', body: '{"__proto__":{"polluted":1}}' })
  attempt(t, { path: '/g/collect', query: 'en=x', body: '\u0000\uffff%%&&==&=&en' })
  attempt(t, { path: '/g/collect', query: '&&&===&en=x&=&&' })
})

t.test('datalayer: prototype keys everywhere', async t => {
  const json = JSON.parse('{"event":"purchase","__proto__":{"polluted":1},"constructor":{"prototype":{"isAdmin":true}},"ecommerce":{"__proto__":{"x":1},"items":[{"__proto__":{"x":1},"item_id":"a","constructor":"c"}]},"user_data":{"__proto__":{"x":1},"address":{"__proto__":{"x":1}}}}')
  const events = attempt(t, { json }) as ParsedEvent[]
  t.strictSame(events, [{ event_name: 'purchase', items: [{ item_id: 'a' }] }])
})

t.test('datalayer: wrong types in every slot', async t => {
  attempt(t, { json: { event: 'x', ecommerce: 'str', user_data: [1], items: 5, value: {}, event_id: {} } })
  attempt(t, { json: { event: 'x', ecommerce: { items: [null, 1, 'a', [], { price: {} }] } } })
  attempt(t, { json: [{ event: 'x' }, ...Array.from({ length: 10000 }, () => ({ event: 'y' }))] })
})

t.test('mp: prototype keys and wrong types', async t => {
  const json = JSON.parse('{"client_id":"1.2","user_id":"u","__proto__":{"polluted":1},"user_properties":{"__proto__":{"value":"x"},"constructor":{"value":"y"}},"user_data":{"__proto__":{"x":1},"address":[{"__proto__":{"x":1}}]},"consent":{"__proto__":{"x":1}},"events":[{"name":"purchase","params":{"__proto__":{"x":1},"constructor":"y","prototype":"z","items":[{"__proto__":{"x":1},"item_id":"a"}]}}]}')
  const result = attempt(t, { path: '/mp/collect', json })
  t.ok(result instanceof TaglineError, 'prototype names are not valid MP names')
  attempt(t, { path: '/mp/collect', json: { client_id: '1.2', events: [{ name: 'x', params: { items: [{ item_id: 'a', toString: 'x', hasOwnProperty: 'y' }] } }], user_properties: { toString: { value: 'x' } } } })
  attempt(t, { path: '/mp/collect', json: { events: [null, 5, 'x', [], {}] } })
  attempt(t, { path: '/mp/collect', json: 'str' })
  attempt(t, { path: '/mp/collect', json: { client_id: '1.2', events: Array.from({ length: 10000 }, () => ({ name: 'e' })) } })
})

t.test('json: {"event_name": 5} and prototype keys as param names', async t => {
  t.equal((attempt(t, { json: { event_name: 5 } }) as TaglineError).code, 'invalid_event')
  const json = JSON.parse('{"event_name":"x","params":{"__proto__":{"polluted":1},"constructor":"c","prototype":"p","toString":"t","hasOwnProperty":"h"},"user_properties":{"__proto__":"x","constructor":"c"},"items":[{"__proto__":{"x":1},"constructor":"c","item_id":"a"}]}')
  const events = attempt(t, { json }) as ParsedEvent[]
  t.strictSame(events, [{ event_name: 'x', params: { toString: 't', hasOwnProperty: 'h' }, user_properties: {}, items: [{ item_id: 'a' }] }])
  const top = attempt(t, { json: JSON.parse('{"event_name":"x","__proto__":{"polluted":1},"constructor":{"prototype":{"isAdmin":true}}}') }) as TaglineError
  t.strictSame(top.details.map(d => d.path), ['events[0].__proto__', 'events[0].constructor'])
  attempt(t, { json: { events: [{ event_name: 'x' }, null, [], 5, { event_name: ['a'] }] } })
  attempt(t, { json: Array.from({ length: 10000 }, () => ({ event_name: 'e' })) })
})
