// A refusal is remembered: a visitor who granted, then refused (Consent Mode update, Sec-GPC), is
// not stitched into a later backend purchase that states no consent. Its identifiers were erased
// by the refusal, and the purchase takes the refusal as its consent, so Meta and TikTok (whose
// consent gates and GPC block it) get nothing, through the real app and store.
import t, { type Test } from 'tap'
import { harness, AUTH, gtagQuery, drained, redisStore, type Harness } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'
import { until } from '../fixtures/wait.js'
import type { Store } from '../../server/store/types.js'

const answer = (r: { path: string }): number | { status: number, body: string } => r.path === '/tiktok' ? { status: 200, body: '{"code":0,"message":"OK"}' } : 200
const tags = (o: string): string => [
  `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok, endpoint: "${o}/meta", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`,
  `  - { name: tiktok, type: tiktok, pixelCode: C0PIXEL, accessToken: tok, endpoint: "${o}/tiktok", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`,
  `  - { name: hook, type: webhook, url: "${o}/hook", batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 } }`
].join('\n') + '\n'
const UA = 'Mozilla/5.0 (Visitor)'
const GRANTED = { gcs: 'G111', gcd: '13t3t3t3t5l1' }
const DENIED = { gcs: 'G100', gcd: '13p3p3p2p5l1' }

async function gateway (t: Test, store?: Store): Promise<{ h: Harness, sink: Sink }> {
  const sink = await startSink(t, answer)
  const h = await harness({ sink, tags, store })
  t.teardown(async () => { await h.close(); await store?.close() })
  return { h, sink }
}

const hit = async (h: Harness, p: Record<string, string>, headers: Record<string, string> = {}): Promise<void> => {
  const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ cid: 'C1.1', uid: 'U1', ...p })}`, headers: { 'user-agent': UA, cookie: '_fbp=fb.1.1.111; _ttp=TTP1', ...headers }, remoteAddress: '203.0.113.7' })
  if (res.statusCode !== 204) throw new Error(`hit: ${res.statusCode}`)
}

/** A backend purchase with no consent of its own; what each destination got of it. */
let purchases = 0
async function purchase (h: Harness, sink: Sink, key: Record<string, string>): Promise<{ paths: string[], hook: any }> {
  const id = `B-${++purchases}-${Date.now()}`
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: id, value: 10, currency: 'EUR', ...key } })
  if (res.statusCode !== 202) throw new Error(`purchase: ${res.statusCode}`)
  const mine = (): typeof sink.requests => sink.requests.filter(r => r.raw.includes(id))
  await sink.waitFor(() => mine().some(r => r.path === '/hook'), 'the webhook')
  await drained(h)
  return { paths: mine().map(r => r.path).sort(), hook: (mine().find(r => r.path === '/hook')?.json as any).events[0] }
}

for (const [store, make] of [['memory', undefined], ['redis', redisStore]] as const) {
  for (const [refusal, params, headers] of [
    ['a Consent Mode update to denied', DENIED, {}],
    ['Sec-GPC: 1', GRANTED, { 'sec-gpc': '1' }]
  ] as const) {
    t.test(`${store}: after ${refusal}, a backend purchase for the visitor, order or user gets nothing of theirs`, async t => {
      const { h, sink } = await gateway(t, make === undefined ? undefined : await make())
      await hit(h, { en: 'begin_checkout', 'ep.transaction_id': 'T1', dl: 'https://shop.example/c?fbclid=FB1&ttclid=TT1', ...GRANTED })
      await until(async () => (await h.store.fields('ctx:cid:C1.1'))?.['click_ids.ttclid'] === 'TT1', 3000, 'the granted context')
      // Before the refusal the order is stitched: the baseline this test guards.
      const before = await purchase(h, sink, { transaction_id: 'T1' })
      t.same(before.paths, ['/hook', '/meta', '/tiktok'], 'granted: every destination')
      t.equal(before.hook.ip_override, '203.0.113.7')

      await hit(h, { en: 'page_view', dl: 'https://shop.example/after', ...params }, headers)
      for (const key of ['ctx:cid:C1.1', 'ctx:uid:U1']) {
        await until(async () => (await h.store.fields(key))?.refused === '1', 3000, `${key} a refusal`)
        const rec = await h.store.fields(key) ?? {}
        t.notOk(Object.keys(rec).some(f => /ip_override|user_agent|browser_ids|click_ids|page_location/.test(f)), `${key}: its identifiers erased`)
      }
      for (const key of [{ client_id: 'C1.1' }, { user_id: 'U1' }] as Array<Record<string, string>>) {
        const after = await purchase(h, sink, key)
        t.same(after.paths, ['/hook'], `${JSON.stringify(key)}: Meta and TikTok get nothing`)
        t.equal(after.hook.ip_override, undefined, 'the webhook gets no identifier either')
        t.equal(after.hook.browser_ids, undefined)
        if (refusal.startsWith('Sec-GPC')) t.equal(after.hook.source.gpc, true, 'the GPC signal travels with the event')
        else t.match(after.hook.consent, { ad_storage: 'denied', ad_user_data: 'denied' }, 'the refusal is its consent')
        // GA4's client id is no ad identifier: kept unless analytics was refused too (G100 refuses both).
        if (key.user_id !== undefined) t.equal(after.hook.client_id === 'C1.1', refusal.startsWith('Sec-GPC'), 'the client id joins the purchase to the visitor only where analytics was not refused')
      }

      // Granting again collects anew: a later purchase is stitched with what came after.
      await hit(h, { en: 'page_view', dl: 'https://shop.example/again?fbclid=FB2', ...GRANTED })
      await until(async () => (await h.store.fields('ctx:cid:C1.1'))?.refused === '0', 3000, 'granted again')
      const again = await purchase(h, sink, { client_id: 'C1.1' })
      t.same(again.paths, ['/hook', '/meta', '/tiktok'])
      t.equal(again.hook.click_ids?.fbclid, 'FB2', 'the new click id')
    })
  }
}

t.test('a purchase the browser sent refused is not delivered again by its backend copy', async t => {
  const { h, sink } = await gateway(t)
  await hit(h, { en: 'purchase', 'ep.transaction_id': 'T2', 'ep.event_id': 'T2', cu: 'EUR', 'epn.value': '10', ...DENIED })
  await until(async () => (await h.store.fields('ctx:tx:T2'))?.refused === '1', 3000, 'the order\'s refusal')
  const backend = await purchase(h, sink, { transaction_id: 'T2' })
  t.same(backend.paths, ['/hook'], 'the backend copy of the refused order: no ad platform')
})

t.test('one request, two lines: the last one refuses, so nothing of the first is kept', async t => {
  const { h } = await gateway(t)
  const q = gtagQuery({ cid: 'C3.3', dl: 'https://shop.example/p?fbclid=FB3' })
  const res = await h.app.inject({ method: 'POST', url: `/g/collect?${q}`, headers: { 'user-agent': UA, 'content-type': 'text/plain' }, remoteAddress: '203.0.113.9', payload: `en=page_view&gcs=G111\nen=scroll&gcs=G100&gcd=13p3p3p2p5l1` })
  t.equal(res.statusCode, 204)
  await until(async () => (await h.store.fields('ctx:cid:C3.3')) !== undefined, 3000, 'a context')
  const rec = await h.store.fields('ctx:cid:C3.3') ?? {}
  t.equal(rec.refused, '1')
  t.notOk('click_ids.fbclid' in rec || 'ip_override' in rec, 'the first line\'s identifiers are not kept')
})

t.test('one request: a granted checkout for an order, then a refusal: the order\'s backend purchase reaches no ad platform', async t => {
  const { h, sink } = await gateway(t)
  const q = gtagQuery({ cid: 'C9.9', dl: 'https://shop.example/checkout?fbclid=FB9' })
  const res = await h.app.inject({ method: 'POST', url: `/g/collect?${q}`, headers: { 'user-agent': UA, 'content-type': 'text/plain' }, remoteAddress: '203.0.113.10', payload: 'en=begin_checkout&ep.transaction_id=T9&gcs=G111\nen=scroll&gcs=G100&gcd=13p3p3p2p5l1' })
  t.equal(res.statusCode, 204)
  await until(async () => (await h.store.fields('ctx:cid:C9.9'))?.refused === '1', 3000, 'the refusal')
  const backend = await purchase(h, sink, { transaction_id: 'T9' })
  t.same(backend.paths, ['/hook'], 'the refusal in the same request holds for the order too')
  t.equal(backend.hook.ip_override, undefined)
})

t.test('an order refused on one device, a grant then a refusal on another: the newest refusal holds, wherever it is', async t => {
  const { h, sink } = await gateway(t)
  const AD_DENIED = { gcs: 'G101', gcd: '13p3t3p2p5l1' } // ad storage and ad data refused, analytics granted
  const at = async (cid: string, p: Record<string, string>): Promise<void> => {
    const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ cid, ...p })}`, headers: { 'user-agent': UA }, remoteAddress: '203.0.113.11' })
    if (res.statusCode !== 204) throw new Error(String(res.statusCode))
  }
  await at('P1.1', { en: 'purchase', 'ep.transaction_id': 'T5', ...AD_DENIED }) // the phone
  await until(async () => (await h.store.fields('ctx:tx:T5'))?.refused === '1', 3000, 'the order\'s refusal')
  await at('L2.2', { uid: 'U5', en: 'page_view', dl: 'https://shop.example/?fbclid=FB5', ...GRANTED }) // the laptop, signed in
  await until(async () => (await h.store.fields('ctx:uid:U5'))?.refused === '0', 3000, 'the grant')
  await new Promise(resolve => setTimeout(resolve, 5))
  await at('L2.2', { en: 'page_view', ...AD_DENIED }) // the laptop, signed out, refusing again
  await until(async () => (await h.store.fields('ctx:cid:L2.2'))?.refused === '1', 3000, 'the newest refusal')
  const backend = await purchase(h, sink, { transaction_id: 'T5', user_id: 'U5' })
  t.same(backend.paths, ['/hook'], 'no ad platform: every client id the contexts name is looked at')
  t.equal(backend.hook.click_ids, undefined)
})

t.test('a backend purchase with a client id of its own (MP style) still finds the browser\'s newer refusal', async t => {
  for (const key of [{ user_id: 'U7' }, { transaction_id: 'T7' }] as Array<Record<string, string>>) {
    const { h, sink } = await gateway(t)
    // Signed in and granted, with an order and a Meta click; later the same browser, signed out, refuses.
    await hit(h, { cid: 'C7.7', uid: 'U7', en: 'purchase', 'ep.transaction_id': 'T7', dl: 'https://shop.example/?fbclid=FB7', ...GRANTED })
    await until(async () => (await h.store.fields('ctx:uid:U7'))?.ip_override !== undefined && (await h.store.fields('ctx:tx:T7')) !== undefined, 3000, 'the grant')
    await new Promise(resolve => setTimeout(resolve, 5))
    const res = await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ cid: 'C7.7', en: 'page_view', ...DENIED })}`, headers: { 'user-agent': UA }, remoteAddress: '203.0.113.7' })
    t.equal(res.statusCode, 204)
    await until(async () => (await h.store.fields('ctx:cid:C7.7'))?.refused === '1', 3000, 'the refusal')
    const backend = await purchase(h, sink, { ...key, client_id: 'backend.1' })
    t.same(backend.paths, ['/hook'], `found by ${Object.keys(key)[0]}: no ad platform, though the event names another client id`)
    t.equal(backend.hook.ip_override, undefined, 'no IP of the browser that refused')
    t.equal(backend.hook.browser_ids, undefined, 'nor its _fbp')
    t.equal(backend.hook.click_ids, undefined, 'nor its click id')
  }
})

t.test('a dataLayer request that ends with the visitor\'s refusal: no ad cookies, and the refusal is what is left', async t => {
  const { h, sink } = await gateway(t)
  const send = async (pushes: unknown[], cookie: string): Promise<string[]> => {
    const res = await h.app.inject({ method: 'POST', url: '/collect', payload: pushes, headers: { cookie, 'user-agent': UA }, remoteAddress: '203.0.113.9' })
    t.equal(res.statusCode, 202)
    return ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []).map(c => c.split('=')[0])
  }
  const refusal = { 0: 'consent', 1: 'update', 2: { ad_storage: 'denied', ad_user_data: 'denied' } }
  const set = await send([{ event: 'page_view', event_id: 'pv-9', page_location: 'https://shop.example/?fbclid=FB9' }, refusal], '_ga=GA1.1.555.666')
  t.notOk(set.includes('_fbp') || set.includes('_fbc'), `no ad cookie in the answer (${set.join(', ')})`)
  await until(async () => (await h.store.fields('ctx:cid:555.666'))?.refused === '1', 3000, 'the refusal is left')
  const backend = await purchase(h, sink, { client_id: '555.666' })
  t.same(backend.paths, ['/hook'], 'a later backend purchase for the visitor reaches no ad platform')
  // The other way round: denied by default, the page view under it, then the visitor accepts.
  const granted = await send([['consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied' }], { event: 'page_view', event_id: 'pv-10', page_location: 'https://shop.example/?fbclid=FB10' }, ['consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted' }]], '_ga=GA1.1.777.888')
  t.ok(granted.includes('_fbp') && granted.includes('_fbc'), `the answer's grant allows the cookies (${granted.join(', ')})`)
  await until(async () => (await h.store.fields('ctx:cid:777.888'))?.refused === '0', 3000, 'a grant is left')
  t.equal((await h.store.fields('ctx:cid:777.888'))?.['click_ids.fbclid'], 'FB10')
})

t.test('a visitor\'s refusal sent on its own (no event) is accepted and remembered', async t => {
  const { h, sink } = await gateway(t)
  await hit(h, { cid: '555.666', en: 'page_view', dl: 'https://shop.example/?fbclid=FB3', ...GRANTED })
  await until(async () => (await h.store.fields('ctx:cid:555.666'))?.refused === '0', 3000, 'the grant')
  await new Promise(resolve => setTimeout(resolve, 5))
  const res = await h.app.inject({ method: 'POST', url: '/collect', payload: [['consent', 'update', { ad_storage: 'denied', ad_user_data: 'denied' }]], headers: { cookie: '_ga=GA1.1.555.666', 'user-agent': UA }, remoteAddress: '203.0.113.7' })
  t.equal(res.statusCode, 202)
  t.same(res.json(), { accepted: 0, deduplicated: 0, event_ids: [] })
  const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []).map(c => c.split('=')[0])
  t.notOk(set.includes('_fbp') || set.includes('_fbc'), 'no ad cookie')
  await until(async () => (await h.store.fields('ctx:cid:555.666'))?.refused === '1', 3000, 'the refusal replaces the grant')
  t.equal((await h.store.fields('ctx:cid:555.666'))?.['click_ids.fbclid'], undefined, 'and erases what the grant left')
  const backend = await purchase(h, sink, { client_id: '555.666' })
  t.same(backend.paths, ['/hook'], 'a later backend purchase reaches no ad platform')
})
