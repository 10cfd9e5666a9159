// Identity that matches, end to end: a backend purchase through the real app reaches Meta, TikTok
// and GA4 (loopback stand-ins) with each platform's own hash of the same phone number, or without
// the phone at all when nothing says which country a national number belongs to; the drop
// counter says why.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { harness, metric, AUTH } from './fixtures/harness.js'
import { startSink, type Sink } from '../fixtures/sink.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const EMAIL = 'Jane.Doe@Example.com'

// TikTok counts only its own JSON answer as delivered; Meta and GA4 take a bare 200.
const answer = (r: { path: string }): number | { status: number, body: string } => r.path === '/tiktok' ? { status: 200, body: '{"code":0,"message":"OK"}' } : 200

function tags (origin: string, own = ''): string {
  const common = `consent: [], batch: { maxEvents: 10, maxWaitMs: 0 }, retry: { maxAttempts: 1 }${own}`
  return [
    `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: tok, actionSource: system_generated, endpoint: "${origin}/meta", ${common} }`,
    `  - { name: tiktok, type: tiktok, pixelCode: C0PIXEL, accessToken: tok, endpoint: "${origin}/tiktok", ${common} }`,
    `  - { name: ga4, type: ga4, measurementId: G-ABC1234567, apiSecret: sec, endpoint: "${origin}/ga", ${common} }`
  ].join('\n') + '\n'
}

const purchase = {
  event_name: 'purchase',
  transaction_id: 'T-77',
  user_id: 'cust-77',
  client_id: '555.1768470000',
  currency: 'GBP',
  value: 30,
  user_data: { email_address: EMAIL, phone_number: '07700 900123' }
}

interface Received { meta: Record<string, unknown>, tiktok: Record<string, unknown>, ga4: Record<string, unknown> }

/** One purchase in; what each destination's user data looked like. */
async function send (t: Test, sink: Sink, opts: { yaml?: string, own?: string }): Promise<{ got: Received, dropped: (tag: string) => Promise<number> }> {
  const h = await harness({ sink, yaml: opts.yaml, tags: origin => tags(origin, opts.own) })
  t.teardown(h.close)
  const before = sink.requests.length
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: purchase })
  t.equal(res.statusCode, 202)
  await sink.waitFor(rs => ['/meta', '/tiktok', '/ga/mp/collect'].every(p => rs.slice(before).some(r => r.path === p && r.status !== 0)), 'all three destinations')
  const body = (path: string): any => sink.requests.slice(before).find(r => r.path === path)?.json
  const got = {
    meta: body('/meta').data[0].user_data,
    tiktok: body('/tiktok').data[0].user,
    ga4: body('/ga/mp/collect').user_data
  }
  const dropped = async (tag: string): Promise<number> => await metric(h.metrics, 'tagline_user_data_dropped_total', { tag, field: 'phone_number', reason: 'no_country' })
  return { got, dropped }
}

t.test('a national phone number and no country anywhere: no destination gets a phone, and the counter says why', async t => {
  const sink = await startSink(t, answer)
  const { got, dropped } = await send(t, sink, {})
  t.same(got.meta.em, [sha('jane.doe@example.com')], 'Meta: the e-mail still goes')
  t.notOk('ph' in got.meta, 'Meta: no phone')
  t.equal(got.tiktok.email, sha('jane.doe@example.com'))
  t.notOk('phone' in got.tiktok, 'TikTok: no phone')
  t.same(got.ga4.sha256_email_address, [sha('jane.doe@example.com')])
  t.notOk('sha256_phone_number' in got.ga4, 'GA4: no phone')
  for (const tag of ['meta', 'tiktok', 'ga4']) t.equal(await dropped(tag), 1, `${tag}: counted as no_country`)
  // The digits whole, and every hash a platform could have made of them (a bare '7700' also turns up
  // in a timestamp: 1796227700… is 2026-12-02T17:08Z, when this test once failed).
  const traces = ['7700900123', ...Object.values(GB), sha('07700900123')]
  t.notOk(sink.requests.some(r => traces.some(x => r.raw.includes(x))), 'the number is nowhere, hashed or clear')
})

// By hand from each platform's rule: Meta E.164 digits without '+', TikTok and Google '+' E.164.
const GB = { meta: sha('447700900123'), tiktok: sha('+447700900123'), ga4: sha('+447700900123') }

for (const [how, opts] of [
  ['identity.defaultCountry: GB', { yaml: 'identity: { defaultCountry: GB }\n' }],
  ['each tag\'s defaultCountry: GB', { own: ', defaultCountry: GB' }],
  ['the tag\'s GB wins over identity.defaultCountry: US', { yaml: 'identity: { defaultCountry: US }\n', own: ', defaultCountry: GB' }]
] as const) {
  t.test(`${how}: all three receive their own hash of +44 7700 900123`, async t => {
    const sink = await startSink(t, answer)
    const { got, dropped } = await send(t, sink, opts)
    t.same(got.meta.ph, [GB.meta], 'Meta: sha256("447700900123")')
    t.equal(got.tiktok.phone, GB.tiktok, 'TikTok: sha256("+447700900123")')
    t.same(got.ga4.sha256_phone_number, [GB.ga4], 'GA4: sha256("+447700900123")')
    for (const tag of ['meta', 'tiktok', 'ga4']) t.equal(await dropped(tag), 0, `${tag}: nothing dropped`)
  })
}

t.test('identity.dateOrder reaches every tag\'s hashing: dmy reads 03/04/1990 as 3 April', async t => {
  const sink = await startSink(t, answer)
  const h = await harness({ sink, yaml: 'identity:\n  dateOrder: dmy\n', tags: origin => `  - { name: hook, type: webhook, url: "${origin}/hook", batch: { maxEvents: 1, maxWaitMs: 0 } }\n` })
  t.teardown(h.close)
  const res = await h.app.inject({ method: 'POST', url: '/collect', headers: { authorization: AUTH }, payload: { event_name: 'sign_up', user_data: { date_of_birth: '03/04/1990' } } })
  t.equal(res.statusCode, 202)
  await sink.waitFor(rs => rs.some(r => r.path === '/hook'), 'the webhook')
  t.equal(sink.requests.find(r => r.path === '/hook')?.json.events[0].user_data.sha256_date_of_birth, sha('19900403'))
})
