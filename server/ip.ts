// Per-tag IP handling: a destination gets the visitor's full IP, a truncated one, or none.
import { isIPv4, isIPv6 } from 'node:net'

/**
 * An IPv6 address (not IPv4-mapped) as its eight groups, `::` expanded, each in lower case without
 * leading zeros; a zone (`%eth0`) is not part of it.
 */
export function ipv6Groups (ip: string): string[] {
  const bare = ip.split('%')[0]
  const [head, tail = ''] = bare.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = bare.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left
  return groups.map(g => g.toLowerCase().replace(/^0+(?=.)/, ''))
}

/** IPv4: last octet zeroed. IPv6: last 80 bits zeroed (the first 48 bits, a site prefix, kept). */
export function truncateIp (ip: string): string | undefined {
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.')) + '.0'
  if (!isIPv6(ip)) return undefined
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return `::ffff:${truncateIp(mapped[1])}`
  return ipv6Groups(ip).slice(0, 3).join(':') + '::'
}

export type IpMode = 'full' | 'truncate' | 'none'

export function applyIpMode (ip: string | undefined, mode: IpMode): string | undefined {
  if (ip === undefined || mode === 'full') return ip
  return mode === 'none' ? undefined : truncateIp(ip)
}

/**
 * The IP a stitching context keeps: no more than the tags that could receive a stitched event
 * take. Truncated when no enabled tag takes the full IP, none when no tag takes one at all (each
 * tag applies its own mode to the stitched event again, and truncating twice changes nothing).
 */
export function contextIpMode (tags: ReadonlyArray<{ enabled: boolean, ip: IpMode }>): IpMode {
  let mode: IpMode = 'none'
  for (const tag of tags) {
    if (!tag.enabled || tag.ip === 'none') continue
    if (tag.ip === 'full') return 'full'
    mode = 'truncate'
  }
  return mode
}
