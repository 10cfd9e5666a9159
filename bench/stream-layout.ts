// What the layout of a tag's stream costs, apart from everything else the gateway does: the same
// tag copies pushed, taken and released through ioredis against a real Redis, (a) one stream entry
// per copy, as server/delivery/redis-queue.ts stores them (four arguments and one XADD per copy,
// one XACK + XDEL per copy), against (b) one entry per push call holding all of its copies (one
// argument per call, one XADD, one XACK + XDEL per entry). Dedup marks are set per copy in both.
// Reports this process's CPU and Redis's (INFO) per copy, interleaved a b a b … (bench/README.md,
// "Issue 8, fifth look"). Usage: npx tsx bench/stream-layout.ts [rounds, default 4]
import { Redis } from 'ioredis'
import { randomBytes } from 'node:crypto'
import { BROWSER_HEADERS } from './inputs.js'

const ROUNDS = Number(process.argv[2] ?? 4)
const CALLS = 400 // push calls per round and layout
const PER_CALL = 50 // copies per push call: one event-loop turn under load
const IN_FLIGHT = 4
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const client = new Redis(url, { protocol: 2 }) // RESP2, as the store's client
const prefix = `tagline-bench-layout:${process.pid}-${randomBytes(3).toString('hex')}:`
const GROUP = 'delivery'

// A lean page-view copy as the gateway stores it (about 1.3 KB).
const event = JSON.stringify({ event_name: 'page_view', client_id: '1234567890.1717000000', language: 'en-us', page_location: 'https://shop.example/p/stan-tee', page_referrer: 'https://www.google.com/', page_title: 'Stan and Friends Tee', user_agent: BROWSER_HEADERS['user-agent'], consent: { ad_storage: 'granted', analytics_storage: 'granted' }, items: [{ item_id: 'SKU_12345', item_name: 'Stan and Friends Tee', price: 10.01, quantity: 1 }], browser_ids: { fbp: 'fb.1.1717000000000.1234567890', ga: 'GA1.1.1234567890.1717000000' }, pad: 'x'.repeat(500) })
const record = (id: string): string => `{"id":"${id}","tag":"meta","attempts":0,"enqueuedMs":${Date.now()},"event":${event}}`

const PER_COPY = `
local i = 1
for n = 1, (#ARGV) / 4 do
  if ARGV[i] ~= '0' then redis.call('SET', KEYS[1 + tonumber(ARGV[i])], '1', 'PX', 60000) end
  redis.call('XADD', KEYS[1], '*', 'r', ARGV[i + 1], 't', ARGV[i + 2], 'i', ARGV[i + 3])
  i = i + 4
end
return 0`
const PER_CALL_ENTRY = `
for k = 2, #KEYS do redis.call('SET', KEYS[k], '1', 'PX', 60000) end
redis.call('XADD', KEYS[1], '*', 'r', ARGV[1], 'n', ARGV[2], 'i', ARGV[3])
return 0`
const TAKE = `
local got = redis.call('XREADGROUP', 'GROUP', '${GROUP}', 'me', 'COUNT', ARGV[1], 'STREAMS', KEYS[1], '>')
local out = {}
if got then for _, e in ipairs(got[1][2]) do
  local f = e[2]
  for j = 1, #f, 2 do if f[j] == 'i' then out[#out + 1] = { e[1], { 'i', f[j + 1] } } end end
end end
return out`
const RELEASE = `
for i = 1, #ARGV do redis.call('XACK', KEYS[1], '${GROUP}', ARGV[i]); redis.call('XDEL', KEYS[1], ARGV[i]) end
return #ARGV`
client.defineCommand('perCopy', { lua: PER_COPY })
client.defineCommand('perCallEntry', { lua: PER_CALL_ENTRY })
client.defineCommand('takeIds', { lua: TAKE, numberOfKeys: 1 })
client.defineCommand('releaseIds', { lua: RELEASE, numberOfKeys: 1 })
type Cmd = (...args: Array<string | number>) => Promise<unknown>
const c = client as unknown as Redis & { perCopy: Cmd, perCallEntry: Cmd, takeIds: Cmd, releaseIds: Cmd }

async function redisCpu (): Promise<number> {
  const info = await client.info('cpu')
  const n = (k: string): number => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return n('used_cpu_sys') + n('used_cpu_user')
}

async function round (layout: 'per-copy' | 'per-call'): Promise<{ gatewayUs: number, redisUs: number }> {
  const q = `${prefix}{${layout}}:q`
  await client.del(q)
  await client.xgroup('CREATE', q, GROUP, '$', 'MKSTREAM')
  let seq = 0
  const r0 = await redisCpu()
  const t0 = process.cpuUsage()
  const one = async (): Promise<void> => {
    const ids = Array.from({ length: PER_CALL }, () => `rec-${seq++}`)
    const marks = ids.map(id => `${prefix}{${layout}}:seen:page_view\u0000${id}`)
    // The per-copy layout keeps what the gateway keeps per copy (the record by id, see
    // RedisStreamQueue.mine); the per-call one keeps the call's records under one id.
    const mine = new Map<string, string>()
    if (layout === 'per-copy') {
      const args: Array<string | number> = [1 + marks.length, q, ...marks]
      ids.forEach((id, n) => { const r = record(id); mine.set(id, r); args.push(n + 1, r, Date.now(), id) })
      await c.perCopy(...args)
      const taken = await c.takeIds(q, PER_CALL) as Array<[string, string[]]>
      const entries: string[] = []
      for (const [entry, f] of taken) if (mine.has(f[1])) entries.push(entry)
      await c.releaseIds(q, ...entries)
    } else {
      const lines = ids.map(record)
      const callId = `call-${seq}`
      mine.set(callId, lines.join('\n'))
      await c.perCallEntry(1 + marks.length, q, ...marks, `[${lines.join(',')}]`, lines.length, callId)
      const taken = await c.takeIds(q, 1) as Array<[string, string[]]>
      const entries: string[] = []
      for (const [entry, f] of taken) if (mine.has(f[1])) entries.push(entry)
      await c.releaseIds(q, ...entries)
    }
  }
  for (let i = 0; i < CALLS; i += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, one))
  const t = process.cpuUsage(t0)
  const r1 = await redisCpu()
  const copies = CALLS * PER_CALL
  await client.del(q)
  return { gatewayUs: Math.round((t.user + t.system) / copies * 10) / 10, redisUs: Math.round((r1 - r0) * 1e6 / copies * 10) / 10 }
}

try {
  // Warm-up, both layouts twice: JIT, scripts loaded (a first round of each measured 2-3× the rest).
  for (let w = 0; w < 2; w++) { await round('per-copy'); await round('per-call') }
  for (let r = 0; r < ROUNDS; r++) {
    for (const layout of r % 2 === 0 ? ['per-copy', 'per-call'] as const : ['per-call', 'per-copy'] as const) {
      console.log(JSON.stringify({ round: r + 1, layout, copies: CALLS * PER_CALL, ...await round(layout) }))
    }
  }
} finally {
  const keys = await client.keys(`${prefix}*`)
  for (let i = 0; i < keys.length; i += 1000) await client.unlink(...keys.slice(i, i + 1000))
  client.disconnect()
}
