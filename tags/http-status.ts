// What an HTTP status alone says about a delivery: the one place the status ranges are spelled.
// Webhooks and PostHog answer in the status; GA4 too, with a wider permanent rule. Meta and TikTok
// answer 200 to errors and classify from the body, calling these for what the status decides.
import { RETRY_DEFAULTS } from '../schemas/defaults.js'
import type { Classification, TagResponse } from './types.js'

const LISTED: ReadonlySet<number> = new Set(RETRY_DEFAULTS.permanentStatuses)

export const isSuccessStatus = (status: number): boolean => status >= 200 && status < 300
export const isServerErrorStatus = (status: number): boolean => status >= 500
/** Throttled (429) or failing (5xx): worth retrying whatever the body says. */
export const isTransientStatus = (status: number): boolean => status === 429 || isServerErrorStatus(status)

interface StatusOptions {
  /**
   * Which failures drop instead of retrying. 'listed' (default): only
   * RETRY_DEFAULTS.permanentStatuses, unknown failures retry. 'every4xx': every 4xx but 408 and 429
   * (timing, not the request), for a destination that answers 2xx to almost anything (GA4), where
   * a 4xx means the HTTP request itself is wrong and will stay wrong.
   */
  permanent?: 'listed' | 'every4xx'
}

export function classifyByStatus (res: TagResponse, opts: StatusOptions = {}): Classification {
  if (isSuccessStatus(res.status)) return { kind: 'ok' }
  const reason = `HTTP ${res.status}${res.body ? ': ' + res.body.slice(0, 500) : ''}`
  const s = res.status
  // Unauthorized, Forbidden: the credentials, not the events (https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2).
  if (s === 401 || s === 403) return { kind: 'credentials', reason }
  const permanent = opts.permanent === 'every4xx' ? s >= 400 && s < 500 && s !== 408 && s !== 429 : LISTED.has(s)
  if (permanent) return { kind: 'drop', reason }
  // 3xx too: redirects are not followed, so a moved endpoint is a failure to retry and notice.
  return { kind: 'retry', reason }
}
