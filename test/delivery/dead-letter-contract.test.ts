// The dead-letter store contract, run against every implementation, plus what only the memory
// store does (its eviction warning).
import t from 'tap'
import { MemoryDeadLetters } from '../../server/delivery/memory-dead-letters.js'
import { deadLetterContract } from './fixtures/dead-letter-contract.js'
import { captureLogger, ev, silent } from './fixtures/helpers.js'

t.test('memory dead letters', async t => { deadLetterContract(t, max => new MemoryDeadLetters(max, silent())) })

t.test('memory dead letters log the first eviction, then every 100th', async t => {
  const log = captureLogger('warn')
  const s = new MemoryDeadLetters(2, log.logger)
  for (let i = 0; i < 4; i++) await s.add({ tag: 'a', event: ev(), outcome: 'dead_lettered', reason: `r${i}`, attempts: 1, atMs: i })
  t.equal(log.lines.length, 1, 'logged on the first eviction, not on every one')
  for (let i = 0; i < 98; i++) await s.add({ tag: 'a', event: ev(), outcome: 'dropped', reason: 'x', attempts: 1, atMs: 10 + i })
  t.equal(log.lines.length, 2, 'and again at the 100th')
})
