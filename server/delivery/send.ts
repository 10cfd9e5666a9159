// One HTTP exchange through undici. Never throws: a network failure is a result like a response,
// because for delivery both are just inputs to the retry decision.
import { Agent, request, type Dispatcher } from 'undici'
import type { OutgoingRequest, TagResponse } from '../../tags/types.js'
import { DELIVERY_DEFAULTS } from '../../schemas/defaults.js'

/** What we keep of a response body: enough for classify() and a dead letter, not a whole page. */
const MAX_BODY_CHARS = 64 * 1024

export type SendResult =
  | { kind: 'response', response: TagResponse, durationMs: number }
  | { kind: 'error', code: string, message: string, durationMs: number }

export function createAgent (): Agent {
  // No redirect interceptor: a 3xx goes to classify() as it is (Standard Webhooks: a redirect
  // is a failure, and following one would re-POST events to a place nobody configured).
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connect: { timeout: 10_000 } })
}

export class SendError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'SendError'
    this.code = code
  }
}

export async function send (
  dispatcher: Dispatcher,
  req: OutgoingRequest,
  opts: { timeoutMs: number, signal?: AbortSignal }
): Promise<SendResult> {
  const started = performance.now()
  const timeoutMs = opts.timeoutMs > 0 ? opts.timeoutMs : DELIVERY_DEFAULTS.timeoutMs
  const controller = new AbortController()
  // One deadline for the whole exchange (connect + headers + body); undici's own per-phase
  // timers sit a little later as a backstop so the reason is deterministic.
  const timer = setTimeout(() => {
    controller.abort(new SendError('TIMEOUT', `no complete answer within ${timeoutMs} ms`))
  }, timeoutMs)
  const onOuterAbort = (): void => controller.abort(opts.signal?.reason)
  if (opts.signal?.aborted === true) onOuterAbort()
  else opts.signal?.addEventListener('abort', onOuterAbort, { once: true })
  try {
    const res = await request(req.url, {
      dispatcher,
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
      headersTimeout: timeoutMs + 1000,
      bodyTimeout: timeoutMs + 1000
    })
    const body = await readCapped(res.body)
    return {
      kind: 'response',
      response: { status: res.statusCode, headers: res.headers, body },
      durationMs: performance.now() - started
    }
  } catch (err) {
    return { kind: 'error', ...describeError(err), durationMs: performance.now() - started }
  } finally {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onOuterAbort)
  }
}

async function readCapped (body: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = []
  let kept = 0
  // Keep reading past the cap so the connection can be reused; just stop storing.
  for await (const chunk of body) {
    if (kept >= MAX_BODY_CHARS * 4) continue
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    chunks.push(buf)
    kept += buf.length
  }
  const text = Buffer.concat(chunks).toString('utf8')
  return text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text
}

function describeError (err: unknown): { code: string, message: string } {
  const e = err as { code?: unknown, message?: unknown, cause?: { code?: unknown }, name?: unknown } | undefined
  const code = typeof e?.code === 'string'
    ? e.code
    : typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.name === 'string' ? e.name : 'UNKNOWN'
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err)
  return { code, message }
}
