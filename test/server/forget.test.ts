// POST /admin/forget (server/forget.ts) on a real app, real Delivery and the loopback sink, with the
// memory store and on the real Redis: a person's stitching contexts, queued events (waiting and
// scheduled for a retry), dead letters and spooled events go; other visitors' stay; a backend event
// for them afterwards is no longer stitched.
import t from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import type { LightMyRequestResponse } from 'fastify'
import { AUTH, drained, gtagQuery, harness, json, redisStore, type Harness } from './fixtures/harness.js'
import { startSink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import { appendSpool } from '../../server/delivery/spool.js'
import type { Store } from '../../server/store/types.js'
import type { ForgetReport } from '../../server/forget.js'

const forgetReq = async (h: Harness, body: unknown, authorization: string | null = AUTH): Promise<LightMyRequestResponse> =>
  await h.app.inject({
    method: 'POST',
    url: '/admin/forget',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })

async function stats (h: Harness, tag: string): Promise<Record<string, number>> {
  const res = await h.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: AUTH } })
  return (json(res).queues as Array<Record<string, number> & { tag: string }>).find(q => q.tag === tag) as Record<string, number>
}

// hook delivers at once (it shows stitching); waiting holds its events a minute; retrying's
// destination answers 503 and retries in ten minutes; refusing's answers 400 (dead letters).
const TAGS = (url: string): string => `  - name: hook
    type: webhook
    url: ${url}/hook
    batch: { maxEvents: 100, maxWaitMs: 0 }
  - name: waiting
    type: webhook
    url: ${url}/waiting
    batch: { maxEvents: 100, maxWaitMs: 60000 }
  - name: retrying
    type: webhook
    url: ${url}/retrying
    batch: { maxEvents: 100, maxWaitMs: 0 }
    retry: { maxAttempts: 5, initialDelayMs: 600000, maxDelayMs: 600000 }
    breaker: { failures: 100 }
  - name: refusing
    type: webhook
    url: ${url}/refusing
    batch: { maxEvents: 100, maxWaitMs: 0 }
    retry: { maxAttempts: 1 }
`

const stores: Array<[string, () => Promise<Store | undefined>]> = [
  ['memory store', async () => undefined],
  ['redis store', async () => await redisStore()]
]

for (const [name, makeStore] of stores) {
  t.test(`${name}: forget a user id`, async t => {
    const sink = await startSink(t, r => r.path === '/retrying' ? 503 : r.path === '/refusing' ? 400 : 200)
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const dir = t.testdir()
    const spoolFile = join(dir, 'spool.jsonl')
    const h = await harness({ store, sink, tags: TAGS, spoolFile })
    t.teardown(h.close)

    // Two visitors browse and sign in; each begins a checkout.
    const browse = async (cid: string, uid: string, order: string): Promise<void> => {
      const hits: Array<Record<string, string>> = [{ en: 'page_view', uid }, { en: 'begin_checkout', 'ep.transaction_id': order }]
      for (const params of hits) {
        const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ cid, dl: 'https://shop.example/', ...params })}`, headers: { 'user-agent': `UA ${uid}` }, remoteAddress: '203.0.113.7' })
        t.equal(res.statusCode, 204)
      }
    }
    await browse('111.1', 'jane', 'T-JANE')
    await browse('222.2', 'bob', 'T-BOB')
    await until(async () => (await h.store.fields('ctx:tx:T-JANE')) !== undefined && (await h.store.fields('ctx:tx:T-BOB')) !== undefined &&
      (await h.store.fields('ctx:uid:jane')) !== undefined, 3000, 'contexts written')
    // Their purchases from the backend, stitched from the browser.
    const purchase = async (id: string, user: string, email: string): Promise<void> => {
      const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: id, user_id: user, value: 5, currency: 'EUR', user_data: { email_address: email } } })
      t.equal(res.statusCode, 202)
    }
    await purchase('P-jane', 'jane', 'Jane.Doe@gmail.com')
    await purchase('P-bob', 'bob', 'bob@example.com')
    // Each of them has 3 events: waiting at `waiting`, scheduled at `retrying`, dead at `refusing`.
    await until(async () => (await stats(h, 'retrying')).scheduled === 6 && (await stats(h, 'refusing')).dead === 6, 5000, 'retries scheduled and letters kept')
    t.equal((await stats(h, 'waiting')).waiting, 6)
    await drained(h, ['hook', 'refusing'])
    t.match(sink.delivered('/hook').find(e => e.event_id === 'P-jane'), { user_agent: 'UA jane', source: { stitched: Array } }, 'before: Jane\'s purchase is stitched')
    // A spool from an earlier run, with one event of each.
    await appendSpool(spoolFile, ['jane', 'bob'].map(user => ({ tag: 'waiting', event: { event_name: 'login', user_id: user }, attempts: 0, enqueuedMs: 1 })))

    const res = await forgetReq(h, { userId: 'jane' })
    t.equal(res.statusCode, 200)
    const report = json<ForgetReport>(res)
    t.same(report.contexts, { userId: 1, clientId: 1, orderId: 1 }, 'under her user id, her browser\'s client id and her order id')
    t.same(report.clientIds, ['111.1'], 'her browser, found in her context')
    t.same(report.tags, [
      { tag: 'refusing', queued: 0, deadLetters: 3, inFlight: 0 },
      { tag: 'retrying', queued: 3, deadLetters: 0, inFlight: 0 },
      { tag: 'waiting', queued: 3, deadLetters: 0, inFlight: 0 }
    ], 'her events at every tag that still held them')
    t.same(report.spool, { file: spoolFile, removed: 1 })
    t.same(report.alsoSeen, { userIds: [], clientIds: [] })

    for (const key of ['ctx:uid:jane', 'ctx:cid:111.1', 'ctx:tx:T-JANE']) t.equal(await h.store.fields(key), undefined, `${key} is gone`)
    for (const key of ['ctx:uid:bob', 'ctx:cid:222.2', 'ctx:tx:T-BOB']) t.not(await h.store.fields(key), undefined, `${key} stays`)
    t.match(await stats(h, 'waiting'), { waiting: 3 })
    t.match(await stats(h, 'retrying'), { scheduled: 3 })
    t.match(await stats(h, 'refusing'), { dead: 3 })
    const letters = await h.delivery.deadLetters.list('refusing')
    t.ok(letters.every(l => l.event.user_id === undefined || l.event.user_id === 'bob'), 'only Bob\'s letters are left')
    t.ok(letters.every(l => l.event.client_id === '222.2'), 'Bob\'s browser events and his purchase')
    const spool = await readFile(spoolFile, 'utf8')
    t.notMatch(spool, /jane/)
    t.match(spool, /"user_id":"bob"/)

    // Afterwards, a backend event for Jane finds nothing to stitch.
    await purchase('P-jane-2', 'jane', 'Jane.Doe@gmail.com')
    await sink.waitFor(() => sink.delivered('/hook').some(e => e.event_id === 'P-jane-2'), 'the new purchase')
    const after = sink.delivered('/hook').find(e => e.event_id === 'P-jane-2')
    t.equal(after.source.stitched, undefined, 'not stitched')
    t.equal(after.user_agent, undefined)
    t.equal(after.ip_override, undefined)
  })

  t.test(`${name}: forget an e-mail address, then a client id`, async t => {
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const dir = t.testdir()
    const spoolFile = join(dir, 'spool.jsonl')
    const h = await harness({ store, tags: TAGS, spoolFile })
    t.teardown(h.close)
    // Only the `waiting` tag holds anything here (the sink answers 200).
    const post = async (payload: object): Promise<void> => {
      const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload })
      t.equal(res.statusCode, 202)
    }
    await post({ event_name: 'sign_up', user_id: 'u-1', client_id: '333.3', user_data: { email_address: ' Jane.Doe@GMAIL.com ' } })
    await post({ event_name: 'generate_lead', client_id: '444.4', page_location: 'https://shop.example/thanks?email=jane.doe%40gmail.com' })
    await post({ event_name: 'sign_up', user_id: 'u-2', user_data: { email_address: 'mary.jane.doe@gmail.com' } })
    await post({ event_name: 'sign_up', user_id: 'u-3', user_data: { email_address: 'jane.doe@gmail.com.au' } })
    await until(async () => (await stats(h, 'waiting')).waiting === 4, 3000, 'queued')
    await drained(h, ['hook', 'retrying', 'refusing'])

    const res = await forgetReq(h, { email: 'jane.doe@gmail.com' })
    t.equal(res.statusCode, 200)
    const report = json<ForgetReport>(res)
    t.same(report.tags, [{ tag: 'waiting', queued: 2, deadLetters: 0, inFlight: 0 }], 'found hashed (Google\'s way: no dots in a Gmail address) and in a URL; not a longer address')
    t.same(report.alsoSeen, { userIds: ['u-1'], clientIds: ['333.3', '444.4'] }, 'the identifiers those events carried, to follow up')
    t.same(report.spool, { file: spoolFile, removed: 0, missing: true })
    t.equal((await stats(h, 'waiting')).waiting, 2)

    const byClient = json<ForgetReport>(await forgetReq(h, { clientId: '444.4' }))
    t.same(byClient.tags, [], 'already gone')
    const none = json<ForgetReport>(await forgetReq(h, { userId: 'u-2', clientId: 'nobody' }))
    t.same(none.tags, [{ tag: 'waiting', queued: 1, deadLetters: 0, inFlight: 0 }], 'identifiers combine')
  })
}

t.test('the route checks its key and its body', async t => {
  const h = await harness()
  t.teardown(h.close)
  t.equal((await forgetReq(h, { userId: 'x' }, null)).statusCode, 401, 'an API key is required')
  t.equal((await forgetReq(h, { userId: 'x' }, 'Bearer wrong')).statusCode, 401)
  const cases: Array<[string, unknown, string, string[]]> = [
    ['no body', '', 'bad_request', []],
    ['broken JSON', '{"userId":', 'bad_json', []],
    ['no identifier', {}, 'bad_request', ['']],
    ['an unknown key', { userId: 'x', name: 'Jane' }, 'bad_request', ['name']],
    ['an empty id', { userId: '' }, 'bad_request', ['userId']],
    ['a number', { clientId: 5 }, 'bad_request', ['clientId']],
    ['blanks only', { userId: '   ' }, 'bad_request', []],
    ['not an address', { email: 'jane at example' }, 'bad_request', []]
  ]
  for (const [what, body, code, paths] of cases) {
    const res = await forgetReq(h, body)
    t.equal(res.statusCode, 400, what)
    t.equal(json(res).error, code, what)
    t.same(json(res).details.map((d: { path: string }) => d.path), paths, `${what}: details`)
  }
  const ok = await forgetReq(h, { userId: 'nobody' })
  t.same(json(ok), { contexts: { userId: 0, clientId: 0, orderId: 0 }, clientIds: [], tags: [], alsoSeen: { userIds: [], clientIds: [] } }, 'nothing kept: nothing removed')
})

t.test('a spool with nothing else in it is deleted', async t => {
  const dir = t.testdir()
  const spoolFile = join(dir, 'spool.jsonl')
  const h = await harness({ spoolFile })
  t.teardown(h.close)
  await appendSpool(spoolFile, [{ tag: 'hook', event: { event_name: 'login', client_id: '9.9' }, attempts: 0, enqueuedMs: 1 }])
  t.same(json<ForgetReport>(await forgetReq(h, { clientId: '9.9' })).spool, { file: spoolFile, removed: 1 })
  t.notOk(existsSync(spoolFile))
})

t.test('erasing a user finds the Meta copy of an event that brought its own external_id', async t => {
  const sink = await startSink(t, 200)
  // Batches of two that wait a minute: the one event stays queued.
  const h = await harness({ sink, tags: o => [
    `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok_abcdef, endpoint: "${o}/meta", batch: { maxEvents: 2, maxWaitMs: 60000 } }`,
    `  - { name: hook, type: webhook, url: "${o}/hook", batch: { maxEvents: 2, maxWaitMs: 60000 } }`
  ].join('\n') + '\n' })
  t.teardown(() => h.close())
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: {
    event_name: 'purchase', event_id: 'T9', transaction_id: 'T9', value: 10, currency: 'EUR', user_id: 'U9',
    user_agent: 'UA', page_location: 'https://shop.example/thanks', ip_override: '198.51.100.9',
    user_data: { email_address: 'jane.doe@example.com', external_id: 'CRM-9' }
  } })
  t.equal(res.statusCode, 202)
  t.same([h.delivery.depth('meta'), h.delivery.depth('hook')], [1, 1])
  const f = await h.app.inject({ method: 'POST', url: '/admin/forget', headers: { 'content-type': 'application/json', authorization: AUTH }, payload: JSON.stringify({ userId: 'U9' }) })
  t.equal(f.statusCode, 200)
  t.same((json(f) as ForgetReport).tags.map(x => [x.tag, x.queued]).sort(), [['hook', 1], ['meta', 1]])
  t.same([h.delivery.depth('meta'), h.delivery.depth('hook')], [0, 0], 'both copies erased')
})
