// The guards every piece of code that copies caller-chosen keys or values needs: clients parsing
// requests, the trigger path resolver, per-tag transformations.

/** Keys that must never be assigned from input: they reach or shadow Object.prototype. */
export function isSafeKey (key: string): boolean {
  return key !== '__proto__' && key !== 'constructor' && key !== 'prototype'
}

/** A finite number from a number or a numeric string; `undefined` otherwise ('' is not 0). */
export function toNumber (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v !== 'string' || v.trim() === '') return undefined
  const n = Number(v)
  return Number.isFinite(n) ? n : undefined
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Whether a string is well-formed UTF-16: a lone surrogate (JSON's `"\ud800"`) has no UTF-8 form,
 * so no URL, cookie or header can carry it (`encodeURIComponent` throws).
 */
export function isWellFormed (s: string): boolean {
  return !LONE_SURROGATE.test(s)
}

/** Whether a string holds a control character (a tab aside): no user agent or header value does. */
export function hasControlChars (s: string): boolean {
  return /[\x00-\x08\x0a-\x1f\x7f]/.test(s)
}

export function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * `s` cut to at most `max` UTF-16 units, never inside a surrogate pair; with `url`, nor inside a
 * percent escape, nor between the escapes of one UTF-8 character (`%C3%A9`: both or neither), so
 * that the cut URL still decodes.
 */
export function cutText (s: string, max: number, url = false): string {
  if (s.length <= max) return s
  const cut = s.slice(0, max).replace(/[\uD800-\uDBFF]$/, '')
  return url ? wholeEscapes(cut.replace(/%[0-9A-Fa-f]?$/, '')) : cut
}

const ESCAPE = /^%[0-9A-Fa-f]{2}$/

/** `url` without a trailing UTF-8 character whose escapes were cut short (its lead byte, too few continuations). */
function wholeEscapes (url: string): string {
  let end = url.length
  let continuations = 0
  while (end >= 3 && ESCAPE.test(url.slice(end - 3, end))) {
    const byte = Number.parseInt(url.slice(end - 2, end), 16)
    end -= 3
    if (byte >= 0x80 && byte < 0xc0) {
      if (++continuations > 3) break
      continue
    }
    const needs = byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : byte >= 0xc0 ? 1 : 0
    return continuations < needs ? url.slice(0, end) : url
  }
  return url
}
