// pino with redaction compiled once. Tokens, secrets, cookies and raw user data never reach a
// log line; request URLs are logged without their query (gtag hits carry PII and MP secrets there).
import { pino, type Logger, type DestinationStream } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  '*.authorization', '*.cookie', '*.cookies',
  '*.accessToken', '*.apiSecret', '*.secret', '*.token', '*.apiKeys', '*.access_token', '*.api_secret',
  '*.user_data', '*.*.user_data', 'events[*].user_data'
]

export interface LoggerOptions {
  level?: string
  stream?: DestinationStream
}

export function createLogger (opts: LoggerOptions = {}): Logger {
  return pino({
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { method?: string, url?: string, id?: string }) => ({ method: req.method, path: req.url?.split('?')[0], id: req.id })
    }
  }, opts.stream)
}
