// GA4 items / value / currency → the shape Meta `custom_data`
// (https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/custom-data) and
// TikTok `properties` (https://business-api.tiktok.com/portal/docs?id=1771101027431425) need.
// Pure helpers; each tag renames the keys for its vendor.
import type { TaglineEvent, Item } from '../schemas/event.js'

export interface Content { id: string, quantity?: number, item_price?: number, title?: string, category?: string, brand?: string }

const num = (v: unknown): number | undefined => typeof v === 'number' && Number.isFinite(v) ? v : undefined
const text = (v: unknown): string | undefined => typeof v === 'string' && v.trim() !== '' ? v : undefined
const itemsOf = (event: TaglineEvent): Item[] =>
  Array.isArray(event?.items) ? event.items.filter((i): i is Item => i !== null && typeof i === 'object') : []
// Float noise from Σ price × qty (0.1 + 0.2) is rounded away; 6 places keep every real currency exact.
// Past 9e9 there is no noise at that place to round (and n × 1e6 may overflow).
const round = (n: number): number => Math.abs(n) < 9e9 ? Math.round(n * 1e6) / 1e6 : n

/** Items with an item_id only: item_name is not an id and would never match the catalogue. */
export function contentsOf (event: TaglineEvent): Content[] {
  const out: Content[] = []
  for (const item of itemsOf(event)) {
    const raw: unknown = item.item_id
    const id = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : text(raw)?.trim()
    if (id === undefined) continue
    const c: Content = { id }
    const quantity = num(item.quantity)
    const price = num(item.price)
    if (quantity !== undefined) c.quantity = quantity
    if (price !== undefined) c.item_price = price
    if (text(item.item_name) !== undefined) c.title = item.item_name
    if (text(item.item_category) !== undefined) c.category = item.item_category
    if (text(item.item_brand) !== undefined) c.brand = item.item_brand
    out.push(c)
  }
  return out
}

/**
 * event.value, else Σ price × (quantity ?? 1) over the items — only when every item has a price
 * (a partial sum would under-report the order). GA4's item price is already the discounted unit
 * price, so discounts are not subtracted again.
 */
export function valueOf (event: TaglineEvent): number | undefined {
  const v = num(event?.value)
  if (v !== undefined) return v
  const items = itemsOf(event)
  if (items.length === 0) return undefined
  let sum = 0
  for (const item of items) {
    const price = num(item.price)
    if (price === undefined) return undefined
    sum += price * (num(item.quantity) ?? 1)
  }
  // Σ of finite prices × quantities may still overflow (1e303 × 1e6): no value rather than null.
  return Number.isFinite(sum) ? round(sum) : undefined
}

const currency = (v: unknown): string | undefined => {
  const c = typeof v === 'string' ? v.trim().toUpperCase() : ''
  return /^[A-Z]{3}$/.test(c) ? c : undefined
}

/** Upper-cased ISO 4217 code from event.currency, else from the first item that carries one. */
export function currencyOf (event: TaglineEvent): string | undefined {
  const c = currency(event?.currency)
  if (c !== undefined) return c
  for (const item of itemsOf(event)) {
    const ic = currency((item as Record<string, unknown>).currency)
    if (ic !== undefined) return ic
  }
  return undefined
}

/** Σ quantity over all items (1 for an item without a usable quantity); undefined without items. */
export function numItems (event: TaglineEvent): number | undefined {
  const items = itemsOf(event)
  if (items.length === 0) return undefined
  let n = 0
  for (const item of items) {
    const q = num(item.quantity)
    n += q !== undefined && q >= 0 ? q : 1
  }
  return Number.isFinite(n) ? n : undefined
}

/**
 * A value (given or computed) but no currency. The tags dead-letter purchases in this state
 * rather than assume USD (which some integrations do, silently mis-reporting other currencies).
 */
export function isMissingCurrency (event: TaglineEvent): boolean {
  return valueOf(event) !== undefined && currencyOf(event) === undefined
}
