// `tagline try`: real clients, enrichment, routing and tag builds on one input; redacted output;
// --send against a real loopback sink; and the command's exit codes.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateConfigText } from '../../config/load.js'
import type { CompiledConfig } from '../../config/types.js'
import { tagTypes } from '../../tags/index.js'
import { readTryInput, tryEvent, TRY_IP, type TryReport, type TryTag } from '../../server/try.js'
import { formatTryReport } from '../../server/try-format.js'
import { main } from '../../server/main.js'
import { startSink } from '../fixtures/sink.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const NOW = Date.UTC(2026, 0, 15, 12)
const HAS_META = Object.hasOwn(tagTypes, 'meta')
const HAS_TIKTOK = Object.hasOwn(tagTypes, 'tiktok')
const SECRETS = {
  whsec: 'whsec_' + Buffer.alloc(32, 9).toString('base64'),
  ga4: 'ga4-api-secret-Zq81',
  posthog: 'phc_tryProjectKey77',
  meta: 'EAAB-meta-token-try-4411',
  tiktok: 'tt-access-token-try-5522'
}
const EMAIL = 'jane.doe@example.com'
const ids = { now: () => NOW, eventId: () => '0194c0de-0000-7000-8000-000000000001', digits: () => '1234567890', bytes: (n: number) => Buffer.alloc(n, 7) }

// A sink answering per path; it echoes the body back, so a leak through the response would show.
const sink = await startSink(t, r => {
  const status = r.url.startsWith('/ph') ? 503 : r.url.startsWith('/ga') ? 204 : 200
  return status === 204 ? 204 : { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ echo: r.raw }) }
})
const SINK = sink.origin

const YAML = [
  'triggers:',
  '  purchase: { event_name: purchase }',
  '  staging: { page_location: { matches: "^https://staging\\\\." } }',
  'tags:',
  '  - { name: console, type: log }',
  `  - { name: hook, type: webhook, fireOn: [purchase], url: "${SINK}/hook", secret: "${SECRETS.whsec}" }`,
  `  - { name: ga4, type: ga4, consent: [analytics_storage], measurementId: G-TRY1234567, apiSecret: "${SECRETS.ga4}", endpoint: "${SINK}/ga" }`,
  `  - { name: ph, type: posthog, blockOn: [staging], apiKey: "${SECRETS.posthog}", endpoint: "${SINK}/ph/batch/" }`,
  HAS_META ? `  - { name: meta, type: meta, pixelId: "1234567890", accessToken: "${SECRETS.meta}", testEventCode: TEST4242, endpoint: "${SINK}/meta" }` : '',
  HAS_TIKTOK ? `  - { name: tiktok, type: tiktok, pixelCode: C1TRYPIXEL, accessToken: "${SECRETS.tiktok}", endpoint: "${SINK}/tiktok" }` : ''
].join('\n')

function compile (text: string): CompiledConfig {
  const r = validateConfigText(text, {})
  if (!r.ok) throw new Error(JSON.stringify(r.problems))
  return r.config
}
const config = compile(YAML)

const purchase = {
  event_name: 'purchase',
  transaction_id: 'T-900',
  client_id: '555.1768470000',
  value: 42.5,
  currency: 'EUR',
  page_location: 'https://shop.example/thanks',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
  ip_override: '198.51.100.23',
  user_data: { email_address: EMAIL },
  consent: { ad_storage: 'granted', ad_user_data: 'granted', analytics_storage: 'granted' }
}
const jsonInput = (body: unknown): { kind: 'json', text: string, name: string } => ({ kind: 'json', text: JSON.stringify(body), name: 'event.json' })
const GTAG = 'https://metrics.shop.example/g/collect?v=2&tid=G-TRY1234567&cid=777.1768470000&sid=1768470000&en=page_view&dl=https%3A%2F%2Fshop.example%2Fshoes&dt=Shoes'

const tag = (r: TryReport, name: string): TryTag => r.tags.find(x => x.name === name) as TryTag
const verdict = (r: TryReport, name: string): string => { const x = tag(r, name).routing[0]; return x.detail !== undefined ? `${x.outcome} ${x.detail}` : x.outcome }

function noSecrets (t: Test, text: string, what: string): void {
  for (const [k, v] of Object.entries(SECRETS)) t.notOk(text.includes(v), `${what}: no ${k} secret`)
  t.notOk(text.includes(EMAIL) || text.includes(encodeURIComponent(EMAIL)), `${what}: no raw e-mail`)
}

t.test('a JSON purchase: trusted backend, every tag fires, requests built and redacted', async t => {
  const r = await tryEvent(config, jsonInput(purchase), { now: NOW, ids })
  t.match(r.input, { kind: 'json', client: 'json', trusted: true, method: 'POST', path: '/collect' })
  t.match(r.events, [{ event_name: 'purchase', event_id: 'T-900', client_id: '555.1768470000', user_data: true }])
  t.equal(verdict(r, 'console'), 'queued all')
  t.equal(verdict(r, 'hook'), 'queued purchase')
  t.equal(verdict(r, 'ga4'), 'queued all')
  t.equal(verdict(r, 'ph'), 'queued all')

  const ga = tag(r, 'ga4').requests
  t.equal(ga.length, 1)
  t.equal(ga[0].request.url, `${SINK}/ga/mp/collect?measurement_id=G-TRY1234567&api_secret=[redacted]`)
  const mp = JSON.parse(ga[0].request.body!)
  t.match(mp, { client_id: '555.1768470000', ip_override: '198.51.100.23', events: [{ name: 'purchase', params: { transaction_id: 'T-900', value: 42.5, currency: 'EUR' } }] })
  const hook = tag(r, 'hook').requests[0].request
  t.equal(hook.headers['webhook-signature'], '[redacted]', 'the signature is not shown')
  t.equal(hook.headers['webhook-id'], 'msg_try')
  t.equal(JSON.parse(hook.body!).events[0].user_data, '[redacted]', 'hashed user data is still redacted')
  t.equal(JSON.parse(tag(r, 'ph').requests[0].request.body!).api_key, '[redacted]')
  t.equal(tag(r, 'console').requests[0].request.url, 'log:events')
  if (HAS_META) {
    t.equal(verdict(r, 'meta'), 'queued all')
    const body = JSON.parse(tag(r, 'meta').requests[0].request.body!)
    t.equal(body.test_event_code, 'TEST4242', 'testEventCode is used as the tag builds it')
    t.equal(body.access_token, '[redacted]')
  }
  if (HAS_TIKTOK) t.equal(verdict(r, 'tiktok'), 'queued all')

  const text = formatTryReport(r)
  t.match(text, /^event\.json: POST \/collect, claimed by the json client, trusted/)
  t.match(text, /hook \(webhook\)\n  #0 purchase: queued \(fireOn purchase\)\n  request 1 of 1 \(#0 purchase\):\n    POST http:\/\/127\.0\.0\.1:\d+\/hook\n/)
  t.match(text, /"transaction_id": "T-900"/, 'JSON bodies pretty-printed')
  t.match(text, /tags fire; \d+ requests built \(not sent; --send sends them\)\.$/)
  noSecrets(t, text, 'text')
  noSecrets(t, JSON.stringify(r), 'json')
})

t.test('not triggered, blocked by consent, and a rejected event', async t => {
  const pv = await tryEvent(config, jsonInput({ event_name: 'page_view', client_id: '1.2', consent: { analytics_storage: 'denied', ad_storage: 'denied' } }), { now: NOW, ids })
  t.equal(verdict(pv, 'hook'), 'not_triggered')
  t.equal(verdict(pv, 'ga4'), 'blocked_by_consent analytics_storage')
  t.same(tag(pv, 'ga4').requests, [], 'nothing built for a blocked tag')
  t.equal(verdict(pv, 'console'), 'queued all')
  if (HAS_META) t.equal(verdict(pv, 'meta'), 'blocked_by_consent ad_storage')
  const text = formatTryReport(pv)
  t.match(text, /#0 page_view: not triggered \(no fireOn trigger holds\)/)
  t.match(text, /#0 page_view: blocked by consent analytics_storage \(denied\)/)

  const old = await tryEvent(config, jsonInput({ ...purchase, timestamp_ms: NOW - 8 * 86_400_000 }), { now: NOW, ids })
  t.match(tag(old, 'ga4').rejected, [{ event: 0, reason: /at most 72 h old/ }], 'GA4 refuses what MP would re-date')
  t.same(tag(old, 'ga4').requests, [])
  if (HAS_META) t.match(tag(old, 'meta').rejected, [{ event: 0, reason: /7 days/ }])
  t.match(formatTryReport(old), /#0 purchase rejected: Measurement Protocol accepts events at most 72 h old/)
})

t.test('a phone number no tag can place in a country: each tag says it is not sent, and why', async t => {
  const national = { ...purchase, user_id: 'cust-1', user_data: { email_address: EMAIL, phone_number: '07700 900123' } }
  const r = await tryEvent(config, jsonInput(national), { now: NOW, ids })
  for (const name of ['hook', 'ga4', ...(HAS_META ? ['meta'] : []), ...(HAS_TIKTOK ? ['tiktok'] : [])]) {
    t.same(tag(r, name).dropped, [{ event: 0, field: 'phone_number', reason: 'no_country' }], name)
  }
  t.same(tag(r, 'ph').dropped, [], 'posthog sends no user data: nothing to drop')
  t.match(formatTryReport(r), /#0 purchase user_data phone_number not sent: a national number and no country to read it in \(set identity\.defaultCountry/)
  t.notOk(formatTryReport(r).includes('07700'), 'the number itself is never printed')
  const placed = await tryEvent(compile(YAML.replace('tags:', 'identity: { defaultCountry: GB }\ntags:')), jsonInput(national), { now: NOW, ids })
  for (const x of placed.tags) t.same(x.dropped, [], `${x.name}: identity.defaultCountry places it`)
})

t.test('a value longer than GA4 keeps: cut in the GA4 request, and the report says so', async t => {
  const r = await tryEvent(config, jsonInput({ ...purchase, params: { gift_note: 'g'.repeat(180) } }), { now: NOW, ids })
  t.same(tag(r, 'ga4').cut, [{ event: 0, field: 'params' }])
  t.same(tag(r, 'ga4').rejected, [])
  t.equal(JSON.parse(tag(r, 'ga4').requests[0].request.body as string).events[0].params.gift_note, 'g'.repeat(100))
  t.same(tag(r, 'hook').cut, [], 'the webhook keeps it whole')
  t.match(formatTryReport(r), /#0 purchase params: a value cut to the destination's length limit, or left out \(past its count, or a name or value the destination refuses\)/)
})

t.test('a gtag hit URL: untrusted browser GET, forwarded, blocked by a trigger, Sec-GPC', async t => {
  t.same(readTryInput(GTAG), { kind: 'url', url: GTAG })
  t.same(readTryInput('/g/collect?v=2&en=x'), { kind: 'url', url: '/g/collect?v=2&en=x' })
  t.throws(() => readTryInput('/no/such/file.json'), /cannot read \/no\/such\/file\.json: no such file/)

  const r = await tryEvent(config, readTryInput(GTAG), { now: NOW, ids, headers: { 'User-Agent': 'Mozilla/5.0 (Try)' } })
  t.match(r.input, { kind: 'url', client: 'gtag', trusted: false, method: 'GET', path: '/g/collect' })
  t.equal(verdict(r, 'hook'), 'not_triggered')
  t.equal(verdict(r, 'ga4'), 'queued all')
  const fwd = tag(r, 'ga4').requests[0].request
  t.equal(fwd.url, `${SINK}/ga/g/collect?${GTAG.split('?')[1]}&_uip=${TRY_IP}`, 'the original hit, with the visitor IP')
  t.equal(fwd.headers['user-agent'], 'Mozilla/5.0 (Try)')
  t.match(JSON.parse(tag(r, 'ph').requests[0].request.body!), { batch: [{ event: '$pageview', distinct_id: '777.1768470000', properties: { $ip: TRY_IP } }] })

  const staging = GTAG.replace('%2F%2Fshop.example', '%2F%2Fstaging.shop.example')
  const s = await tryEvent(config, readTryInput(staging), { now: NOW, ids, ip: '192.0.2.44', headers: { 'sec-gpc': '1' } })
  t.equal(verdict(s, 'ph'), 'blocked_by_trigger staging')
  t.match(formatTryReport(s), /#0 page_view: blocked by trigger staging/)
  t.match(tag(s, 'ga4').requests[0].request.url, /&_uip=192\.0\.2\.44$/)
  t.match(s.events[0], { gpc: true })
  if (HAS_META) {
    t.equal(verdict(s, 'meta'), 'blocked_by_consent gpc')
    t.match(formatTryReport(s), /blocked by consent gpc/)
  }
  const withEmail = await tryEvent(config, readTryInput(`${GTAG.replace('en=page_view', 'en=purchase&ep.transaction_id=T-7')}&ep.user_data.email=${encodeURIComponent(EMAIL)}`), { now: NOW, ids })
  t.match(withEmail.events[0], { event_name: 'purchase', user_data: true }, 'the hit carried user data')
  t.match(formatTryReport(withEmail), /^https:\/\/metrics\.shop\.example\/g\/collect\?…: GET/, 'the input is named without its query')
  noSecrets(t, formatTryReport(withEmail), 'gtag text')
  noSecrets(t, JSON.stringify(withEmail), 'gtag json')
  const trusted = await tryEvent(config, readTryInput(GTAG), { now: NOW, ids, trusted: true })
  t.equal(trusted.input.trusted, true, '--trusted overrides the default for URLs')
})

t.test('bad input is a 4xx TaglineError', async t => {
  await t.rejects(tryEvent(config, { kind: 'json', text: '{"event_name": ', name: 'x.json' }), { code: 'bad_json', statusCode: 400 })
  await t.rejects(tryEvent(config, jsonInput({ hello: 'world' })), { code: 'unknown_format', statusCode: 400 })
  await t.rejects(tryEvent(config, jsonInput({ event_name: 5 })), { code: 'invalid_event', statusCode: 400 })
})

t.test('--send: each request once, status, body and classify outcome; still no secrets', async t => {
  const from = sink.requests.length
  const r = await tryEvent(config, jsonInput(purchase), { now: NOW, ids, send: true })
  t.equal(r.sent, true)
  t.match(tag(r, 'hook').requests[0].response, { status: 200, outcome: { kind: 'ok' } })
  t.match(tag(r, 'ga4').requests[0].response, { status: 204, outcome: { kind: 'ok' } })
  t.match(tag(r, 'ph').requests[0].response, { status: 503, outcome: { kind: 'retry', reason: /HTTP 503/ } })
  t.match(tag(r, 'console').requests[0].response, { skipped: /log: URL/ })
  const received = sink.requests.slice(from)
  const hook = received.find(x => x.url === '/hook')
  t.ok(hook !== undefined, 'the webhook request arrived')
  t.match(hook?.headers['webhook-signature'], /^v1,/, 'the real request is signed')
  t.ok(received.find(x => x.url === '/ph/batch/')?.raw.includes(SECRETS.posthog), 'the real request carries the key (and the sink echoes it)')
  t.equal(received.filter(x => x.url === '/hook').length, 1, 'sent once, no retry')
  const text = formatTryReport(r)
  t.match(text, /→ response: HTTP 200 in \d+ ms\n    → classify: ok/)
  t.match(text, /→ response: HTTP 503 in \d+ ms\n    → classify: retry: HTTP 503/)
  t.match(text, /built and sent\.$/)
  noSecrets(t, text, 'text')
  noSecrets(t, JSON.stringify(r), 'json')
})

t.test('the command: exit codes, --json, errors', async t => {
  const dir = t.testdir({
    'tagline.yaml': YAML,
    'bad.yaml': 'tags:\n  - { name: x, type: nope }\n',
    'event.json': JSON.stringify(purchase),
    'broken.json': '{"event_name": "purchase",',
    'other.json': '{"hello": "world"}'
  })
  const run = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => {
    let out = ''
    let err = ''
    const code = await main(['try', ...args], s => { out += s + '\n' }, s => { err += s + '\n' })
    return { code, out, err }
  }
  const bad = await run('--config', join(dir, 'bad.yaml'), join(dir, 'event.json'))
  t.equal(bad.code, 1, 'config error')
  t.match(bad.err, /bad\.yaml:2:\d+ tags\[0\]\.type: /, 'problems printed as validate prints them')
  const broken = await run('-c', join(dir, 'tagline.yaml'), join(dir, 'broken.json'))
  t.equal(broken.code, 2)
  t.match(broken.err, /broken\.json: 400 bad_json: /)
  const other = await run('-c', join(dir, 'tagline.yaml'), join(dir, 'other.json'), '--json')
  t.equal(other.code, 2)
  t.match(JSON.parse(other.out), { status: 400, error: 'unknown_format' })
  t.equal((await run('-c', join(dir, 'tagline.yaml'), join(dir, 'missing.json'))).code, 2, 'unreadable input')
  t.equal((await run('-c', join(dir, 'tagline.yaml'))).code, 2, 'no input')
  t.equal((await run('-c', join(dir, 'tagline.yaml'), '-H', 'nocolon', GTAG)).code, 2, 'bad header')
  const ok = await run('-c', join(dir, 'tagline.yaml'), '--no-trusted', join(dir, 'event.json'))
  t.equal(ok.code, 0)
  t.match(ok.out, /untrusted \(a browser\)/, '--no-trusted')
  t.match((await run('-c', join(dir, 'tagline.yaml'), '--trusted=false', join(dir, 'event.json'))).out, /untrusted \(a browser\)/, '--trusted=false')
  const missing = await run('-c', join(dir, 'none.yaml'), join(dir, 'event.json'))
  t.equal(missing.code, 1, 'an unreadable config is a config error')
  t.match(missing.err, /none\.yaml cannot read the config file: no such file/)
  noSecrets(t, ok.out + ok.err, 'command output')

  // The real process, once for a report and once for bad input.
  const spawnTry = async (...args: string[]): Promise<{ code: number | null, out: string, err: string }> => await new Promise(resolve => {
    const env: NodeJS.ProcessEnv = { ...process.env, TAGLINE_FROM_SOURCE: '1' }
    delete env.NODE_OPTIONS
    delete env.NODE_V8_COVERAGE
    const p = spawn(process.execPath, [join(ROOT, 'bin', 'tagline.js'), 'try', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
    p.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
    p.on('close', code => resolve({ code, out, err }))
  })
  const [json, unknown] = await Promise.all([
    spawnTry('--config', join(dir, 'tagline.yaml'), '--json', GTAG),
    spawnTry('--config', join(dir, 'tagline.yaml'), join(dir, 'other.json'))
  ])
  t.equal(json.code, 0, json.err)
  const report = JSON.parse(json.out) as TryReport
  t.match(report, { input: { client: 'gtag', trusted: false }, sent: false })
  t.equal(tag(report, 'ga4').routing[0].outcome, 'queued')
  noSecrets(t, json.out, 'spawned --json')
  t.equal(unknown.code, 2)
  t.match(unknown.err, /400 unknown_format: No client recognised this request/)
})
