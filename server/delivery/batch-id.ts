// Batch ids: the idempotency key a batch keeps across all its retries (webhook-id, dedup keys).
import { randomBytes } from 'node:crypto'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** ULID-like: sortable by creation time, no '.' (Standard Webhooks ids must not contain one). */
export function newBatchId (now: number): string {
  let time = ''
  for (let t = Math.max(0, Math.floor(now)), i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time
  let rand = ''
  for (const byte of randomBytes(16)) rand += CROCKFORD[byte % 32]
  return time + rand
}
