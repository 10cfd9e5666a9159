// Bad input of every kind: a JSON 4xx `{ error, message, details }`, never a 5xx, never a crash.
import t, { type Test } from 'tap'
import { gzipSync } from 'node:zlib'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { harness, drained, json, gtagQuery, metric } from './fixtures/harness.js'

/** The shape of every error answer, compared in one assertion. */
function errorShape (res: LightMyRequestResponse): { status: number, type: string, error: unknown, message: string, details: string, keys: string } {
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(res.body) } catch { body = { error: `not JSON: ${res.body.slice(0, 200)}` } }
  return {
    status: res.statusCode,
    type: String(res.headers['content-type']).split(';')[0],
    error: body.error,
    message: typeof body.message,
    details: Array.isArray(body.details) ? 'array' : typeof body.details,
    keys: Object.keys(body).sort().join(',')
  }
}

function isErrorBody (t: Test, res: LightMyRequestResponse, status: number, code: string, what: string): void {
  t.same(errorShape(res), { status, type: 'application/json', error: code, message: 'string', details: 'array', keys: 'details,error,message' }, `${what} → ${status} ${code}`)
}

t.test('each kind of bad input has its error', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  bodyLimit: 2048\n' })
  t.teardown(h.close)
  const inject = async (o: InjectOptions): Promise<LightMyRequestResponse> => await h.app.inject(o)
  const jsonPost = async (url: string, payload: string | Buffer): Promise<LightMyRequestResponse> =>
    await inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })

  isErrorBody(t, await jsonPost('/collect', '{"event_name": "x",'), 400, 'bad_json', 'truncated JSON')
  isErrorBody(t, await jsonPost('/collect', '{bad}'), 400, 'bad_json', 'not JSON at all')
  isErrorBody(t, await jsonPost('/mp/collect', '{"client_id":'), 400, 'bad_json', 'bad JSON on /mp/collect')
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'text/plain' }, payload: '[{"event_name":' }), 400, 'bad_json', 'JSON-looking text/plain')

  // wrong types
  const wrong = await jsonPost('/collect', JSON.stringify({ event_name: 'x', value: 'ten', items: {}, params: 5, consent: { ad_storage: 'maybe' } }))
  isErrorBody(t, wrong, 400, 'invalid_event', 'wrong types')
  const paths = json(wrong).details.map((d: { path: string }) => d.path)
  t.ok(paths.includes('events[0].value'), 'value named')
  t.ok(paths.includes('events[0].items'), 'items named')
  t.ok(paths.includes('events[0].params'), 'params named')
  t.ok(paths.includes('events[0].consent.ad_storage'), 'consent named')
  isErrorBody(t, await jsonPost('/collect', JSON.stringify({ event_name: '' })), 400, 'invalid_event', 'empty event name')
  isErrorBody(t, await jsonPost('/collect', JSON.stringify([{ event_name: 'a' }, 5])), 400, 'invalid_event', 'a non-object in an event array')
  isErrorBody(t, await jsonPost('/mp/collect', JSON.stringify({ client_id: 5, events: 'x' })), 400, 'invalid_measurement_protocol', 'MP wrong types')
  for (const body of ['"text"', '42', 'null', 'true', '[]', '[null]', '{}', '{"events":[]}', '{"event": 5}']) {
    isErrorBody(t, await jsonPost('/collect', body), 400, 'unknown_format', `JSON ${body}`)
  }

  // body over server.bodyLimit
  isErrorBody(t, await jsonPost('/collect', JSON.stringify({ event_name: 'x', params: { pad: 'x'.repeat(3000) } })), 413, 'body_too_large', 'JSON over the limit')
  isErrorBody(t, await inject({ method: 'POST', url: `/g/collect?${gtagQuery({})}`, headers: { 'content-type': 'text/plain' }, payload: 'en=a&ep.x=' + 'y'.repeat(4000) }), 413, 'body_too_large', 'gtag body over the limit')
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { client: 'edge', reason: 'body_too_large' }), 2, 'counted at the edge')

  // prototype poisoning
  const before = Object.keys(Object.prototype).length
  isErrorBody(t, await jsonPost('/collect', '{"event_name":"x","__proto__":{"polluted":"yes"}}'), 400, 'forbidden_key', '__proto__ at the top')
  isErrorBody(t, await jsonPost('/collect', '{"event_name":"x","params":{"__proto__":{"polluted":"yes"}}}'), 400, 'forbidden_key', 'nested __proto__')
  isErrorBody(t, await jsonPost('/collect', '{"event_name":"x","constructor":{"prototype":{"polluted":"yes"}}}'), 400, 'forbidden_key', 'constructor.prototype')
  isErrorBody(t, await jsonPost('/collect', '[{"event":"x","ecommerce":{"items":[{"__proto__":{"polluted":"yes"}}]}}]'), 400, 'forbidden_key', '__proto__ in a dataLayer item')
  isErrorBody(t, await jsonPost('/mp/collect', '{"client_id":"1","events":[{"name":"a","params":{"constructor":{"prototype":{"polluted":"yes"}}}}]}'), 400, 'forbidden_key', 'constructor.prototype in MP')
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'text/plain' }, payload: '{"event_name":"x","__proto__":{"polluted":"yes"}}' }), 400, 'forbidden_key', '__proto__ in a text/plain beacon')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted')
  t.equal(Object.keys(Object.prototype).length, before, 'Object.prototype has no new keys')
  // gtag hits cannot smuggle prototype keys either
  const hit = await inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'x', 'ep.__proto__': 'p', 'up.constructor': 'c', 'ep.user_data.__proto__': 'u' })}` })
  t.equal(hit.statusCode, 204, 'a hit with prototype-named params is read, the keys dropped')
  t.equal(({} as Record<string, unknown>).p, undefined)

  // unknown content types
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/xml' }, payload: '<event name="x"/>' }), 415, 'unsupported_media_type', 'application/xml')
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'multipart/form-data; boundary=abc' }, payload: '--abc\r\n\r\nx\r\n--abc--' }), 415, 'unsupported_media_type', 'multipart/form-data')
  isErrorBody(t, await inject({ method: 'POST', url: '/mp/collect', headers: { 'content-type': 'image/png' }, payload: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }), 415, 'unsupported_media_type', 'image/png')
  isErrorBody(t, await inject({ method: 'POST', url: '/g/collect', headers: { 'content-type': 'text/html' }, payload: '<p>' }), 415, 'unsupported_media_type', 'text/html on /g/collect')

  // encodings: gzip, deflate and br are read (compressed-body.test.ts); others are refused rather
  // than read as garbage
  const gz = await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', 'content-encoding': 'compress' }, payload: gzipSync('{"event_name":"x"}') })
  isErrorBody(t, gz, 415, 'unsupported_media_type', 'an encoding not read')
  t.match(gz.json().message, /Content-Encoding compress is not accepted/)
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: '{"event_name":"x"}' }), 400, 'bad_request', 'a plain body labelled gzip')
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'text/plain', 'content-encoding': 'zz' }, payload: '{"event_name":"x"}' }), 415, 'unsupported_media_type', 'an unknown encoding')
  isErrorBody(t, await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, payload: '{"event_name":""}' }), 400, 'invalid_event', 'identity is no encoding: the body is read')
  // numbers JSON.parse makes Infinity, in every JSON-speaking client
  for (const [url, body, type] of [
    ['/collect', '{"event_name":"x","value":1e309}', 'application/json'],
    ['/collect', '[{"event":"purchase","ecommerce":{"value":-1e400}}]', 'text/plain'],
    ['/mp/collect', '{"client_id":"1","events":[{"name":"a","params":{"value":1e309}}]}', 'application/json']
  ]) {
    const res = await inject({ method: 'POST', url, headers: { 'content-type': type }, payload: body })
    isErrorBody(t, res, 400, 'bad_json', `an infinite number at ${url} (${type})`)
    t.match(res.json().message, /beyond ±1\.8e308/)
  }
  // a binary body that is not JSON: the message quotes none of its bytes raw
  const bin = await jsonPost('/collect', Buffer.from([0x7b, 0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x0a, 0x22]))
  isErrorBody(t, bin, 400, 'bad_json', 'binary garbage')
  t.match(bin.json().message, /^[\x20-\x7e]*$/, 'printable characters only')

  // malformed percent-encoding: in the query and the body of a hit it is read as it is
  const q = await inject({ method: 'GET', url: '/g/collect?v=2&tid=G-TEST12345&en=page_view&dl=%E0%A4%A&dt=%ZZ%' })
  t.equal(q.statusCode, 204, 'malformed percent-encoding in the query is tolerated')
  const b = await inject({ method: 'POST', url: `/g/collect?${gtagQuery({})}`, headers: { 'content-type': 'text/plain' }, payload: 'en=%E0%A4%A&ep.x=%\nen=ok' })
  t.equal(b.statusCode, 204, 'malformed percent-encoding in the body is tolerated')
  const form = await inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '%%%=%&&=' })
  isErrorBody(t, form, 400, 'unknown_format', 'garbage form body')
  // …but in the path it is a malformed URL
  isErrorBody(t, await inject({ method: 'GET', url: '/%E0%A4%A' }), 400, 'bad_request', 'malformed percent-encoding in the path')
  isErrorBody(t, await inject({ method: 'GET', url: '/collect%' }), 400, 'bad_request', 'a lone % in the path')
  // and in cookies it is read as it is
  const c = await inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'x' })}`, headers: { cookie: 'FPID=%E0%A4%A; _ga=%; _fbp=%ZZ' } })
  t.equal(c.statusCode, 204, 'malformed cookies are tolerated')

  // empty POSTs
  isErrorBody(t, await inject({ method: 'POST', url: '/collect' }), 400, 'unknown_format', 'empty POST /collect')
  isErrorBody(t, await jsonPost('/collect', ''), 400, 'unknown_format', 'empty JSON POST /collect')
  isErrorBody(t, await inject({ method: 'POST', url: '/mp/collect' }), 400, 'invalid_measurement_protocol', 'empty POST /mp/collect')
  isErrorBody(t, await inject({ method: 'POST', url: '/g/collect' }), 400, 'invalid_event', 'empty POST /g/collect (no en)')


  // routes
  isErrorBody(t, await inject({ method: 'GET', url: '/nope' }), 404, 'not_found', 'unknown route')
  isErrorBody(t, await inject({ method: 'POST', url: '/g/collect/extra' }), 404, 'not_found', 'unknown sub-route')
  isErrorBody(t, await inject({ method: 'PUT', url: '/collect' }), 405, 'method_not_allowed', 'PUT /collect')
  isErrorBody(t, await inject({ method: 'DELETE', url: '/g/collect?v=2' }), 405, 'method_not_allowed', 'DELETE /g/collect')
  const getMp = await inject({ method: 'GET', url: '/mp/collect' })
  isErrorBody(t, getMp, 405, 'method_not_allowed', 'GET /mp/collect')
  t.equal(getMp.headers.allow, 'POST', 'Allow names the method the route takes')
  isErrorBody(t, await inject({ method: 'POST', url: '/healthz' }), 405, 'method_not_allowed', 'POST /healthz')
  isErrorBody(t, await inject({ method: 'PATCH', url: '/metrics' }), 405, 'method_not_allowed', 'PATCH /metrics')

  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_name).sort(), ['ok', 'page_view', 'x', 'x', '\uFFFD%A'], 'only the tolerated hits were delivered (a broken escape reads as U+FFFD)')
})

t.test('JSON nested deeper than any event is refused, not acknowledged and then lost', async t => {
  const h = await harness()
  t.teardown(h.close)
  const post = async (payload: string): Promise<LightMyRequestResponse> =>
    await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json' }, payload })
  // 20000 levels: JSON.parse copes, but JSON.stringify (webhook build, dead letter, spool) overflows.
  const deep = '{"event_name":"x","params":{"a":' + '['.repeat(20000) + ']'.repeat(20000) + '}}'
  isErrorBody(t, await post(deep), 400, 'bad_json', 'JSON nested 20000 deep')
  const deepPush = '{"event":"x","foo":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}'
  isErrorBody(t, await post(deepPush), 400, 'bad_json', 'a dataLayer push nested 5000 deep')
  // An ordinary nested event is fine.
  const ok = await post(JSON.stringify({ event_name: 'nested_ok', params: { a: { b: { c: [[{ d: 1 }]] } } } }))
  t.equal(ok.statusCode, 202)
  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_name), ['nested_ok'])
  t.same(await h.delivery.deadLetters.list(), [], 'nothing dead-lettered')
})

t.test('a lone surrogate escape in JSON is refused (400), never acknowledged and then a 500 or a stuck batch', async t => {
  const h = await harness()
  t.teardown(h.close)
  const post = async (payload: string): Promise<LightMyRequestResponse> =>
    await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json' }, payload })
  // Each once broke something after the 202: the _fbc cookie (encodeURIComponent threw: a 500),
  // a dead letter's scrub (the batch stayed in flight), GA4's _uip.
  for (const [what, body] of [
    ['an fbclid', '{"event_name":"x","event_id":"F1","click_ids":{"fbclid":"\\ud800"}}'],
    ['a postal code', '[{"event_name":"1bad","user_data":{"address":{"postal_code":"123\\ud800"}}}]'],
    ['a trailing low surrogate', '{"event_name":"x","params":{"p":"a\\udc00"}}'],
    ['a key', '{"event_name":"x","params":{"\\ud83d":"v"}}'],
    ['a dataLayer push', '{"event":"x","page_title":"\\udbff"}']
  ]) isErrorBody(t, await post(body), 400, 'bad_json', `a lone surrogate in ${what}`)
  const pair = await post('{"event_name":"emoji","params":{"p":"\\ud83d\\ude00 ok"}}')
  t.equal(pair.statusCode, 202, 'a surrogate pair is text: accepted')
  await drained(h)
  t.same(h.sink.delivered().map(e => [e.event_name, e.params?.p]), [['emoji', '\u{1F600} ok']])
})

// ---------------------------------------------------------------- fuzz

/** mulberry32: a small deterministic PRNG. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('fuzz: garbage across routes, methods and content types never yields a 5xx', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  bodyLimit: 4096\n  trustProxy: true\n' })
  t.teardown(h.close)
  const rnd = prng(0x7a91)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
  const ALPHABET = 'abcXYZ019_-.=&%?#/\\"\'{}[]:,; \n\t+<>\u0000\u00e9\u{1F600}'
  const junk = (n: number): string => Array.from({ length: n }, () => pick([...ALPHABET])).join('')

  const ROUTES = ['/collect', '/g/collect', '/mp/collect', '/healthz', '/readyz', '/metrics', '/', '/debug', '/collect/', '/g/collect/x', '/%', '/%zz', '/collect?x=%']
  const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const
  const TYPES = [undefined, 'application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded',
    'application/xml', 'multipart/form-data; boundary=x', 'application/csp-report', 'application/ld+json', 'application/octet-stream', '', ';', 'garbage']
  const event = (): unknown => pick([
    { event_name: junk(5), event_id: junk(3), value: pick([1, '1', null, [], {}]) },
    { event: junk(4), ecommerce: pick([null, { items: [junk(2), null, { item_id: {} }] }, { value: 'x' }]) },
    { client_id: pick(['1.2', 5, '']), events: pick([[{ name: junk(6), params: { a: junk(2) } }], 'x', [null]]) },
    { events: [{ event_name: pick(['ok', '', 5]) }] },
    [{ event_name: 'a', page_location: pick(['http://[::1', 'https://x.example/?fbclid=%E0&utm_source=%', junk(10)]) }],
    { event_name: 'purchase', transaction_id: pick(['T', '', 7]), user_data: pick([{ email_address: 'a@b.c' }, 'x', { address: [] }]) }
  ])
  const BODIES = [
    () => '',
    () => junk(Math.floor(rnd() * 80)),
    () => JSON.stringify(event()),
    () => JSON.stringify(event()).slice(0, Math.floor(rnd() * 30)),
    () => `en=${junk(4)}&ep.x=${junk(6)}\n${junk(20)}`,
    () => '{"__proto__":{"x":1},"event_name":"a"}',
    () => '{"event_name":"a","constructor":{"prototype":{"y":1}}}',
    () => 'x'.repeat(5000),
    () => Buffer.from(Array.from({ length: 40 }, () => Math.floor(rnd() * 256)))
  ]
  const HEADERS: Array<() => Record<string, string>> = [
    () => ({}),
    () => ({ authorization: pick(['Bearer nope', 'Basic x', 'Bearer', '', 'bearer  tl_test_key_5f1e0c9a7b3d']) }),
    () => ({ cookie: `FPID=${junk(8)}; _fbc=${junk(6)}; _fbp=fb.1; _ga=GA1.1.${junk(4)}` }),
    () => ({ 'x-forwarded-for': junk(10), 'x-forwarded-host': junk(6), 'x-forwarded-proto': pick(['https', 'gopher', '']) }),
    () => ({ host: pick(['[::1', '', 'metrics.shop.example:99999', 'a..b', junk(5)]), referer: junk(12), 'accept-language': junk(6), 'sec-gpc': '1' }),
    () => ({ origin: pick(['https://evil.example', 'null', junk(4)]), 'access-control-request-method': 'POST' })
  ]

  const N = 400
  let fiveXX = 0
  let answered = 0
  let badUrl = 0
  for (let i = 0; i < N; i++) {
    const method = pick(METHODS)
    let url = pick(ROUTES)
    if (rnd() < 0.5) url += (url.includes('?') ? '&' : '?') + pick([gtagQuery({ en: junk(4) }), junk(15).replace(/#/g, ''), 'v=2&tid=G-1&en=%E0%A4%A', 'measurement_id=G&api_secret=' + junk(4)])
    const headers: Record<string, string> = { ...pick(HEADERS)() }
    const type = pick(TYPES)
    if (type !== undefined) headers['content-type'] = type
    const opts: InjectOptions = { method, url, headers }
    if (method !== 'GET' && method !== 'HEAD' && rnd() < 0.9) opts.payload = pick(BODIES)()
    let res: LightMyRequestResponse
    try {
      res = await h.app.inject(opts)
    } catch (err) {
      // inject itself refuses some header values (invalid characters): that is not our answer
      if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR' || (err as NodeJS.ErrnoException).code === 'ERR_HTTP_INVALID_HEADER_VALUE') continue
      throw err
    }
    answered++
    if (url.startsWith('/%')) { badUrl++; t.equal(res.statusCode, 400, `#${i} a malformed path is a 400`) }
    if (res.statusCode >= 500) {
      fiveXX++
      t.fail(`#${i} ${method} ${url} → ${res.statusCode} ${res.body.slice(0, 200)}`, { headers, payload: String(opts.payload).slice(0, 200) })
      continue
    }
    if (res.statusCode >= 400 && method !== 'HEAD') {
      let body: { error?: unknown } | undefined
      try { body = JSON.parse(res.body) } catch { /* checked below */ }
      if (typeof body?.error !== 'string' || !/^[a-z_]+$/.test(body.error)) {
        t.fail(`#${i} ${method} ${url} → ${res.statusCode} without a JSON error code: ${res.body.slice(0, 200)}`)
      }
    }
  }
  t.equal(fiveXX, 0, `no 5xx in ${N} garbage requests`)
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype is not polluted')
  t.equal(({} as Record<string, unknown>).y, undefined, 'Object.prototype is not polluted')
  t.equal(await metric(h.metrics, 'tagline_http_requests_total', { status: 500 }), 0, 'no 500 in the metrics either')
  // Malformed URLs are refused by the router itself, before any route hook could count them.
  t.ok(answered > N * 0.9, `most requests were answered (${answered})`)
  t.ok(badUrl > 0, `some had malformed URLs (${badUrl})`)
  t.equal(await metric(h.metrics, 'tagline_http_requests_total'), answered - badUrl, 'every routed request was counted')
})
