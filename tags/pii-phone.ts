// Placing a phone number in its country before it is hashed: libphonenumber-js reads the
// national formats, trunk prefixes and international prefixes of every country, so a number
// hashes as the platforms' own pixels and SDKs hash it (E.164) or not at all.
//
// Metadata 'max', deliberately: 'min' only knows lengths per country, and 'mobile' knows mobile
// number ranges only, so a landline (a shop's B2B customers, a home number) would not be
// "possible" and would be dropped although Meta, TikTok and Google all match landlines. 'max' is
// the full set Google's own libphonenumber always uses; its size (a few hundred kB, loaded once)
// does not matter on a server.
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max'

/** A number placed in its country: what each platform's format is cut from. */
export interface PlacedPhone {
  /** +<country code><national significant number>, no extension. */
  e164: string
  callingCode: string
  /** The national significant number: no country code, no trunk prefix. */
  national: string
}

/** Why a number cannot be sent: no country to read a national number in, or not a number. */
export type PhoneProblem = 'no_country' | 'invalid'

/** The ISO 3166-1 alpha-2 code libphonenumber knows, upper-case, or undefined. */
function phoneCountry (c: string | undefined): CountryCode | undefined {
  const cc = typeof c === 'string' ? c.trim().toUpperCase() : ''
  return /^[A-Z]{2}$/.test(cc) && isSupportedCountry(cc) ? cc : undefined
}

function parse (text: string, country: CountryCode | undefined): PhoneNumber | undefined {
  try {
    // extract: false: the whole value must be a number ("call me after 5 on …" is not hashed).
    const p = parsePhoneNumberFromString(text, { defaultCountry: country, extract: false })
    return p !== undefined && p.isPossible() ? p : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads `s` in `country` (ISO alpha-2) when it is national. A number written internationally
 * (`+44 …`, `00 44 …`, or the country's own international prefix such as `011` in the US) needs no
 * country. A national number without a country is never guessed at: its first digits would be
 * read as a country code that was never dialled. Only possible numbers pass (libphonenumber's
 * length rules per country); an extension is dropped; a trunk prefix written inside an
 * international number (`+44 (0)20 …`) is removed as libphonenumber removes it.
 */
export function placePhone (s: string, country?: string): PlacedPhone | PhoneProblem {
  if (typeof s !== 'string' || s.length > 64) return 'invalid'
  // NFKC: full-width digits and plus signs become ASCII. "(+44) 20 …" is "+44 20 …".
  const t = s.normalize('NFKC').trim().replace(/^\(\s*\+\s*(\d{1,3})\s*\)/, '+$1 ')
  if (!/\d/.test(t)) return 'invalid'
  const cc = phoneCountry(country)
  let p = parse(t, cc)
  // 00 is the international prefix in most of the world; where it is not (the US dials 011), a
  // number written with it is still international, never national.
  const digits = t.replace(/[^\d+]/g, '')
  if (p === undefined && digits.startsWith('00')) p = parse('+' + digits.slice(2), undefined)
  if (p === undefined) return t.startsWith('+') || digits.startsWith('00') || cc !== undefined ? 'invalid' : 'no_country'
  return { e164: p.number, callingCode: p.countryCallingCode, national: p.nationalNumber }
}
