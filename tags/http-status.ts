// Status-code classification for destinations whose answer is in the HTTP status alone
// (webhooks, PostHog). Ad platforms that answer 200 to errors classify from the body instead.
import type { Outcome, TagResponse } from './types.js'

/** Unknown failures retry; only statuses known to be permanent drop (a bad payload will not fix itself). */
export const PERMANENT_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 405, 410, 413, 422])

export function classifyByStatus (res: TagResponse, permanent: ReadonlySet<number> = PERMANENT_STATUSES): Outcome {
  if (res.status >= 200 && res.status < 300) return { kind: 'ok' }
  const reason = `HTTP ${res.status}${res.body ? ': ' + res.body.slice(0, 500) : ''}`
  if (permanent.has(res.status)) return { kind: 'drop', reason }
  // 3xx too: redirects are not followed, so a moved endpoint is a failure to retry and notice.
  return { kind: 'retry', reason }
}
