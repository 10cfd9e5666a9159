// What the live debug view costs: CPU time per GA4 hit through the whole gateway (bench/cpu-per-hit.ts,
// five tags, embedded mode) with the view off, enabled but unwatched, and watched by one viewer.
// The variants run interleaved (A B C, then C B A, …) in fresh processes, so a machine that
// drifts during the run drifts for all three; the spread of each variant's runs is the noise.
// Usage: npm run bench:debug   (BENCH_ROUNDS, default 4; BENCH_HITS, default 8000)
// Writes bench/results/debug-latest.json. See bench/README.md, "The debug view".
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const HITS = Number(process.env.BENCH_HITS ?? 8000)
const VARIANTS = [
  { name: 'off', flags: [] },
  { name: 'enabled, unwatched', flags: ['--debug'] },
  { name: 'watched (one viewer)', flags: ['--watched'] }
] as const
const script = fileURLToPath(new URL('./cpu-per-hit.ts', import.meta.url))

function run (flags: readonly string[]): { cpuUsPerHit: number, traced: number, streamedBytesPerHit: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, String(HITS), ...flags], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').at(-1) as string)
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }

console.log(`debug view cost: ${ROUNDS} rounds × ${VARIANTS.length} variants × ${HITS} GA4 hits, five tags, embedded; ${cpus().length} CPUs, load ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
const samples = new Map<string, number[]>(VARIANTS.map(v => [v.name, []]))
const extra = new Map<string, { traced: number, streamedBytesPerHit: number }>()
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()
  for (const v of order) {
    const res = run(v.flags)
    samples.get(v.name)?.push(res.cpuUsPerHit)
    extra.set(v.name, { traced: res.traced, streamedBytesPerHit: res.streamedBytesPerHit })
    process.stdout.write(`  round ${r + 1}: ${v.name.padEnd(22)} ${res.cpuUsPerHit} µs/hit\n`)
  }
}
const off = median(samples.get('off') as number[])
const rows = VARIANTS.map(v => {
  const xs = samples.get(v.name) as number[]
  const m = median(xs)
  return { variant: v.name, medianUsPerHit: m, min: Math.min(...xs), max: Math.max(...xs), spreadPct: Math.round((Math.max(...xs) - Math.min(...xs)) / m * 1000) / 10, vsOff: Math.round(m / off * 1000) / 1000, ...extra.get(v.name) }
})
console.log('\nvariant                 median µs/hit   min–max      spread   ÷ off')
for (const r of rows) console.log(`${r.variant.padEnd(24)}${String(r.medianUsPerHit).padStart(8)}     ${`${r.min}–${r.max}`.padEnd(12)} ${`${r.spreadPct}%`.padStart(6)}   ${r.vsOff.toFixed(3)}`)
const [o, u] = rows
// Within noise: the two medians differ by less than the larger run-to-run spread of either.
const noise = Math.max(o.max - o.min, u.max - u.min)
const within = Math.abs(u.medianUsPerHit - o.medianUsPerHit) <= noise
// Each round runs the two next to each other: their difference drifts less than either.
const offs = samples.get('off') as number[]
const paired = (samples.get('enabled, unwatched') as number[]).map((x, i) => x - offs[i])
console.log(`\nenabled but unwatched vs off: ${u.medianUsPerHit - o.medianUsPerHit >= 0 ? '+' : ''}${u.medianUsPerHit - o.medianUsPerHit} µs/hit against a run-to-run spread of ${noise} µs: ${within ? 'within noise' : 'MORE than the noise'}`)
console.log(`paired by round (unwatched − off): ${paired.join(', ')} µs/hit; median ${median(paired)}`)
const dir = fileURLToPath(new URL('./results/', import.meta.url))
mkdirSync(dir, { recursive: true })
writeFileSync(`${dir}debug-latest.json`, JSON.stringify({ at: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model, rounds: ROUNDS, hits: HITS, rows, samples: Object.fromEntries(samples), pairedUnwatchedMinusOff: paired, unwatchedWithinNoise: within }, null, 2) + '\n')
process.exitCode = within || process.env.BENCH_STRICT !== '1' ? 0 : 1
