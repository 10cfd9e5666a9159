import { createHash, timingSafeEqual } from 'node:crypto'
import { errors } from '../common/errors.js'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * `Authorization: Bearer <key>` marks a backend request trusted. No header: an ordinary browser
 * request. A header with a wrong key is refused rather than silently downgraded, so a
 * misconfigured backend notices at once.
 */
export function makeAuthenticator (apiKeys: string[]): (header: string | undefined) => boolean {
  const keys = apiKeys.map(digest)
  return header => {
    if (header === undefined || header === '') return false
    const m = /^Bearer\s+(.+)$/i.exec(header)
    if (m === null || keys.length === 0) throw errors.unauthorized()
    const given = digest(m[1].trim())
    let ok = false
    for (const k of keys) ok = timingSafeEqual(k, given) || ok
    if (!ok) throw errors.unauthorized()
    return true
  }
}
