// The body parser of the edge: which media types it reads, which Content-Encodings it undoes,
// and the body as a string for the clients to interpret. Backends often compress what they send
// (server SDKs gzip their batches by default); browsers' beacons never do.
//
// Not @fastify/compress: it also compresses responses, which would buffer the debug view's event
// stream and spends CPU on 204s; decoding a request body is one zlib call.
import { brotliDecompress, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errors, type TaglineError } from '../common/errors.js'

const BODY_TYPES = new Set(['text/plain', 'application/json', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/csp-report'])

function acceptedType (header: string | undefined): boolean {
  if (header === undefined) return true
  const t = header.split(';')[0].trim().toLowerCase()
  return t === '' || BODY_TYPES.has(t) || t.endsWith('+json')
}

type Decoder = (buf: InputType, opts: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void

/**
 * `deflate` is the zlib format (RFC 9110 §8.4.1.2), but some senders put raw deflate under the
 * name: a body without a zlib header (CMF 8, header divisible by 31) is read as raw.
 */
const deflate: Decoder = (buf, opts, cb) => {
  const b = buf as Buffer
  const zlibHeader = b.length >= 2 && (b[0] & 0x0f) === 8 && ((b[0] << 8) | b[1]) % 31 === 0
  ;(zlibHeader ? inflate : inflateRaw)(buf, opts, cb)
}

// A Map, not an object: a header of `constructor` or `__proto__` must not find Object's own members.
const DECODERS = new Map<string, Decoder>([['gzip', gunzip], ['x-gzip', gunzip], ['deflate', deflate], ['br', brotliDecompress]])
const NAMES = 'gzip, deflate or br'

/** The encoding the header names and its decoder (none for identity), or the 415 for one not read. */
function encodingOf (header: string | undefined): { name: string, decode?: Decoder } | TaglineError {
  const name = header?.trim().toLowerCase() ?? ''
  if (name === '' || name === 'identity') return { name: '' }
  const decode = DECODERS.get(name)
  if (decode !== undefined) return { name, decode }
  const shown = name.slice(0, 40)
  return errors.unsupportedMediaType(name.includes(',')
    ? `Content-Encoding ${shown} is not accepted: encode the body once, with ${NAMES}.`
    : `Content-Encoding ${shown} is not accepted; send the body uncompressed or as ${NAMES}.`)
}

/** The body decoded, at most `limit` bytes of it (a small body may expand to gigabytes). */
function decodeBody (decode: Decoder, name: string, body: Buffer, limit: number, done: (err: Error | null, body?: string) => void): void {
  decode(body, { maxOutputLength: limit }, (err, out) => {
    if (err === null) { done(null, out.toString('utf8')); return }
    done((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      ? errors.bodyTooLarge(`The body decompresses to more than the configured limit (server.bodyLimit, ${limit} bytes).`)
      : errors.badRequest(`The body could not be decoded as ${name} (Content-Encoding).`), undefined)
  })
}

/**
 * Every body arrives as a string; clients decide what it means. Unknown media types and
 * encodings get 415. `limit` bounds the body as sent (Fastify, before it is read) and as decoded.
 */
export function registerBodyParser (app: Pick<FastifyInstance, 'removeAllContentTypeParsers' | 'addContentTypeParser'>, limit: number): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: string) => void) => {
    if (!acceptedType(req.headers['content-type'])) { done(errors.unsupportedMediaType(`Content type ${req.headers['content-type']} is not accepted; send application/json or text/plain.`), undefined); return }
    const encoding = encodingOf(req.headers['content-encoding'])
    if (encoding instanceof Error) { done(encoding, undefined); return }
    if (encoding.decode === undefined) { done(null, body.toString('utf8')); return }
    decodeBody(encoding.decode, encoding.name, body, limit, done)
  })
}
