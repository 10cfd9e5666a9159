// GA4 items: the gtag `prN` token encoding (undocumented by Google; see the reference in
// clients/gtag.ts) and the object form that dataLayer pushes and Measurement Protocol bodies carry.
import type { Item } from '../schemas/event.js'
import { isSafeKey, toNumber } from '../common/guards.js'
import { MAX_ITEMS, NUMERIC_ITEM_KEYS, STANDARD_ITEM_KEYS, TOKEN_KEYS } from '../protocol/ga4-items.js'

type ItemMap = Record<string, string | number | boolean>

/** Leading decimal digits of `s` from `from` (the custom-pair index), or '' when none. */
function digitsAt (s: string, from: number): string {
  let end = from
  while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++
  return s.slice(from, end)
}

/**
 * Decode one `prN` value, e.g. `idSKU_1~nmTee~pr10.01~qt3~k0stock~v0in`. Unknown or malformed
 * tokens are skipped; numeric fields that are not numbers are dropped; an item with no usable
 * field is `undefined`.
 */
export function decodeItem (value: string): Item | undefined {
  const item: ItemMap = {}
  const customNames = new Map<string, string>()
  const customValues: string[] = []
  let used = false
  for (const token of value.split('~')) {
    if (token.length < 2) continue
    const c0 = token[0]
    if ((c0 === 'k' || c0 === 'v') && token.charCodeAt(1) >= 48 && token.charCodeAt(1) <= 57) {
      // Custom pairs: custom names start with a letter, so the index is every leading digit.
      if (c0 === 'k') {
        const idx = digitsAt(token, 1)
        const name = token.slice(1 + idx.length)
        if (name !== '') customNames.set(idx, name)
      } else {
        customValues.push(token.slice(1))
      }
      continue
    }
    // `ca2` is one plugin's spelling of `c2`.
    const alias = token.startsWith('ca2')
    const key = alias ? 'item_category2' : TOKEN_KEYS[token.slice(0, 2)]
    if (key === undefined) continue
    const raw = token.slice(alias ? 3 : 2)
    if (raw === '') continue
    if (NUMERIC_ITEM_KEYS.has(key)) {
      const n = toNumber(raw)
      if (n === undefined) continue
      item[key] = n
    } else {
      item[key] = raw
    }
    used = true
  }
  for (const rest of customValues) {
    // A value may itself start with digits (`v012` = index 0, value "12"): take the longest
    // index prefix that names a declared key.
    const digits = digitsAt(rest, 0)
    for (let len = digits.length; len > 0; len--) {
      const name = customNames.get(digits.slice(0, len))
      if (name === undefined) continue
      if (isSafeKey(name) && !STANDARD_ITEM_KEYS.has(name)) {
        item[name] = rest.slice(len)
        used = true
      }
      break
    }
  }
  return used ? item as Item : undefined
}

/** `pr7` → 7 when 1 ≤ N ≤ 200, else 0 (not an item parameter). */
export function itemIndex (param: string): number {
  if (param.length < 3 || param.length > 5 || param[0] !== 'p' || param[1] !== 'r') return 0
  const digits = digitsAt(param, 2)
  if (digits.length !== param.length - 2 || digits[0] === '0') return 0
  const n = Number(digits)
  return n <= 200 ? n : 0
}

/**
 * Normalise an item object from JSON (dataLayer, MP): numeric fields from numbers or numeric
 * strings, standard string fields from strings or numbers, custom keys kept when scalar.
 * Nothing is invented (no default quantity). Not an object, or nothing usable → `undefined`.
 */
export function normalizeItem (raw: unknown): Item | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined
  const item: ItemMap = {}
  let used = false
  for (const [key, v] of Object.entries(raw)) {
    if (!isSafeKey(key) || v === undefined || v === null) continue
    if (NUMERIC_ITEM_KEYS.has(key)) {
      const n = toNumber(v)
      if (n === undefined) continue
      item[key] = n
    } else if (STANDARD_ITEM_KEYS.has(key)) {
      if (typeof v !== 'string' && typeof v !== 'number') continue
      item[key] = String(v)
    } else {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue
      item[key] = v
    }
    used = true
  }
  return used ? item as Item : undefined
}


/** Normalise an items array; non-items are dropped, past MAX_ITEMS too. Not an array → `undefined`. */
export function normalizeItems (raw: unknown): Item[] | undefined {
  if (!Array.isArray(raw)) return undefined
  const items: Item[] = []
  for (const entry of raw) {
    const item = normalizeItem(entry)
    if (item !== undefined) items.push(item)
    if (items.length === MAX_ITEMS) break
  }
  return items
}
