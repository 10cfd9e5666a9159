// The pure parts: retry arithmetic, Retry-After parsing, batch ids. The queue and dead-letter
// stores have their contract suites (queue-contract.test.ts, dead-letter-contract.test.ts).
import t from 'tap'
import { backoffMs, nextAttempt, resolveRetryPolicy, retryAfterMs } from '../../server/delivery/retry.js'
import { RETRY_DEFAULTS } from '../../schemas/defaults.js'
import { newBatchId } from '../../server/delivery/batch-id.js'

t.test('backoff: exponential, capped, jittered with the injected random', async t => {
  const p = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 1000 })
  t.equal(p.maxAttempts, RETRY_DEFAULTS.maxAttempts, 'unset fields come from the defaults block')
  t.same([1, 2, 3, 4, 5, 6].map(n => backoffMs(p, n, () => 1)), [100, 200, 400, 800, 1000, 1000])
  t.same([1, 2, 3].map(n => backoffMs(p, n, () => 0)), [50, 100, 200], 'equal jitter keeps half as a floor')
  const full = { ...p, jitter: 'full' as const }
  t.same([backoffMs(full, 3, () => 0), backoffMs(full, 3, () => 0.5)], [0, 200])
})

t.test('retryAfterMs reads delay-seconds and HTTP-dates', async t => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.equal(retryAfterMs({ 'retry-after': '3' }, now), 3000)
  t.equal(retryAfterMs({ 'Retry-After': ' 0 ' }, now), 0)
  t.equal(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }, now), 10_000)
  t.equal(retryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, now), 0, 'a past date means now')
  t.equal(retryAfterMs({ 'retry-after': ['2', '9'] }, now), 2000)
  t.equal(retryAfterMs({ 'retry-after': 'soon' }, now), undefined)
  t.equal(retryAfterMs({ 'retry-after': '-1' }, now), undefined)
  t.equal(retryAfterMs({}, now), undefined)
})

t.test('nextAttempt: Retry-After is a floor, the window and attempt count end it', async t => {
  const p = resolveRetryPolicy({ maxAttempts: 5, maxAgeMs: 10_000, initialDelayMs: 100, maxDelayMs: 200 })
  const s = { firstAttemptMs: 0, now: 1000, random: () => 1 }
  t.same(nextAttempt(p, { ...s, attempts: 1 }), { retry: true, dueMs: 1100 })
  t.same(nextAttempt(p, { ...s, attempts: 1, floorMs: 5000 }), { retry: true, dueMs: 6000 }, 'the floor beats the backoff and the cap')
  t.same(nextAttempt(p, { ...s, attempts: 5 }), { retry: false, why: 'max_attempts' })
  t.same(nextAttempt(p, { ...s, attempts: 1, floorMs: 20_000 }), { retry: false, why: 'max_age' }, 'a floor past the window gives up')
  t.same(nextAttempt(p, { ...s, now: 9950, attempts: 2 }), { retry: true, dueMs: 10_000 }, 'one last try at the edge of the window')
  t.same(nextAttempt(p, { ...s, now: 10_000, attempts: 3 }), { retry: false, why: 'max_age' })
})

t.test('batch ids are unique, time-ordered and free of dots', async t => {
  const a = newBatchId(1000)
  const b = newBatchId(2000)
  t.equal(a.length, 26)
  t.ok(a < b)
  t.not(newBatchId(1000), a)
  t.notMatch(a, '.')
})
