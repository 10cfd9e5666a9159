// The common event model (README.md, "The event model"). Keys follow sGTM's common event data names
// (https://developers.google.com/tag-platform/tag-manager/server-side/common-event-data) so GA4
// forwarding stays lossless and people who know sGTM feel at home.
import { Type, type Static } from '@sinclair/typebox'

const Str = Type.String()
const Num = Type.Number()
const ConsentState = Type.Union([Type.Literal('granted'), Type.Literal('denied')])

export const Item = Type.Object(
  {
    item_id: Type.Optional(Str),
    item_name: Type.Optional(Str),
    item_brand: Type.Optional(Str),
    item_category: Type.Optional(Str),
    item_category2: Type.Optional(Str),
    item_category3: Type.Optional(Str),
    item_category4: Type.Optional(Str),
    item_category5: Type.Optional(Str),
    item_variant: Type.Optional(Str),
    item_list_id: Type.Optional(Str),
    item_list_name: Type.Optional(Str),
    affiliation: Type.Optional(Str),
    coupon: Type.Optional(Str),
    location_id: Type.Optional(Str),
    promotion_id: Type.Optional(Str),
    promotion_name: Type.Optional(Str),
    creative_name: Type.Optional(Str),
    creative_slot: Type.Optional(Str),
    price: Type.Optional(Num),
    quantity: Type.Optional(Num),
    discount: Type.Optional(Num),
    index: Type.Optional(Num)
  },
  { additionalProperties: Type.Union([Str, Num, Type.Boolean()]), description: 'A GA4 item; custom item parameters are kept as extra keys.' }
)

const Address = Type.Object({
  first_name: Type.Optional(Str),
  last_name: Type.Optional(Str),
  street: Type.Optional(Str),
  city: Type.Optional(Str),
  region: Type.Optional(Str),
  postal_code: Type.Optional(Str),
  country: Type.Optional(Str),
  sha256_first_name: Type.Optional(Str),
  sha256_last_name: Type.Optional(Str),
  sha256_street: Type.Optional(Str),
  sha256_city: Type.Optional(Str),
  sha256_region: Type.Optional(Str),
  sha256_postal_code: Type.Optional(Str),
  sha256_country: Type.Optional(Str)
}, { additionalProperties: false })

export const UserData = Type.Object({
  email_address: Type.Optional(Str),
  phone_number: Type.Optional(Str),
  external_id: Type.Optional(Str),
  gender: Type.Optional(Str),
  date_of_birth: Type.Optional(Str),
  sha256_email_address: Type.Optional(Str),
  sha256_phone_number: Type.Optional(Str),
  sha256_external_id: Type.Optional(Str),
  sha256_gender: Type.Optional(Str),
  sha256_date_of_birth: Type.Optional(Str),
  address: Type.Optional(Address)
}, { additionalProperties: false, description: 'Raw or sha256_* user-provided data. Raw values never leave the gateway unhashed.' })

export const Consent = Type.Object({
  ad_storage: Type.Optional(ConsentState),
  analytics_storage: Type.Optional(ConsentState),
  ad_user_data: Type.Optional(ConsentState),
  ad_personalization: Type.Optional(ConsentState)
}, { additionalProperties: false })

export const Campaign = Type.Object({
  source: Type.Optional(Str),
  medium: Type.Optional(Str),
  name: Type.Optional(Str),
  term: Type.Optional(Str),
  content: Type.Optional(Str),
  id: Type.Optional(Str)
}, { additionalProperties: false })

export const ClickIds = Type.Object({
  gclid: Type.Optional(Str),
  fbclid: Type.Optional(Str),
  ttclid: Type.Optional(Str),
  wbraid: Type.Optional(Str),
  gbraid: Type.Optional(Str)
}, { additionalProperties: false })

export const BrowserIds = Type.Object({
  fbp: Type.Optional(Str),
  fbc: Type.Optional(Str),
  ttp: Type.Optional(Str),
  ga: Type.Optional(Str)
}, { additionalProperties: false })

const Source = Type.Object({
  client: Str,
  request_id: Str,
  received_ms: Num,
  trusted: Type.Boolean(),
  gpc: Type.Optional(Type.Boolean()),
  minted_event_id: Type.Optional(Type.Boolean()),
  /** The request was marked for the live debug view (`?tagline_debug=1`, `X-Tagline-Debug`): traced while nobody watches. */
  debug: Type.Optional(Type.Boolean()),
  /** Fields filled from the visitor's last browser context (context stitching). */
  stitched: Type.Optional(Type.Array(Str))
})

const Scalar = Type.Union([Str, Num, Type.Boolean(), Type.Null()])
const ParamValue = Type.Union([Scalar, Type.Array(Type.Unknown()), Type.Record(Str, Type.Unknown())])

export const Event = Type.Object({
  event_name: Type.String({ minLength: 1, maxLength: 100 }),
  event_id: Type.Optional(Str),
  // A Date can hold ±8.64e15 ms; before 1970 is no event's time either.
  timestamp_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 8.64e15 })),
  client_id: Type.Optional(Str),
  user_id: Type.Optional(Str),
  ga_session_id: Type.Optional(Str),
  ga_session_number: Type.Optional(Num),
  engagement_time_msec: Type.Optional(Num),
  page_location: Type.Optional(Str),
  page_referrer: Type.Optional(Str),
  page_title: Type.Optional(Str),
  page_hostname: Type.Optional(Str),
  page_path: Type.Optional(Str),
  ip_override: Type.Optional(Str),
  user_agent: Type.Optional(Str),
  language: Type.Optional(Str),
  screen_resolution: Type.Optional(Str),
  currency: Type.Optional(Str),
  value: Type.Optional(Num),
  transaction_id: Type.Optional(Str),
  tax: Type.Optional(Num),
  shipping: Type.Optional(Num),
  coupon: Type.Optional(Str),
  items: Type.Optional(Type.Array(Item, { maxItems: 200 })),
  user_data: Type.Optional(UserData),
  consent: Type.Optional(Consent),
  campaign: Type.Optional(Campaign),
  click_ids: Type.Optional(ClickIds),
  browser_ids: Type.Optional(BrowserIds),
  params: Type.Optional(Type.Record(Str, ParamValue)),
  user_properties: Type.Optional(Type.Record(Str, Type.Union([Str, Num, Type.Boolean()]))),
  source: Type.Optional(Source)
}, {
  // x-ga-* / x-sst-* raw protocol values ride along for lossless GA4 forwarding.
  patternProperties: { '^x-(ga|sst)-': Type.Unknown() },
  additionalProperties: false
})

export type Item = Static<typeof Item>
export type UserData = Static<typeof UserData>
export type Consent = Static<typeof Consent>
export type ConsentType = keyof Consent
export type Campaign = Static<typeof Campaign>
export type ClickIds = Static<typeof ClickIds>
export type BrowserIds = Static<typeof BrowserIds>
export type TaglineEvent = Static<typeof Event> & { [k: `x-ga-${string}` | `x-sst-${string}`]: unknown }

/** A raw GA4 protocol value (`x-ga-*`, `x-sst-*`): only GA4 forwarding reads them. */
function isProtocolField (key: string): boolean {
  return key.startsWith('x-ga-') || key.startsWith('x-sst-')
}

/** The event without its protocol values but `keep` (the same object when it has none). */
export function withoutProtocolFields (event: TaglineEvent, keep: readonly string[] = []): TaglineEvent {
  let copy: Record<string, unknown> | undefined
  for (const k in event) {
    if (!isProtocolField(k) || keep.includes(k)) continue
    copy ??= { ...event }
    delete copy[k]
  }
  return (copy ?? event) as TaglineEvent
}

export const CONSENT_TYPES: readonly ConsentType[] = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization']
