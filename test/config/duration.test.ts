import t from 'tap'
import { DurationError, parseDuration } from '../../config/duration.js'

t.test('durations', async t => {
  t.equal(parseDuration(0), 0)
  t.equal(parseDuration(1500), 1500, 'a number is milliseconds')
  t.equal(parseDuration(1.6), 2)
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('30s'), 30_000)
  t.equal(parseDuration('10m'), 600_000)
  t.equal(parseDuration('4h'), 14_400_000)
  t.equal(parseDuration('2d'), 172_800_000)
  t.equal(parseDuration('1.5h'), 5_400_000)
  t.equal(parseDuration('10 m'), 600_000)
  for (const bad of ['', '10', '10x', '-5s', 'h', '1 minute', '1e3ms']) {
    t.throws(() => parseDuration(bad), DurationError, JSON.stringify(bad))
  }
  t.throws(() => parseDuration(-1), { code: 'bad_duration' })
  t.throws(() => parseDuration(Number.NaN), { code: 'bad_duration' })
})
