// Whatever a client produces must be a valid event of the model (schemas/event.ts), so the
// pipeline and the tags can rely on the types.
import t from 'tap'
import { Ajv } from 'ajv'
import { Event } from '../../schemas/event.js'
import { parseRequest } from './fixtures/claim.js'
import type { RequestSnapshot } from '../../clients/types.js'


const validate = new Ajv({ allErrors: true, strict: false }).compile(Event)

function snap (o: Partial<RequestSnapshot>): RequestSnapshot {
  return { method: 'POST', path: '/collect', query: '', body: '', json: undefined, contentType: undefined, headers: {}, ip: '203.0.113.7', cookies: {}, trusted: true, requestId: 'r1', receivedMs: 1718000000000, ...o }
}

const HASH = 'b'.repeat(64)
const cases: Array<[string, Partial<RequestSnapshot>]> = [
  ['gtag, every kind of parameter', {
    path: '/g/collect',
    query: 'v=2&tid=G-1&cid=1.2&uid=u&sid=1&sct=2&_et=3&dl=https%3A%2F%2Fa.example%2F&dr=x&dt=y&ul=en&sr=1x1&cu=USD&gcs=G101&gcd=13p3t3p2p5l1&npa=1&dma=1&dma_cps=-&_p=1&_s=1&_ss=1&_fv=1&_c=1&_dbg=1&_ee=1&_eu=A&_tu=B&_z=C&seg=1&richsstsse&uaa=x86&uafvl=A%3B1&uamb=1&sst.tft=1&cs=s&cm=m&cn=n&ck=k&cc=c&ci=i&foo=bar',
    body: 'en=purchase&ep.transaction_id=T&epn.value=1.5&epn.tax=x&ep.coupon=C&ep.event_id=E&ep.custom=v&epn.n=2&up.a=b&upn.c=3&pr1=idA~pr1~qt2~k0x~v0y&ep.user_data.email=a%40b.c&ep.user_data.address.0.city=Oslo'
  }],
  ['dataLayer purchase with odd values', {
    json: [{ ecommerce: null }, { event: 'purchase', event_id: 5, ecommerce: { value: '1', currency: 'USD', items: [{ item_id: 1, price: '2', custom: true, bad: {} }], extra: { deep: [1] } }, user_data: { email: 'a@b.c', address: [{ city: 'Oslo', postal_code: 150 }] }, misc: null }]
  }],
  ['Measurement Protocol, trusted', {
    path: '/mp/collect',
    query: 'measurement_id=G-1',
    json: { client_id: '1.2', user_id: 'u', timestamp_micros: 1718000000000000, ip_override: '198.51.100.1', user_agent: 'UA', consent: { ad_user_data: 'granted' }, user_properties: { tier: { value: 3 } }, user_data: { sha256_email_address: HASH, address: { sha256_street: HASH, country: 'NO' } }, events: [{ name: 'purchase', params: { session_id: 123, value: '2', items: [{ item_id: 'a', price: 1 }], debug_mode: 1 } }] }
  }],
  ['our JSON', { json: { events: [{ event_name: 'x', params: { a: [1, { b: 2 }] }, 'x-ga-custom': { any: 'thing' } }] } }]
]

for (const [name, o] of cases) {
  t.test(name, async t => {
    const { events } = parseRequest(snap(o))
    t.ok(events.length > 0)
    for (const ev of events) {
      t.ok(validate(ev), JSON.stringify(validate.errors))
    }
  })
}
