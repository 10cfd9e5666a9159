// Context stitching: a trusted backend event gets the visitor's last browser context.
import t from 'tap'
import { contextOf, contextKeys, contextFields, fromFields, stitch } from '../../server/stitch.js'
import type { TaglineEvent } from '../../schemas/event.js'
import { AUTH, drained, gtagQuery, harness, redisStore } from './fixtures/harness.js'
import { until } from '../fixtures/wait.js'
import type { Store } from '../../server/store/types.js'

const browserSource = { client: 'gtag', request_id: 'r1', received_ms: 1000, trusted: false }
const backendSource = { client: 'json', request_id: 'r2', received_ms: 2000, trusted: true }

t.test('contextOf: browser events only; a refusal is a context of its own, with nothing but the refusal', async t => {
  const e: TaglineEvent = {
    event_name: 'page_view', client_id: '1.2', ip_override: '203.0.113.7', user_agent: 'UA', page_location: 'https://shop.example/?fbclid=F1',
    browser_ids: { fbp: 'fb.1.1.2', fbc: 'fb.1.1.F1' }, click_ids: { fbclid: 'F1' }, source: browserSource, timestamp_ms: 1000
  }
  t.same(contextOf(e), { at_ms: 1000, gpc: false, client_id: '1.2', ip_override: '203.0.113.7', user_agent: 'UA', page_location: 'https://shop.example/?fbclid=F1', browser_ids: { fbp: 'fb.1.1.2', fbc: 'fb.1.1.F1' }, click_ids: { fbclid: 'F1' } })
  t.same(contextOf({ ...e, consent: { ad_storage: 'granted', ad_user_data: 'granted' } })?.consent, { ad_storage: 'granted', ad_user_data: 'granted' }, 'the consent stated is kept')
  t.equal(contextOf({ ...e, source: backendSource }), undefined, 'a backend event leaves no context')
  t.same(contextOf({ ...e, consent: { ad_storage: 'denied' } }), { at_ms: 1000, refused: true, gpc: false, consent: { ad_storage: 'denied' }, client_id: '1.2' }, 'a refusal keeps GA4\'s client id, nothing else')
  t.same(contextOf({ ...e, consent: { ad_user_data: 'denied', analytics_storage: 'granted' } }), { at_ms: 1000, refused: true, gpc: false, consent: { ad_user_data: 'denied', analytics_storage: 'granted' }, client_id: '1.2' })
  t.same(contextOf({ ...e, consent: { ad_storage: 'denied', analytics_storage: 'denied' } }), { at_ms: 1000, refused: true, gpc: false, consent: { ad_storage: 'denied', analytics_storage: 'denied' } }, 'analytics refused too: not even that')
  t.same(contextOf({ ...e, consent: { ad_personalization: 'denied' } })?.refused, undefined, 'personalization alone is no refusal of stitching')
  t.same(contextKeys({ event_name: 'x', client_id: 'c', user_id: 'u', transaction_id: 'T' }), ['ctx:tx:T', 'ctx:uid:u', 'ctx:cid:c'])
})

t.test('contexts travel as flat fields and come back whole', async t => {
  const ctx = { at_ms: 5, consent: { ad_storage: 'granted' as const }, client_id: '1.2', ip_override: '2.2.2.2', click_ids: { fbclid: 'F1' }, browser_ids: { fbp: 'p1', fbc: 'c2' } }
  const fields = contextFields(ctx)
  t.same(fields, { at_ms: '5', refused: '0', gpc: '0', 'consent.ad_storage': 'granted', client_id: '1.2', ip_override: '2.2.2.2', 'browser_ids.fbp': 'p1', 'browser_ids.fbc': 'c2', 'click_ids.fbclid': 'F1' })
  t.same(fromFields(fields), ctx)
  const refusal = contextFields({ at_ms: 6, refused: true, gpc: true })
  t.same(refusal, { at_ms: '6', refused: '1', gpc: '1' })
  t.same(fromFields({ ...fields, ...refusal }), { at_ms: 6, refused: true, gpc: true, consent: { ad_storage: 'granted' }, client_id: '1.2' }, 'a refusal reads no identifiers but GA4\'s, even beside old ones')
  t.same(fromFields({ at_ms: '1', 'consent.ad_storage': 'maybe' }), { at_ms: 1 }, 'a consent value that is not one is ignored')
  t.same(fromFields({ at_ms: 'x', 'browser_ids.__proto__': 'bad', 'nope.x': 'y', 'constructor.x': 'c', 'toString.y': 't', 'click_ids.gclid': 'G' }), { at_ms: 0, click_ids: { gclid: 'G' } }, 'unknown fields are ignored')
  t.equal(fromFields(undefined), undefined)
  const signedIn = contextFields({ at_ms: 5, client_id: '1.2', user_id: 'u1' })
  t.equal(signedIn.user_id, 'u1', 'the user id is kept with the context (erasure finds it by it)')
  t.equal(fromFields(signedIn)?.user_id, undefined, 'but never comes back to be stitched')
})

t.test('what a visitor sets is bounded before it is kept: absurd ids name no context, long values are cut or left out', async t => {
  const base = { event_name: 'page_view', source: { ...browserSource, received_ms: 1 } } as TaglineEvent
  t.same(contextKeys({ ...base, client_id: '1.2', user_id: 'u'.repeat(256), transaction_id: 'T'.repeat(257) }), [`ctx:uid:${'u'.repeat(256)}`, 'ctx:cid:1.2'], 'an id over 256 characters is no key')
  t.same(contextKeys({ ...base, client_id: 'c'.repeat(60_000) }), [], 'a 60 KB client id: no context at all')
  const url = `https://shop.example/?q=${'a'.repeat(5000)}`
  const fields = contextFields({ at_ms: 1, client_id: '1.2', page_location: url, user_agent: 'U'.repeat(1025), click_ids: { gclid: 'G'.repeat(2000), fbclid: 'F1' } })
  t.equal(fields.page_location, url.slice(0, 1024), 'a long page URL is cut at 1,024 characters')
  t.equal(fields.user_agent, undefined, 'a user agent over the limit is left out, not cut')
  t.equal(fields['click_ids.gclid'], undefined, 'a click id too')
  t.equal(fields['click_ids.fbclid'], 'F1', 'the rest is kept')
  const cutAt = (tail: string): string | undefined => contextFields({ at_ms: 1, page_location: 'https://s.example/?q=' + 'a'.repeat(1024 - 21 - tail.length) + tail + 'zzzz' }).page_location
  t.match(cutAt('%E2%8'), /a$/, 'not inside a percent escape, nor between the escapes of one character')
  t.match(cutAt('%'), /a$/, 'nor right after its %')
  t.match(cutAt('\uD83D'), /a$/, 'nor inside a surrogate pair')
})

t.test('stitch fills only what is missing and lists it', async t => {
  const e: TaglineEvent = { event_name: 'purchase', user_id: 'u1', ip_override: '198.51.100.1', browser_ids: { fbp: 'mine' }, source: backendSource }
  const out = stitch(e, [undefined, { at_ms: 1, client_id: '1.2', ip_override: '203.0.113.7', user_agent: 'UA', page_location: 'https://shop.example/p?x=1', browser_ids: { fbp: 'theirs', fbc: 'fbc1' } }])
  t.equal(out.ip_override, '198.51.100.1', 'the event\'s own value wins')
  t.equal(out.user_agent, 'UA')
  t.equal(out.client_id, '1.2')
  t.same(out.browser_ids, { fbp: 'mine', fbc: 'fbc1' })
  t.equal(out.page_hostname, 'shop.example')
  t.same(out.source?.stitched, ['client_id', 'user_agent', 'page_location', 'browser_ids.fbc'])
  t.equal(stitch(e, [undefined]), e, 'nothing found: the same event')
  t.equal(e.user_agent, undefined, 'the input is not modified')
})

const stores: Array<[string, () => Promise<Store | undefined>]> = [
  ['memory store', async () => undefined],
  ['redis store', async () => await redisStore()]
]

for (const [name, makeStore] of stores) {
  t.test(`${name}: a backend purchase reaches the sink with the browser's IP, user agent, fbp and fbc`, async t => {
    const store = await makeStore()
    if (store !== undefined) t.teardown(() => store.close())
    const h = await harness({ store })
    t.teardown(h.close)
    const fbp = 'fb.1.1717000000000.987654321'
    // 1. The browser: a page view with the _fbp cookie and an fbclid in the landing URL, then a
    //    begin_checkout that carries the order id the backend will use.
    const page = 'https://shop.example/p/tee?fbclid=IwAR2xyz&utm_source=meta'
    let res = await h.app.inject({
      method: 'GET',
      url: `/g/collect?${gtagQuery({ en: 'page_view', cid: '555.1717', uid: 'cust-7', dl: page })}`,
      headers: { 'user-agent': 'Mozilla/5.0 (Stitch)', cookie: `_fbp=${fbp}`, 'x-forwarded-for': '198.51.100.99' },
      remoteAddress: '203.0.113.7'
    })
    t.equal(res.statusCode, 204)
    res = await h.app.inject({
      method: 'GET',
      url: `/g/collect?${gtagQuery({ en: 'begin_checkout', cid: '555.1717', 'ep.transaction_id': 'T_STITCH', dl: 'https://shop.example/checkout' })}`,
      headers: { 'user-agent': 'Mozilla/5.0 (Stitch)', cookie: `_fbp=${fbp}` },
      remoteAddress: '203.0.113.7'
    })
    t.equal(res.statusCode, 204)
    // Contexts are written off the request path.
    await until(async () => (await h.store.fields('ctx:tx:T_STITCH')) !== undefined && (await h.store.fields('ctx:cid:555.1717'))?.['click_ids.fbclid'] !== undefined, 3000, 'contexts written')

    // 2. The backend: a purchase that knows only the user, and one that knows only the order id.
    const backend = async (payload: object): Promise<void> => {
      const r = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload })
      t.equal(r.statusCode, 202)
    }
    await backend({ event_name: 'purchase', event_id: 'P-uid', user_id: 'cust-7', transaction_id: 'T_OTHER', value: 10, currency: 'EUR' })
    await backend({ event_name: 'purchase', event_id: 'P-tx', transaction_id: 'T_STITCH', value: 20, currency: 'EUR' })
    await backend({ event_name: 'purchase', event_id: 'P-none', user_id: 'stranger', value: 5, currency: 'EUR' })
    await drained(h)

    const byId = new Map(h.sink.delivered('/hook').map(e => [e.event_id, e]))
    for (const id of ['P-uid', 'P-tx']) {
      const e = byId.get(id)!
      t.match(e, {
        ip_override: '203.0.113.7',
        user_agent: 'Mozilla/5.0 (Stitch)',
        browser_ids: { fbp, fbc: /^fb\.1\.\d{13}\.IwAR2xyz$/ },
        click_ids: { fbclid: 'IwAR2xyz' },
        client_id: '555.1717'
      }, `${id}: stitched from the browser`)
      t.ok(e.source?.stitched?.includes('ip_override') && e.source.stitched.includes('browser_ids.fbc'), `${id}: source.stitched lists the filled fields`)
    }
    t.equal(byId.get('P-tx')?.page_location, 'https://shop.example/checkout', 'the order id finds the checkout page')
    t.equal(byId.get('P-none')?.ip_override, undefined, 'no context, nothing invented')
    t.equal(byId.get('P-none')?.source?.stitched, undefined)
    t.match(byId.get('P-none')?.client_id, /^\d+\.\d+$/, 'no context: a client id is minted after stitching')
    t.equal(byId.get('P-uid')?.page_location, page, 'the user id finds the landing page (uid context)')
  })
}

t.test('stitching can be turned off', async t => {
  const h = await harness({ yaml: 'identity: { stitch: { enabled: false } }\n' })
  t.teardown(h.close)
  await h.app.inject({ method: 'GET', url: `/g/collect?${gtagQuery({ en: 'page_view', cid: '9.9', uid: 'u9' })}`, headers: { 'user-agent': 'UA9' } })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(await h.store.fields('ctx:uid:u9'), undefined, 'nothing remembered')
  await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'purchase', event_id: 'X', user_id: 'u9', currency: 'EUR', value: 1 } })
  await drained(h)
  t.equal(h.sink.delivered('/hook').find(e => e.event_id === 'X')?.user_agent, undefined, 'the backend event is not stitched')
})

t.test('a visitor who sent Sec-GPC leaves a refusal, nothing to stitch', async t => {
  const e: TaglineEvent = { event_name: 'purchase', client_id: '1.2', ip_override: '192.0.2.44', source: { ...browserSource, gpc: true } }
  t.same(contextOf(e), { at_ms: 1000, refused: true, gpc: true, client_id: '1.2' })
})

t.test('stitch: the newest context speaks for consent; after a refusal nothing is filled', async t => {
  const backend: TaglineEvent = { event_name: 'purchase', transaction_id: 'T1', source: backendSource }
  const granted = { at_ms: 10, gpc: false, consent: { ad_storage: 'granted' as const, ad_user_data: 'granted' as const }, client_id: '1.2', ip_override: '203.0.113.7', browser_ids: { fbp: 'p1' } }
  const refused = { at_ms: 20, refused: true, gpc: false, consent: { ad_storage: 'denied' as const, ad_user_data: 'denied' as const } }
  const a = stitch(backend, [granted])
  t.same([a.consent, a.ip_override, a.browser_ids, a.source?.stitched], [granted.consent, '203.0.113.7', { fbp: 'p1' }, ['consent', 'client_id', 'ip_override', 'browser_ids.fbp']], 'a grant: identifiers and its consent')
  const b = stitch(backend, [granted, refused])
  t.same([b.consent, b.ip_override, b.browser_ids, b.client_id, b.source?.stitched], [refused.consent, undefined, undefined, undefined, ['consent']], 'a newer refusal anywhere: its consent, no identifier from any context')
  const c = stitch(backend, [{ ...refused, at_ms: 5 }, granted])
  t.equal(c.ip_override, '203.0.113.7', 'a refusal the visitor took back by granting again later does not hold')
  const own = stitch({ ...backend, consent: { ad_storage: 'granted', ad_user_data: 'granted' } }, [granted, refused])
  t.same([own.consent, own.ip_override], [{ ad_storage: 'granted', ad_user_data: 'granted' }, undefined], 'consent the backend states is its own; still nothing from behind a refusal')
  const ids = stitch(backend, [granted, { ...refused, client_id: '1.2', ga_session_id: '77' }])
  t.same([ids.client_id, ids.ga_session_id, ids.ip_override, ids.source?.stitched], ['1.2', '77', undefined, ['consent', 'client_id', 'ga_session_id']], 'behind a refusal, GA4\'s ids it kept, nothing else')
  const gpc = stitch(backend, [granted, { at_ms: 30, refused: true, gpc: true }])
  t.same([gpc.source?.gpc, gpc.consent, gpc.source?.stitched], [true, undefined, ['gpc']], 'a GPC refusal: the signal travels, nothing else')
  t.equal(stitch(backend, [undefined]), backend, 'nothing found: the same event')

  // One request whose first line granted (its order's context) and whose second refused (the
  // client id's): the same arrival time, and the refusal holds.
  const tie = stitch(backend, [{ ...granted, at_ms: 40 }, { ...refused, at_ms: 40 }])
  t.same([tie.ip_override, tie.consent], [undefined, refused.consent], 'a refusal wins a tie')
  // Only what the backend does not state comes from the context: a backend that states
  // ad_personalization alone still gets the visitor's refusal of ad_storage and ad_user_data.
  const partial = stitch({ ...backend, consent: { ad_personalization: 'granted' } }, [granted, refused])
  t.same(partial.consent, { ad_personalization: 'granted', ad_storage: 'denied', ad_user_data: 'denied' })
  const stated = stitch({ ...backend, consent: { ad_storage: 'granted', ad_user_data: 'granted' } }, [{ at_ms: 50, refused: true, gpc: true }])
  t.equal(stated.source?.gpc, true, 'GPC holds whatever consent the backend states')
})

t.test('contexts are ordered by arrival, not by the time a sender claims', async t => {
  const e: TaglineEvent = { event_name: 'page_view', client_id: '1.2', timestamp_ms: 5, source: { ...browserSource, received_ms: 9000 } }
  t.equal(contextOf(e)?.at_ms, 9000)
})

t.test('a refusal is written every time, even when this process wrote the same one (another replica may have written a grant since)', async t => {
  const { ContextWriter } = await import('../../server/pipeline.js')
  const { MemoryStore } = await import('../../server/store/memory.js')
  const store = new MemoryStore()
  const writes: boolean[] = []
  const merge = store.merge.bind(store)
  store.merge = async (k, f, ttl, opts) => { writes.push(opts?.replace === true); return await merge(k, f, ttl, opts) }
  const writer = new ContextWriter(store, 60_000)
  const refusal = (at: number): TaglineEvent => ({ event_name: 'page_view', client_id: '8.8', consent: { ad_storage: 'denied' }, source: { ...browserSource, received_ms: at } })
  writer.remember([refusal(1000)], 1000)
  await store.merge('ctx:cid:8.8', { refused: '0', ip_override: '203.0.113.5' }, 60_000) // another replica's grant
  writer.remember([refusal(2000)], 2000)
  t.same(writes, [true, false, true], 'written again')
  t.equal((await store.fields('ctx:cid:8.8'))?.ip_override, undefined, 'and the grant in between is erased')
})

t.test('an unchanged context is not rewritten on every hit', async t => {
  const { ContextWriter } = await import('../../server/pipeline.js')
  const { MemoryStore } = await import('../../server/store/memory.js')
  const store = new MemoryStore()
  let writes = 0
  let fail = false
  const merge = store.merge.bind(store)
  store.merge = async (k, f, ttl) => { writes++; if (fail) throw new Error('down'); return await merge(k, f, ttl) }
  const writer = new ContextWriter(store, 60_000)
  const hit = (ip: string, at: number): TaglineEvent => ({ event_name: 'page_view', client_id: '7.7', ip_override: ip, user_agent: 'UA', timestamp_ms: at, source: { ...browserSource, received_ms: at } })
  writer.remember([hit('203.0.113.1', 1000)], 1000)
  writer.remember([hit('203.0.113.1', 2000)], 2000)
  writer.remember([hit('203.0.113.1', 3000)], 3000)
  t.equal(writes, 1, 'the same context, written once')
  writer.remember([hit('203.0.113.2', 4000)], 4000)
  t.equal(writes, 2, 'a changed context is written')
  writer.remember([hit('203.0.113.2', 4000 + 11 * 60_000)], 4000 + 11 * 60_000)
  t.equal(writes, 3, 'refreshed after ten minutes, so the ttl runs from recent use')
  fail = true
  writer.remember([hit('203.0.113.3', 700_000)], 700_000)
  await new Promise(resolve => setImmediate(resolve))
  fail = false
  writer.remember([hit('203.0.113.3', 700_001)], 700_001)
  t.equal(writes, 5, 'a failed write is tried again on the next hit')
  t.equal((await store.fields('ctx:cid:7.7'))?.ip_override, '203.0.113.3')
})
