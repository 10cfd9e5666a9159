// The debug view's ring of recent traces is bounded by its count and by its total size: anyone can
// mark a request for tracing, and a marked request of many large events makes megabytes of trace.
import t from 'tap'
import { RING_MAX_CHARS, TraceHub } from '../../server/debug/hub.js'
import type { TraceEntry } from '../../server/debug/trace.js'

const entry = (n: number, chars: number): TraceEntry => ({ kind: 'exchange', at: n, note: `#${n}`, body: 'x'.repeat(chars) }) as unknown as TraceEntry
const notes = (hub: TraceHub): string[] => hub.recent().map(e => (e as unknown as { note: string }).note)

t.test('the ring keeps at most ringSize entries and RING_MAX_CHARS of them, oldest out first', async t => {
  const hub = new TraceHub({ replica: 'test', ringSize: () => 5 })
  for (let i = 1; i <= 7; i++) hub.record(entry(i, 10))
  t.same(notes(hub), ['#3', '#4', '#5', '#6', '#7'], 'by count')

  const big = Math.floor(RING_MAX_CHARS / 3)
  for (let i = 8; i <= 11; i++) hub.record(entry(i, big))
  t.same(notes(hub), ['#10', '#11'], 'by size: three of a third of the budget would be over it with their JSON')
  const total = hub.recent().reduce((n, e) => n + JSON.stringify(e).length, 0)
  t.ok(total <= RING_MAX_CHARS, `what is kept fits the budget (${total} characters)`)

  hub.record(entry(12, RING_MAX_CHARS + 1000))
  t.same(notes(hub), ['#12'], 'an entry larger than the budget alone is still kept, as the newest')
  hub.record(entry(13, 10))
  t.same(notes(hub), ['#13'], 'and goes at the next one')
})
