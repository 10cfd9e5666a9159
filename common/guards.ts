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

export function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * `s` cut to at most `max` UTF-16 units, never inside a surrogate pair; with `url`, nor inside a
 * percent escape.
 */
export function cutText (s: string, max: number, url = false): string {
  if (s.length <= max) return s
  const cut = s.slice(0, max)
  return (url ? cut.replace(/%[0-9A-Fa-f]?$/, '') : cut).replace(/[\uD800-\uDBFF]$/, '')
}
