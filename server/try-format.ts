// The text form of a `tagline try` report (and the request layout docs/generate.ts shares).
import type { RequestDescription } from './delivery/redact.js'
import type { TryReport, TryRouting, TryTag, TryResponse, TryEventSummary } from './try.js'

/** A JSON body pretty-printed; anything else (gtag lines, form bodies) as it is. */
function prettyBody (body: string): string {
  const t = body.trimStart()
  if (t.startsWith('{') || t.startsWith('[')) {
    try { return JSON.stringify(JSON.parse(body), null, 2) } catch { /* not JSON after all */ }
  }
  return body
}

/** Request line, headers, blank line, body: the layout of an HTTP message. */
export function requestText (r: RequestDescription): string[] {
  const lines = [`${r.method} ${r.url}`, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)]
  if (r.body !== undefined && r.body !== '') lines.push('', ...prettyBody(r.body).split('\n'))
  return lines
}

function routingText (r: TryRouting): string {
  switch (r.outcome) {
    case 'queued': return r.detail !== undefined ? `queued (fireOn ${r.detail})` : 'queued'
    case 'not_triggered': return 'not triggered (no fireOn trigger holds)'
    case 'blocked_by_trigger': return `blocked by trigger ${r.detail ?? '?'}`
    case 'declined': return `declined: ${r.detail ?? 'the tag has nothing to send for it'}`
    case 'blocked_by_consent': return r.detail === 'gpc' ? 'blocked by consent gpc (Sec-GPC: 1 opts out of advertising tags)' : `blocked by consent ${r.detail ?? '?'} (denied)`
    case 'deduplicated': return 'deduplicated (a repeat inside the dedup window)'
    case 'disabled': return 'disabled (enabled: false)'
  }
}

function eventLine (e: TryEventSummary): string {
  const parts = [`#${e.index} ${e.event_name}`]
  if (e.event_id !== undefined) parts.push(`event_id ${e.event_id}`)
  if (e.client_id !== undefined) parts.push(`client_id ${e.client_id}`)
  if (e.user_id !== undefined) parts.push(`user_id ${e.user_id}`)
  const consent = Object.entries(e.consent ?? {}).map(([k, v]) => `${k}=${String(v)}`)
  if (consent.length > 0) parts.push(`consent ${consent.join(',')}`)
  if (e.gpc === true) parts.push('Sec-GPC')
  if (e.user_data) parts.push('user_data (not shown)')
  return parts.join('  ')
}

function responseText (r: TryResponse): string[] {
  if (r.skipped !== undefined) return [`not sent: ${r.skipped}`]
  if (r.error !== undefined) return [`failed: ${r.error.code}: ${r.error.message} (${r.durationMs ?? 0} ms)`]
  const lines = [`response: HTTP ${r.status ?? '?'} in ${r.durationMs ?? 0} ms`]
  if (r.outcome !== undefined) {
    const extra = r.outcome.retryAfterMs !== undefined ? ` (after ${r.outcome.retryAfterMs} ms)` : ''
    lines.push(`classify: ${r.outcome.kind}${r.outcome.reason !== undefined ? `: ${r.outcome.reason}` : ''}${extra}`)
  }
  if (r.body !== undefined && r.body !== '') lines.push(`body${r.truncated === true ? ' (truncated)' : ''}: ${r.body}`)
  return lines
}

const DROPPED: Readonly<Record<TryTag['dropped'][number]['reason'], string>> = {
  no_country: 'a national number and no country to read it in (set identity.defaultCountry or the tag\'s defaultCountry)',
  invalid: 'nothing this destination\'s rules can hash'
}

function tagText (t: TryTag, report: TryReport): string[] {
  const name = (i: number): string => `#${i} ${report.events[i]?.event_name ?? '?'}`
  const lines = [`${t.name} (${t.type}${t.dryRun ? ', dryRun' : ''})`]
  for (const r of t.routing) lines.push(`  ${name(r.event)}: ${routingText(r)}`)
  t.requests.forEach((q, n) => {
    lines.push(`  request ${n + 1} of ${t.requests.length} (${q.events.map(name).join(', ')}):`)
    for (const l of requestText(q.request)) lines.push(l === '' ? '' : `    ${l}`)
    if (q.response !== undefined) for (const l of responseText(q.response)) lines.push(`    → ${l}`)
  })
  for (const d of t.dropped) lines.push(`  ${name(d.event)} user_data ${d.field} not sent: ${DROPPED[d.reason]}`)
  for (const c of t.cut) lines.push(`  ${name(c.event)} ${c.field}: a value cut to the destination's length limit, or left out (past its count, or a name or value the destination refuses)`)
  for (const r of t.rejected) lines.push(`  ${name(r.event)} rejected: ${r.reason}`)
  if (t.error !== undefined) lines.push(`  error: ${t.error}`)
  return lines
}

export function formatTryReport (report: TryReport): string {
  const { input } = report
  const who = input.trusted ? 'trusted (a backend with an API key)' : 'untrusted (a browser)'
  const n = report.events.length
  const lines = [
    `${input.name}: ${input.method} ${input.path}, claimed by the ${input.client} client, ${who}: ${n} event${n === 1 ? '' : 's'}`,
    ...report.events.map(e => `  ${eventLine(e)}`)
  ]
  for (const note of report.notes) lines.push(`  note: ${note}`)
  for (const t of report.tags) lines.push('', ...tagText(t, report))
  const firing = report.tags.filter(t => t.routing.some(r => r.outcome === 'queued')).length
  const requests = report.tags.reduce((s, t) => s + t.requests.length, 0)
  lines.push('', `${firing} of ${report.tags.length} tags fire; ${requests} request${requests === 1 ? '' : 's'} ${report.sent ? 'built and sent' : 'built (not sent; --send sends them)'}.`)
  return lines.join('\n')
}
