// One log line per key at most every window, carrying what was held back.
import t from 'tap'
import { Throttle } from '../../common/throttle.js'

t.test('the first passes at once, the rest of the window is held and carried by the next', async t => {
  const th = new Throttle(1000)
  t.equal(th.pass('a', 0, 3), 0, 'first: nothing held')
  t.equal(th.pass('a', 500, 2), undefined)
  t.equal(th.pass('b', 500), 0, 'keys are apart')
  t.equal(th.pass('a', 999), undefined)
  t.equal(th.pass('a', 1000, 4), 3, 'a window later: the 2 + 1 held back')
  t.equal(th.pass('a', 1500), undefined)
  t.equal(th.pass('a', 5000), 1)
})
