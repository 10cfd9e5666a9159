// GTM-style user-provided data (the keys dataLayer pushes and gtag's `ep.user_data.*` use), shared
// by the clients that read it.
import type { UserData } from '../schemas/event.js'
import { isObject } from '../common/guards.js'

const USER_DATA_KEYS: Readonly<Record<string, Exclude<keyof UserData, 'address'>>> = {
  email: 'email_address',
  email_address: 'email_address',
  phone: 'phone_number',
  phone_number: 'phone_number',
  sha256_email_address: 'sha256_email_address',
  sha256_phone_number: 'sha256_phone_number',
  external_id: 'external_id'
}

const ADDRESS_KEYS: ReadonlySet<string> = new Set([
  'first_name', 'last_name', 'street', 'city', 'region', 'postal_code', 'country',
  'sha256_first_name', 'sha256_last_name', 'sha256_street'
])

/** A string from a string or number; arrays (GTM and MP allow several emails) give their first entry. */
function scalarString (v: unknown): string | undefined {
  if (Array.isArray(v)) v = v[0]
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return typeof v === 'string' && v !== '' ? v : undefined
}

/**
 * GTM-style user-provided data → the model's `user_data`. Only known keys are copied, so the
 * result is safe whatever the input holds; values are kept raw (tags/pii.ts hashes them).
 */
export function normalizeUserData (raw: unknown): UserData | undefined {
  if (!isObject(raw)) return undefined
  const out: UserData = {}
  for (const [key, target] of Object.entries(USER_DATA_KEYS)) {
    const v = scalarString(raw[key])
    if (v !== undefined && out[target] === undefined) out[target] = v
  }
  const addr = Array.isArray(raw.address) ? raw.address[0] : raw.address
  if (isObject(addr)) {
    const address: Record<string, string> = {}
    for (const key of ADDRESS_KEYS) {
      const v = scalarString(addr[key])
      if (v !== undefined) address[key] = v
    }
    if (Object.keys(address).length > 0) out.address = address as NonNullable<UserData['address']>
  }
  return Object.keys(out).length > 0 ? out : undefined
}
