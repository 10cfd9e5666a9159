// GA4's item vocabulary, shared by the clients that read items and the GA4 tag that writes them:
// the gtag `prN` token keys and the standard item parameters
// (https://developers.google.com/analytics/devguides/collection/ga4/reference/events).

export const TOKEN_KEYS: Readonly<Record<string, string>> = {
  id: 'item_id',
  nm: 'item_name',
  af: 'affiliation',
  cp: 'coupon',
  ds: 'discount',
  lp: 'index',
  br: 'item_brand',
  ca: 'item_category',
  c2: 'item_category2',
  c3: 'item_category3',
  c4: 'item_category4',
  c5: 'item_category5',
  li: 'item_list_id',
  ln: 'item_list_name',
  va: 'item_variant',
  lo: 'location_id',
  pr: 'price',
  qt: 'quantity',
  pi: 'promotion_id',
  pn: 'promotion_name',
  cn: 'creative_name',
  cs: 'creative_slot'
}

export const NUMERIC_ITEM_KEYS: ReadonlySet<string> = new Set(['price', 'quantity', 'discount', 'index'])
export const STANDARD_ITEM_KEYS: ReadonlySet<string> = new Set(Object.values(TOKEN_KEYS))

/** GA4 takes at most 200 items per event. */
export const MAX_ITEMS = 200
