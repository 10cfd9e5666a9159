// GA4 event name → destination standard event name (Meta:
// https://developers.facebook.com/docs/meta-pixel/reference#standard-events, TikTok:
// https://ads.tiktok.com/help/article/supported-standard-events).
// Pixel dedup matches on (event name, event id), so the server name must equal the one the site's
// pixel sends: every entry here is only a default, overridable per tag (`eventNames`).

export type Destination = 'meta' | 'tiktok' | 'posthog'

const shared = {
  view_item: 'ViewContent',
  search: 'Search',
  view_search_results: 'Search',
  add_to_cart: 'AddToCart',
  add_to_wishlist: 'AddToWishlist',
  begin_checkout: 'InitiateCheckout',
  add_payment_info: 'AddPaymentInfo',
  purchase: 'Purchase',
  sign_up: 'CompleteRegistration',
  generate_lead: 'Lead',
  contact: 'Contact',
  subscribe: 'Subscribe',
  start_trial: 'StartTrial',
  schedule: 'Schedule',
  find_location: 'FindLocation',
  customize_product: 'CustomizeProduct',
  submit_application: 'SubmitApplication'
} as const

const frozen = (o: Record<string, string>): Readonly<Record<string, string>> => Object.freeze(Object.assign(Object.create(null), o))

/** Default GA4 → destination standard event names. Absent = no standard equivalent. */
export const DEFAULT_EVENT_NAMES: Record<Destination, Readonly<Record<string, string>>> = Object.freeze({
  // Meta: page views go out as PageView (the base pixel event); give the pixel's PageView the
  // same event id or set `page_view: ''` in eventNames to skip them.
  meta: frozen({ page_view: 'PageView', ...shared, donate: 'Donate' }),
  // TikTok: `Purchase` is the current name (2025); sites whose pixel still sends the legacy
  // `CompletePayment` (or `PlaceAnOrder`, `SubmitForm` for leads) must map it in eventNames.
  // page_view is not mapped: a server page view double-counts the pixel's own `Pageview`.
  tiktok: frozen({ ...shared, file_download: 'Download' }),
  // PostHog: only the page view has a special name; everything else keeps its GA4 name.
  posthog: frozen({ page_view: '$pageview' })
})

const has = (o: object | undefined, k: string): boolean => o !== undefined && o !== null && typeof o === 'object' && Object.hasOwn(o, k)

/**
 * The name to send: per-tag override map first, then the default map; when neither has it, the
 * event's own name if customEvents is true, else undefined (the tag skips the event). An override
 * of '' skips the event even when a default exists. customEvents defaults to true for PostHog
 * (its events are all "custom") and false for Meta and TikTok.
 */
export function destinationEventName (dest: Destination, eventName: string, overrides?: Record<string, string>, customEvents?: boolean): string | undefined {
  if (typeof eventName !== 'string' || eventName === '') return undefined
  if (has(overrides, eventName)) {
    const o = (overrides as Record<string, unknown>)[eventName]
    return typeof o === 'string' && o !== '' ? o : undefined
  }
  const defaults = DEFAULT_EVENT_NAMES[dest]
  if (defaults !== undefined && has(defaults, eventName)) return defaults[eventName]
  return (customEvents ?? dest === 'posthog') ? eventName : undefined
}
