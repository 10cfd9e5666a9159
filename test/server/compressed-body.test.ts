// Compressed request bodies (Content-Encoding gzip, deflate, br), as server SDKs send their
// batches: read as if sent plain, bounded by server.bodyLimit once decoded, and refused with a
// JSON 4xx when they cannot be read.
import t from 'tap'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { Readable } from 'node:stream'
import { request } from 'undici'
import type { LightMyRequestResponse } from 'fastify'
import { harness, drained, gtagQuery, json, metric, AUTH } from './fixtures/harness.js'

const ENCODERS: Array<[string, (b: Buffer) => Buffer]> = [
  ['gzip', b => gzipSync(b)],
  ['x-gzip', b => gzipSync(b)],
  ['deflate', b => deflateSync(b)],
  ['deflate (raw, as some senders do)', b => deflateRawSync(b)],
  ['br', b => brotliCompressSync(b)]
]

t.test('each encoding is read on every route that takes a body', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  bodyLimit: 4096\n' })
  t.teardown(h.close)
  const sent: string[] = []
  for (const [name, encode] of ENCODERS) {
    const header = name.split(' ')[0]
    const id = `ev-${header}-${sent.length}`
    const purchase = JSON.stringify({ event_name: 'purchase', event_id: id, value: 12.5, currency: 'EUR', user_data: { email_address: 'Ana@Example.com' }, params: { text: 'café ✓ 日本' } })
    const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', 'content-encoding': header, authorization: AUTH }, payload: encode(Buffer.from(purchase)) })
    t.equal(res.statusCode, 202, `${name}: JSON accepted (${res.body})`)
    sent.push(id)

    const mp = JSON.stringify({ client_id: '555.777', events: [{ name: 'sign_up', params: { method: header } }] })
    const mpRes = await h.app.inject({ method: 'POST', url: '/mp/collect?measurement_id=G-TEST12345&api_secret=s3cr3t', headers: { 'content-type': 'application/json', 'content-encoding': header }, payload: encode(Buffer.from(mp)) })
    t.ok(mpRes.statusCode < 300, `${name}: Measurement Protocol accepted (${mpRes.statusCode} ${mpRes.body})`)

    const batch = `en=page_view&ep.enc=${encodeURIComponent(header)}\nen=scroll`
    const g = await h.app.inject({ method: 'POST', url: `/g/collect?${gtagQuery({})}`, headers: { 'content-type': 'text/plain', 'content-encoding': header }, payload: encode(Buffer.from(batch)) })
    t.equal(g.statusCode, 204, `${name}: a gtag batch accepted`)
  }
  await drained(h)
  const delivered = h.sink.delivered()
  const purchases = delivered.filter(e => e.event_name === 'purchase')
  t.same(purchases.map(e => e.event_id).sort(), [...sent].sort(), 'every compressed purchase was delivered once')
  t.ok(purchases.every(e => (e.params as Record<string, unknown> | undefined)?.text === 'café ✓ 日本'), 'non-ASCII text survives the decoding')
  t.equal(delivered.filter(e => e.event_name === 'sign_up').length, ENCODERS.length, 'every Measurement Protocol event was delivered')
  t.equal(delivered.filter(e => e.event_name === 'scroll').length, ENCODERS.length, 'both events of every gtag batch were delivered')
  t.notOk(JSON.stringify(delivered).includes('Ana@Example.com'), 'the decoded body is handled as any other: no raw email goes out')
})

t.test('a compressed body is bounded, decoded or refused, never a 5xx', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  bodyLimit: 2048\n' })
  t.teardown(h.close)
  const post = async (encoding: string, payload: Buffer | string): Promise<LightMyRequestResponse> =>
    await h.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', 'content-encoding': encoding, authorization: AUTH }, payload })
  const check = (res: LightMyRequestResponse, status: number, code: string, what: string): void => {
    t.equal(res.statusCode, status, `${what}: ${status}`)
    t.equal(json(res).error, code, `${what}: ${code}`)
    t.equal(typeof json(res).message, 'string')
  }

  // A kilobyte that expands to a megabyte (a "zip bomb" in small): the decoded size is what counts.
  const bomb = gzipSync(Buffer.from(`{"event_name":"x","pad":"${'0'.repeat(1_000_000)}"}`))
  t.ok(bomb.length < 2048, 'the compressed body is under the limit')
  const big = await post('gzip', bomb)
  check(big, 413, 'body_too_large', 'a body that decompresses past server.bodyLimit')
  t.match(json(big).message, /decompresses to more than .*2048 bytes/)
  t.equal(await metric(h.metrics, 'tagline_events_rejected_total', { client: 'edge', reason: 'body_too_large' }), 1, 'counted as any body too large')
  check(await post('br', brotliCompressSync(Buffer.from('x'.repeat(100_000)))), 413, 'body_too_large', 'the same in brotli')
  // Just under the limit once decoded: read (and refused only for what it says).
  check(await post('gzip', gzipSync(Buffer.from(`{"event_name":"","pad":"${'0'.repeat(1900)}"}`))), 400, 'invalid_event', 'a decoded body within the limit is read')

  check(await post('gzip', '{"event_name":"x"}'), 400, 'bad_request', 'a plain body labelled gzip')
  check(await post('gzip', gzipSync(Buffer.from('{"event_name":"x"}')).subarray(0, 20)), 400, 'bad_request', 'a truncated gzip body')
  check(await post('br', Buffer.from([0xff, 0xff, 0xff, 0xff])), 400, 'bad_request', 'garbage labelled br')
  check(await post('deflate', Buffer.from('not deflate at all')), 400, 'bad_request', 'garbage labelled deflate')
  check(await post('gzip', gzipSync(Buffer.from('{"event_name": "x",'))), 400, 'bad_json', 'valid gzip of bad JSON: the JSON error, as uncompressed')
  check(await post('gzip', gzipSync(Buffer.from('{"__proto__":{"x":1},"event_name":"x"}'))), 400, 'forbidden_key', 'a __proto__ key inside gzip is refused as outside')

  const stacked = await post('gzip, br', brotliCompressSync(gzipSync(Buffer.from('{"event_name":"x"}'))))
  check(stacked, 415, 'unsupported_media_type', 'two encodings stacked')
  t.match(json(stacked).message, /once, with gzip, deflate or br/)
  // Names Object.prototype has: no decoder, no hang, no 500.
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'Constructor ']) {
    check(await post(name, '{"event_name":"x"}'), 415, 'unsupported_media_type', `Content-Encoding ${name}`)
  }
  // Exactly the limit once decoded is read; one byte more is not.
  const sized = (n: number): Buffer => { const head = '{"event_name":"","pad":"'; return Buffer.from(head + '0'.repeat(n - head.length - 2) + '"}') }
  check(await post('gzip', gzipSync(sized(2048))), 400, 'invalid_event', 'a body that decodes to exactly server.bodyLimit')
  check(await post('br', brotliCompressSync(sized(2049))), 413, 'body_too_large', 'one byte past it')
  check(await post('gzip', Buffer.alloc(0)), 400, 'bad_request', 'an empty body labelled gzip (not a gzip stream)')
  const zstd = await post('zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))
  check(zstd, 415, 'unsupported_media_type', 'an encoding not read (zstd)')
  t.match(json(zstd).message, /Content-Encoding zstd is not accepted; send the body uncompressed or as gzip, deflate or br/)
  // The compressed size is bounded too, before anything is decoded (Fastify reads Content-Length).
  const random = Buffer.from(Array.from({ length: 6000 }, (_, i) => (i * 7919 + 13) % 251))
  check(await post('gzip', gzipSync(random)), 413, 'body_too_large', 'a compressed body larger than the limit as sent')

  await drained(h)
  t.same(h.sink.delivered(), [], 'nothing refused was delivered')
})

t.test('over a real socket: a chunked gzip stream is read, a chunked bomb is cut off while decoded', async t => {
  const h = await harness({ yaml: 'server:\n  rateLimit: false\n  bodyLimit: 4096\n' })
  t.teardown(h.close)
  const origin = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const send = async (body: Buffer): Promise<{ status: number, body: any }> => {
    // A stream without a length goes out chunked, as a streaming SDK sends it.
    const res = await request(`${origin}/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: AUTH }, body: Readable.from([body.subarray(0, 10), body.subarray(10)]) })
    return { status: res.statusCode, body: await res.body.json() }
  }
  const ok = await send(gzipSync(Buffer.from(JSON.stringify([{ event_name: 'sign_up', event_id: 'chunked-1' }, { event_name: 'login', event_id: 'chunked-2' }]))))
  t.equal(ok.status, 202, 'a chunked gzip batch is accepted')
  // 2 KB as sent (under the limit, so only the decoding can refuse it), 2 MB decoded.
  const compressed = gzipSync(Buffer.alloc(2_000_000, 0x20))
  t.ok(compressed.length < 4096, `the bomb is ${compressed.length} bytes as sent, under the limit`)
  const bomb = await send(compressed)
  t.equal(bomb.status, 413, 'its expansion is cut off at the limit')
  t.equal(bomb.body.error, 'body_too_large')
  t.match(bomb.body.message, /decompresses to more than/, 'by the decoding, not by the size as sent')
  await drained(h)
  t.same(h.sink.delivered().map(e => e.event_id).sort(), ['chunked-1', 'chunked-2'], 'the batch was delivered, the bomb was not')
})
