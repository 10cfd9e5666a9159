// One built request, sent (or logged) and turned into a verdict for the events it carries.
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { CompiledTag } from '../../config/types.js'
import type { OutgoingRequest } from '../../tags/types.js'
import type { Metrics } from '../metrics.js'
import { describeRequest } from './redact.js'
import { isPermanentError, type ResolvedRetryPolicy } from './retry.js'
import { send } from './send.js'
import { fromOutcome, type Verdict } from './verdict.js'

export interface ExchangeContext {
  tag: CompiledTag
  secrets: readonly string[]
  policy: ResolvedRetryPolicy
  dispatcher: Dispatcher
  logger: Logger
  metrics: Metrics
  now: () => number
  /** Registry of in-flight requests, so shutdown can abort them. */
  controllers: Set<AbortController>
}

export async function exchange (req: OutgoingRequest, c: ExchangeContext): Promise<Verdict> {
  const { tag } = c
  if (tag.dryRun || req.url.startsWith('log:')) {
    c.logger.info({ dryRun: tag.dryRun, request: describeRequest(req, c.secrets) }, tag.dryRun ? 'dry run: request not sent' : 'log request')
    return { kind: 'ok' }
  }
  const controller = new AbortController()
  c.controllers.add(controller)
  const result = await send(c.dispatcher, req, { timeoutMs: tag.timeoutMs, signal: controller.signal })
  c.controllers.delete(controller)
  c.metrics.tagRequestDuration.observe({ tag: tag.name }, result.durationMs / 1000)
  if (result.kind === 'error') {
    if (controller.signal.aborted) return { kind: 'retry', reason: 'ABORTED_AT_SHUTDOWN', aborted: true }
    c.logger.debug({ code: result.code, message: result.message }, 'request failed')
    if (isPermanentError(c.policy, result.code)) return { kind: 'drop', reason: `${result.code}: ${result.message}` }
    return { kind: 'retry', reason: result.code }
  }
  try {
    return fromOutcome(tag.def.classify(result.response, req), result.response, c.now())
  } catch (err) {
    // Unknown trouble retries; a classify bug ends in a dead letter once the budget is spent.
    const reason = `classify failed: ${err instanceof Error ? err.message : String(err)}`
    return { kind: 'retry', reason, status: result.response.status, response: result.response.body }
  }
}
