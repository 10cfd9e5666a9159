// One messy customer record, as a shop's backend might send it: the meta, tiktok and ga4 examples
// each send it, so docs/destinations.md shows what each destination receives from the same input
// (and its first section puts the normalised values side by side).
import type { TaglineEvent, UserData } from '../schemas/event.js'

export const MESSY_USER_ID = 'Cust-42'

/** The phone is national: the address country (US) places it. */
export const MESSY_USER_DATA: UserData = {
  email_address: ' John.Smith@GMAIL.com ',
  phone_number: '(415) 555-0132',
  address: {
    first_name: ' Zoë ',
    last_name: "O'Brien-Smith",
    street: '500 Howard St., Apt #4',
    city: 'San Francisco',
    region: 'California',
    postal_code: '94105-1234',
    country: 'United States'
  }
}

/** The backend purchase that carries it in the meta and tiktok examples, a second before `now`. */
export const messyPurchase = (now: number): TaglineEvent => ({
  event_name: 'purchase',
  event_id: 'ORD-42',
  timestamp_ms: now - 1000,
  user_id: MESSY_USER_ID,
  user_data: MESSY_USER_DATA,
  currency: 'USD',
  value: 25,
  transaction_id: 'ORD-42'
})

/** More phone numbers for the side-by-side table, with the country each is read in (if any). */
export const PHONE_SAMPLES: ReadonlyArray<{ input: string, defaultCountry?: string }> = [
  { input: '07700 900123' },
  { input: '07700 900123', defaultCountry: 'GB' },
  { input: '+44 (0)20 7946 0958' },
  { input: '+86 138 0013 8000' }
]
