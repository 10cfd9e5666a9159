// What only the file store does (the contract runs in dead-letter-contract.test.ts): letters that
// outlive the process, a journal that survives a torn write, compaction, and appends that never
// interleave. Real files in tap's per-test directories.
import t from 'tap'
import { appendFileSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { FileDeadLetters } from '../../server/delivery/file-dead-letters.js'
import type { DeadLetter } from '../../server/delivery/types.js'
import { captureLogger, ev } from './fixtures/helpers.js'

const letter = (tag: string, reason: string, atMs: number): DeadLetter =>
  ({ tag, event: ev(), outcome: 'dead_lettered', reason, attempts: 1, atMs })

const reasons = (letters: DeadLetter[]): string[] => letters.map(l => l.reason)

/** The journal's lines, each parsed (a line that is not JSON fails the test here). */
const journal = (file: string): Array<Record<string, any>> =>
  readFileSync(file, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l))

t.test('letters, ids and eviction counts survive close and reopen', async t => {
  const file = join(t.testdir(), 'nested', 'dir', 'dead-letters.jsonl')
  const first = await FileDeadLetters.open({ file, max: 2 })
  for (let i = 0; i < 4; i++) await first.add(letter('a', `a${i}`, i))
  await first.add(letter('b', 'b0', 10))
  await first.add(letter('b', 'b1', 11))
  const [b0] = await first.list('b')
  t.equal(await first.remove('b', [b0.id]), 1)
  const before = await first.list()
  await first.close()
  await t.rejects(first.add(letter('a', 'late', 99)), /closed/, 'a closed store takes nothing more')
  t.equal(statSync(file).mode & 0o777, 0o600, 'only the owner can read the journal')

  const log = captureLogger('warn')
  const again = await FileDeadLetters.open({ file, max: 2, logger: log.logger })
  t.same(await again.list(), before, 'the same letters, with the same ids, in the same order')
  t.same(reasons(await again.list('a')), ['a2', 'a3'])
  t.equal(await again.evicted('a'), 2, 'the evictions are still counted')
  t.equal(await again.evicted('b'), 0)
  t.equal(await again.count('b'), 1, 'the removal holds')
  t.same(await again.tags(), ['a', 'b'])
  t.equal(log.lines.length, 0, 'reloading logs no eviction again')

  await again.add(letter('a', 'a4', 20))
  const ids = (await again.list('a')).map(l => l.id)
  t.notOk(before.some(l => l.id === ids[1]), 'a new letter gets an id no earlier run gave')
  t.equal(await again.evicted('a'), 3, 'and counting goes on from the stored count')
  await again.close()
})

t.test('a torn last line and an unreadable one are skipped and counted; the rest loads', async t => {
  const file = join(t.testdir(), 'dead-letters.jsonl')
  const first = await FileDeadLetters.open({ file, max: 10 })
  await first.add(letter('a', 'r0', 0))
  await first.add(letter('a', 'r1', 1))
  appendFileSync(file, '{"op":"add","id":"x"}\n')
  await first.add(letter('a', 'r2', 2))
  await first.close()
  // A crash in the middle of an append.
  appendFileSync(file, '{"op":"add","id":"y","letter":{"tag":"a","ev')

  const log = captureLogger('warn')
  const again = await FileDeadLetters.open({ file, max: 10, logger: log.logger })
  t.same(reasons(await again.list('a')), ['r0', 'r1', 'r2'])
  t.match(log.lines.map(l => JSON.parse(l)), [{ msg: 'dead-letter journal: skipped unreadable lines', bad: 2, file }])
  await again.add(letter('a', 'r3', 3))
  await again.close()
  t.same(journal(file).map(l => l.letter?.reason), ['r0', 'r1', 'r2', 'r3'], 'the file was rewritten: the next line did not continue the torn one')

  const log2 = captureLogger('warn')
  const third = await FileDeadLetters.open({ file, max: 10, logger: log2.logger })
  t.same(reasons(await third.list('a')), ['r0', 'r1', 'r2', 'r3'])
  t.equal(log2.lines.length, 0, 'nothing unreadable any more')
  await third.close()
})

t.test('a last line cut just before its newline is kept, and the next append starts a line of its own', async t => {
  const file = join(t.testdir(), 'dead-letters.jsonl')
  const first = await FileDeadLetters.open({ file, max: 10 })
  await first.add(letter('a', 'r0', 0))
  await first.close()
  appendFileSync(file, JSON.stringify({ op: 'add', id: 'cut', letter: letter('a', 'r1', 1) }))

  const again = await FileDeadLetters.open({ file, max: 10 })
  t.same((await again.list('a')).map(l => [l.id, l.reason]).slice(1), [['cut', 'r1']])
  await again.add(letter('a', 'r2', 2))
  await again.close()
  t.same(journal(file).map(l => l.letter.reason), ['r0', 'r1', 'r2'])
})

t.test('compaction keeps exactly the live letters and the eviction counts, and shrinks the file', async t => {
  const file = join(t.testdir(), 'dead-letters.jsonl')
  const s = await FileDeadLetters.open({ file, max: 5 })
  let longest = 0
  for (let i = 0; i < 150; i++) {
    await s.add(letter('a', `a${i}`, i))
    longest = Math.max(longest, journal(file).length)
  }
  t.ok(longest <= 100, `the journal was compacted as it grew (at most ${longest} lines for 150 adds)`)
  for (let i = 0; i < 3; i++) await s.add(letter('b', `b${i}`, 200 + i))
  const [b0, b1] = await s.list('b')
  await s.remove('b', [b0.id, b1.id])
  const live = await s.list()
  const size = statSync(file).size

  await s.compact()
  t.ok(statSync(file).size < size, 'smaller')
  const lines = journal(file)
  t.same(lines.filter(l => l.op === 'evict'), [{ op: 'evict', tag: 'a', n: 145 }], 'the evictions, as a count')
  const adds = lines.filter(l => l.op === 'add')
  t.same(adds.map(l => l.id), live.map(l => l.id), 'the live letters, each once, and nothing else')
  t.equal(lines.length, adds.length + 1, 'no removals left')
  t.same(adds.map(l => ({ ...l.letter, id: l.id })), live, 'whole')
  await s.close()

  const again = await FileDeadLetters.open({ file, max: 5 })
  t.same(await again.list(), live, 'a reopened store holds just those')
  t.equal(await again.evicted('a'), 145)
  t.equal(await again.evicted('b'), 0)
  await again.close()
})

t.test('50 concurrent adds write 50 whole lines, in call order', async t => {
  const file = join(t.testdir(), 'dead-letters.jsonl')
  const s = await FileDeadLetters.open({ file, max: 100 })
  const sent = Array.from({ length: 50 }, (_, i) => letter(`t${i % 3}`, `r${i}`, i))
  await Promise.all(sent.map(async l => { await s.add(l) }))
  const lines = journal(file)
  t.equal(lines.length, 50)
  t.ok(lines.every(l => l.op === 'add'))
  t.same(lines.map(l => l.letter.reason), reasons(sent), 'one line each, in the order add was called')
  t.equal(new Set(lines.map(l => l.id)).size, 50, 'each with its own id')
  await s.close()
  const again = await FileDeadLetters.open({ file, max: 100 })
  t.same(reasons(await again.list()), reasons(sent))
  await again.close()
})
