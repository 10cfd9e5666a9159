// One table of error codes. The JSON error body `{ error, message, details }` comes straight
// from here, and tests assert on `code`, never on the message.

export interface ErrorDetail {
  path?: string
  message: string
  [k: string]: unknown
}

export class TaglineError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly details: ErrorDetail[]
  constructor (code: string, statusCode: number, message: string, details: ErrorDetail[] = []) {
    super(message)
    this.name = 'TaglineError'
    this.code = code
    this.statusCode = statusCode
    this.details = details
  }

  toJSON (): { error: string, message: string, details: ErrorDetail[] } {
    return { error: this.code, message: this.message, details: this.details }
  }
}

type Factory = (message?: string, details?: ErrorDetail[]) => TaglineError

function define (code: string, statusCode: number, fallback: string): Factory {
  return (message = fallback, details = []) => new TaglineError(code, statusCode, message, details)
}

export const errors = {
  badRequest: define('bad_request', 400, 'The request could not be read.'),
  badJson: define('bad_json', 400, 'The body is not valid JSON.'),
  forbiddenKey: define('forbidden_key', 400, 'The body contains a __proto__ or constructor.prototype key.'),
  unknownFormat: define('unknown_format', 400, 'No client recognised this request: send a gtag hit, a dataLayer push, Measurement Protocol JSON or tagline JSON.'),
  invalidEvent: define('invalid_event', 400, 'The event is not valid.'),
  invalidMp: define('invalid_measurement_protocol', 400, 'The Measurement Protocol payload is not valid.'),
  unauthorized: define('unauthorized', 401, 'The API key is not valid.'),
  notFound: define('not_found', 404, 'No such route.'),
  methodNotAllowed: define('method_not_allowed', 405, 'This route does not take that method.'),
  bodyTooLarge: define('body_too_large', 413, 'The body is larger than the configured limit.'),
  unsupportedMediaType: define('unsupported_media_type', 415, 'This content type is not accepted.'),
  rateLimited: define('rate_limited', 429, 'Too many requests; slow down.'),
  tooManyEvents: define('too_many_events', 429, 'Too many events from this address; slow down.'),
  queueFull: define('queue_full', 503, 'A delivery queue is full; the events were not accepted.'),
  storeUnavailable: define('store_unavailable', 503, 'The store cannot take events right now.'),
  notReady: define('not_ready', 503, 'The gateway is not ready.')
} as const

export function isTaglineError (e: unknown): e is TaglineError {
  return e instanceof TaglineError
}
