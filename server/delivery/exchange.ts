// One built request, sent (or logged) and turned into a result for the events it carries. The one
// place a tag's request meets the network: delivery and `tagline try --send` both come here.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { TaglineEvent } from '../../schemas/event.js'
import type { OutgoingRequest } from '../../tags/types.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryObserver } from '../observer.js'
import { describeRequest, redactText } from './redact.js'
import { isPermanentError, type ResolvedRetryPolicy } from './retry.js'
import { send, type SendResult } from './send.js'
import { fromClassification, type RequestResult } from './request-result.js'

export interface ExchangeContext {
  tag: CompiledTag
  secrets: readonly string[]
  policy: ResolvedRetryPolicy
  dispatcher: Dispatcher
  logger: Logger
  metrics?: Metrics
  now: () => number
  /** Registry of in-flight requests, so shutdown can abort them. */
  controllers?: Set<AbortController>
  observer?: DeliveryObserver
}

export interface Exchanged {
  result: RequestResult
  /** What came back; absent when nothing was sent (dry run, `log:` URL). */
  sent?: SendResult
}

/** Which attempt a request belongs to, for observers: `carried` indexes `events`. */
export interface ExchangeTrace { batchId: string, attempt: number, events: readonly TaglineEvent[], carried: readonly number[] }

export async function exchange (req: OutgoingRequest, c: ExchangeContext, trace?: ExchangeTrace): Promise<Exchanged> {
  const out = await run(req, c, trace)
  if (c.observer?.exchange !== undefined && trace !== undefined) {
    const carried = trace.carried.map(i => trace.events[i])
    if (c.observer.wants?.(carried) === false) return out
    const s = out.sent
    const answer = s === undefined
      ? undefined
      : s.kind === 'response'
        ? { status: s.response.status, body: redactText(s.response.body, c.secrets, carried) }
        : { error: redactText(`${s.code}: ${s.message}`, c.secrets, carried) }
    c.observer.exchange({ tag: c.tag.name, batchId: trace.batchId, attempt: trace.attempt, events: carried, request: describeRequest(req, hidden(c.secrets, trace)), answer, result: out.result, durationMs: s?.durationMs })
  }
  return out
}

/** The secrets and the visitor IPs of the events the request carries: an info log line shows neither. */
function hidden (secrets: readonly string[], trace?: ExchangeTrace): readonly string[] {
  const ips = new Set<string>()
  for (const i of trace?.carried ?? []) {
    const ip = trace?.events[i]?.ip_override
    if (typeof ip === 'string' && ip.length >= 3) ips.add(ip)
  }
  return ips.size === 0 ? secrets : [...secrets, ...ips].sort((a, b) => b.length - a.length)
}

async function run (req: OutgoingRequest, c: ExchangeContext, trace?: ExchangeTrace): Promise<Exchanged> {
  const { tag } = c
  if (tag.dryRun || req.url.startsWith('log:')) {
    c.logger.info({ dryRun: tag.dryRun, request: describeRequest(req, hidden(c.secrets, trace)) }, tag.dryRun ? 'dry run: request not sent' : 'log request')
    return { result: { kind: 'ok' } }
  }
  const controller = new AbortController()
  c.controllers?.add(controller)
  const sent = await send(c.dispatcher, req, { timeoutMs: tag.timeoutMs, signal: controller.signal })
  c.controllers?.delete(controller)
  c.metrics?.tagRequestDuration.observe({ tag: tag.name }, sent.durationMs / 1000)
  if (sent.kind === 'error') {
    if (controller.signal.aborted) return { sent, result: { kind: 'retry', reason: 'ABORTED_AT_SHUTDOWN', aborted: true } }
    c.logger.debug({ code: sent.code, message: sent.message }, 'request failed')
    if (isPermanentError(c.policy, sent.code)) return { sent, result: { kind: 'drop', reason: `${sent.code}: ${sent.message}` } }
    return { sent, result: { kind: 'retry', reason: sent.code } }
  }
  try {
    return { sent, result: fromClassification(tag.def.classify(sent.response, req), sent.response, c.now()) }
  } catch (err) {
    // Unknown trouble retries; a classify bug ends in a dead letter once the budget is spent.
    const reason = `classify failed: ${err instanceof Error ? err.message : String(err)}`
    return { sent, result: { kind: 'retry', reason, status: sent.response.status, response: sent.response.body } }
  }
}
