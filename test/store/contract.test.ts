// The same contract, run against both stores.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { MemoryStore, RedisStore, createStore, type Store } from '../../server/store/index.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const makers: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', async () => createStore({ redis: REDIS_URL, prefix: `tagline-test:${randomUUID()}:` })]
]

for (const [name, make] of makers) {
  t.test(`${name} store`, async t => {
    const store = await make()
    t.teardown(() => store.close())
    t.equal(store.kind, name)
    t.equal(await store.ping(), true, 'ping')

    t.equal(await store.fields('ctx:cid:1.2'), undefined, 'nothing kept yet')
    await store.merge('ctx:cid:1.2', { ip_override: '203.0.113.7', 'click_ids.fbclid': 'F1' }, 60_000)
    await store.merge('ctx:cid:1.2', { ip_override: '203.0.113.8', 'browser_ids.fbp': 'fb.1.2.3' }, 60_000)
    t.same(await store.fields('ctx:cid:1.2'), { ip_override: '203.0.113.8', 'click_ids.fbclid': 'F1', 'browser_ids.fbp': 'fb.1.2.3' }, 'fields merge; newer values win')
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.merge('ctx:race', { [`f${i}`]: String(i) }, 60_000)))
    t.equal(Object.keys(await store.fields('ctx:race') ?? {}).length, 10, 'concurrent merges lose no field')
    await store.merge('ctx:cid:1.2', { refused: '1' }, 60_000, { replace: true })
    t.same(await store.fields('ctx:cid:1.2'), { refused: '1' }, 'a replace leaves nothing of what was there')
    await store.merge('ctx:cid:1.2', { ip_override: '203.0.113.9' }, 60_000)
    t.same(await store.fields('ctx:cid:1.2'), { refused: '1', ip_override: '203.0.113.9' }, 'and a merge after it merges again')
    await store.merge('ctx:new', { a: '1' }, 60_000, { replace: true })
    t.same(await store.fields('ctx:new'), { a: '1' }, 'a replace of nothing writes')
    // Order within a turn holds: a merge, a replace, a merge of one key in the same turn.
    await Promise.all([
      store.merge('ctx:turn', { old: '1', keep: 'no' }, 60_000),
      store.merge('ctx:turn', { refused: '1' }, 60_000, { replace: true }),
      store.merge('ctx:turn', { after: '1' }, 60_000)
    ])
    t.same(await store.fields('ctx:turn'), { refused: '1', after: '1' }, 'in the order given')
    // Ordered writes (stitching contexts, by arrival): a merge older than the record is skipped,
    // a replace always lands.
    await store.merge('ctx:ord', { at_ms: '200', refused: '1' }, 60_000, { replace: true, order: 'at_ms' })
    await store.merge('ctx:ord', { at_ms: '100', refused: '0', ip_override: '203.0.113.7' }, 60_000, { order: 'at_ms' })
    t.same(await store.fields('ctx:ord'), { at_ms: '200', refused: '1' }, 'an older grant, written late, does not undo a newer refusal')
    await store.merge('ctx:ord', { at_ms: '200', gpc: '1' }, 60_000, { order: 'at_ms' })
    await store.merge('ctx:ord', { at_ms: '300', refused: '0' }, 60_000, { order: 'at_ms' })
    t.same(await store.fields('ctx:ord'), { at_ms: '300', refused: '0', gpc: '1' }, 'the same time or newer merges')
    await store.merge('ctx:ord', { at_ms: '150', refused: '1' }, 60_000, { replace: true, order: 'at_ms' })
    t.same(await store.fields('ctx:ord'), { at_ms: '150', refused: '1' }, 'a replace lands whatever its time')
    await store.merge('ctx:ord', { note: 'x' }, 60_000, { order: 'at_ms' })
    t.same(await store.fields('ctx:ord'), { at_ms: '150', refused: '1', note: 'x' }, 'a write without the field merges')
    await store.merge('ctx:short', { a: 'x' }, 30)
    await new Promise(resolve => setTimeout(resolve, 80))
    t.equal(await store.fields('ctx:short'), undefined, 'a record expires with its ttl')
    await store.merge('ctx:short', { b: 'y' }, 60_000)
    t.same(await store.fields('ctx:short'), { b: 'y' }, 'an expired record does not come back')

    // Many merges at once (one event-loop turn: more than one Redis call takes), with repeats of
    // a key among them: every record lands, and a key's later merge wins field by field.
    const keys = Array.from({ length: 450 }, (_, i) => `ctx:many:${i}`)
    await Promise.all([
      ...keys.map((k, i) => store.merge(k, { n: String(i), 'x.y': 'first' }, 60_000)),
      store.merge('ctx:many:7', { 'x.y': 'second', extra: '1' }, 60_000),
      store.merge('ctx:many:449', { n: 'last' }, 60_000)
    ])
    const got = await Promise.all(keys.map(async k => await store.fields(k)))
    t.equal(got.filter(r => r !== undefined).length, 450, 'every record of a burst is kept')
    t.same(got[7], { n: '7', 'x.y': 'second', extra: '1' }, 'a later merge of the same key in the burst wins, field by field')
    t.same(got[449], { n: 'last', 'x.y': 'first' })
    await Promise.all([store.merge('ctx:ttl', { a: '1' }, 60_000), store.merge('ctx:ttl', { b: '2' }, 40)])
    await new Promise(resolve => setTimeout(resolve, 90))
    t.equal(await store.fields('ctx:ttl'), undefined, 'the last merge of a key sets its ttl, as one after the other would')
  })

  t.test(`${name} store: scan by prefix, remove by key`, async t => {
    const store = await make()
    t.teardown(() => store.close())
    // 2 500 records span several pages; a glob character in the prefix is taken literally.
    for (let i = 0; i < 2500; i++) await store.merge(`ctx:cid:${i}`, { client_id: String(i) }, 60_000)
    await store.merge('ctx:uid:u*1', { user_id: 'u*1' }, 60_000)
    await store.merge('ctx:uid:u21', { user_id: 'u21' }, 60_000)
    await store.merge('ctx:tx:gone', { a: 'x' }, 20)
    await new Promise(resolve => setTimeout(resolve, 50))
    const seen = new Map<string, Record<string, string>>()
    let pages = 0
    for await (const page of store.scan('ctx:cid:')) {
      pages++
      for (const [key, fields] of page) seen.set(key, fields)
    }
    t.equal(seen.size, 2500, 'every record under the prefix, once')
    t.ok(pages > 1, `in pages (${pages})`)
    t.same(seen.get('ctx:cid:7'), { client_id: '7' }, 'with its fields')
    const literal: string[] = []
    for await (const page of store.scan('ctx:uid:u*')) literal.push(...page.map(([k]) => k))
    t.same(literal, ['ctx:uid:u*1'], '* in the prefix is a character, not a wildcard')
    const expired: string[] = []
    for await (const page of store.scan('ctx:tx:')) expired.push(...page.map(([k]) => k))
    t.same(expired, [], 'an expired record is not listed')

    t.equal(await store.remove(['ctx:cid:1', 'ctx:cid:2', 'ctx:nothing', 'ctx:tx:gone']), 2, 'counts only the live records it removed')
    t.equal(await store.fields('ctx:cid:1'), undefined, 'removed')
    t.same(await store.fields('ctx:cid:3'), { client_id: '3' }, 'the others stay')
    t.equal(await store.remove([]), 0)
    const many = Array.from({ length: 2400 }, (_, i) => `ctx:cid:${i + 100}`)
    t.equal(await store.remove(many), 2400, 'more keys than one call takes')
  })
}

t.test('memory store stays bounded', async t => {
  let now = 0
  const store = new MemoryStore({ maxKeys: 100, now: () => now })
  for (let i = 0; i < 1000; i++) await store.merge('k' + i, { a: 'x' }, 1000)
  t.ok(store.size <= 101, `size ${store.size} stays near the bound`)
  t.same(await store.fields('k999'), { a: 'x' }, 'the newest record is kept')
  now = 5000
  await store.merge('fresh', { a: 'y' }, 1000)
  t.equal(store.size, 1, 'expired records are swept')
})

t.test('redis store: the merges and the reads of one turn are one call each; a record Redis refuses fails only its own caller', async t => {
  const store = new RedisStore({ url: REDIS_URL, prefix: `tagline-test:${randomUUID()}:` })
  t.teardown(() => store.close())
  await store.connect()
  const calls: string[] = []
  const send = store.client.sendCommand.bind(store.client)
  store.client.sendCommand = (cmd => { calls.push(cmd.name); return send(cmd) }) as typeof store.client.sendCommand
  const scripts = (): number => calls.filter(c => c === 'evalsha').length
  await Promise.all(Array.from({ length: 50 }, async (_, i) => await store.merge(`ctx:turn:${i}`, { i: String(i) }, 60_000)))
  t.equal(scripts(), 1, `50 merges in one turn: one script call, not 50 (${calls.join(' ')})`)
  const read = await Promise.all([...Array.from({ length: 50 }, async (_, i) => await store.fields(`ctx:turn:${i}`)), store.fields('ctx:turn:none')])
  t.equal(scripts(), 2, '51 reads in one turn: one script call')
  t.same(read[49], { i: '49' })
  t.equal(read[50], undefined, 'a record that is not there reads as undefined')
  // A record whose key holds another type (another program's key under our prefix): Redis refuses
  // it, and only its own merge or read hears it; the others of the same call go through.
  await store.client.set(`${store.prefix}rec:ctx:turn:string`, 'x')
  const merged = await Promise.allSettled([store.merge('ctx:turn:a', { a: '1' }, 60_000), store.merge('ctx:turn:string', { b: '2' }, 60_000)])
  t.same(merged.map(r => r.status), ['fulfilled', 'rejected'])
  t.match((merged[1] as PromiseRejectedResult).reason, { message: /WRONGTYPE/ })
  const reads = await Promise.allSettled([store.fields('ctx:turn:a'), store.fields('ctx:turn:string')])
  t.same(reads.map(r => r.status), ['fulfilled', 'rejected'])
  t.same((reads[0] as PromiseFulfilledResult<unknown>).value, { a: '1' })
  t.match((reads[1] as PromiseRejectedResult).reason, { message: /WRONGTYPE/ })
  t.ok(await store.client.pttl(`${store.prefix}rec:ctx:turn:a`) > 50_000, 'the merge that went through set its ttl')
  await store.client.hset(`${store.prefix}rec:ctx:turn:proto`, '__proto__', 'x', 'a', '1')
  const proto = await store.fields('ctx:turn:proto')
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'a field named __proto__ in Redis stays a field')
  t.same(Object.keys(proto ?? {}).sort(), ['__proto__', 'a'])
})

t.test('redis store reports an unreachable server', async t => {
  const store = new RedisStore({ url: 'redis://127.0.0.1:1' })
  t.teardown(() => store.close())
  t.equal(await store.ping(), false)
  await t.rejects(store.fields('x'))
})
