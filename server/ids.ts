import { randomBytes, randomInt } from 'node:crypto'

/** UUID v7 (RFC 9562): 48-bit Unix ms, then random bits; sorts by time, unique without coordination. */
function uuidv7 (nowMs: number = Date.now()): string {
  const b = randomBytes(16)
  b.writeUIntBE(nowMs, 0, 6)
  b[6] = 0x70 | (b[6] & 0x0f)
  b[8] = 0x80 | (b[8] & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Ten random digits, the shape GA and Meta use for the random half of their ids. */
function randomDigits (): string {
  return String(randomInt(1_000_000_000, 2_147_483_647))
}

export interface IdSource {
  now (): number
  eventId (nowMs: number): string
  digits (): string
  bytes (n: number): Buffer
}

export const systemIds: IdSource = {
  now: Date.now,
  eventId: uuidv7,
  digits: randomDigits,
  bytes: randomBytes
}
