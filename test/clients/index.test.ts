import t from 'tap'
import { clients } from '../../clients/index.js'
import { parseRequest } from './fixtures/claim.js'
import type { RequestSnapshot } from '../../clients/types.js'
import { TaglineError } from '../../common/errors.js'


function snap (o: Partial<RequestSnapshot>): RequestSnapshot {
  return { method: 'POST', path: '/collect', query: '', body: '', json: undefined, contentType: undefined, headers: {}, ip: '203.0.113.7', cookies: {}, trusted: false, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

function failure (fn: () => unknown): TaglineError {
  try { fn() } catch (err) { if (err instanceof TaglineError) return err; throw err }
  throw new Error('expected a TaglineError')
}

t.test('claim order is gtag, mp, datalayer, json', async t => {
  t.strictSame(clients.map(c => c.name), ['gtag', 'mp', 'datalayer', 'json'])
})

t.test('each format reaches its client on /collect', async t => {
  t.equal(parseRequest(snap({ query: 'v=2&tid=G-1&en=page_view' })).client, 'gtag')
  t.equal(parseRequest(snap({ json: { client_id: '1.2', events: [{ name: 'purchase' }] } })).client, 'mp')
  t.equal(parseRequest(snap({ json: { event: 'purchase', ecommerce: { value: 1 } } })).client, 'datalayer')
  t.equal(parseRequest(snap({ json: { event_name: 'purchase' } })).client, 'json')
  t.equal(parseRequest(snap({ json: { events: [{ event_name: 'purchase' }] } })).client, 'json')
  t.equal(parseRequest(snap({ path: '/g/collect', method: 'GET', query: 'en=page_view' })).client, 'gtag')
  t.equal(parseRequest(snap({ path: '/mp/collect', json: { client_id: '1.2', events: [] } })).client, 'mp')
})

t.test('the route path decides before the body shape', async t => {
  const r = parseRequest(snap({ path: '/g/collect', query: 'en=page_view', json: { event_name: 'x' } }))
  t.equal(r.client, 'gtag')
  t.equal(r.events[0].event_name, 'page_view')
  t.equal(failure(() => parseRequest(snap({ path: '/mp/collect', json: { event_name: 'x' } }))).code, 'invalid_measurement_protocol')
})

t.test('nothing claims → unknown_format', async t => {
  for (const o of [{}, { json: { hello: 'world' } }, { json: [] }, { json: null }, { body: 'hello', query: 'a=b' }]) {
    const err = failure(() => parseRequest(snap(o)))
    t.equal(err.code, 'unknown_format')
    t.equal(err.statusCode, 400)
  }
})

t.test('unexpected exceptions become a 400, never a plain Error', async t => {
  // Claimed by json (it has an own event_name), then blows up when the client reads it.
  const trap = Object.defineProperty({}, 'event_name', { get () { throw new Error('boom') }, enumerable: true })
  const err = failure(() => parseRequest(snap({ json: trap })))
  t.equal(err.code, 'bad_request')
  t.equal(err.statusCode, 400)
  t.equal(err.message, 'The json request could not be read.')
})

t.test('a claim test that throws is treated as "not mine"', async t => {
  const json = new Proxy({}, { get () { throw new Error('boom') }, has () { throw new Error('boom') }, getOwnPropertyDescriptor () { throw new Error('boom') } })
  t.equal(failure(() => parseRequest(snap({ json }))).code, 'unknown_format')
})
