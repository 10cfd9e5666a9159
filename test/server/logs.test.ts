// Logs never leak: API keys, cookies, webhook secrets and raw user data stay out of every line,
// whichever path (log tag, dry run, dead letters, errors, 4xx) writes it.
import t from 'tap'
import { harness, drained, captureLogs, hookTag, AUTH, API_KEY } from './fixtures/harness.js'
import { until } from '../fixtures/wait.js'
import { startSink } from '../fixtures/sink.js'
import { WHSEC as SECRET } from '../fixtures/standard-webhooks.js'

const EMAIL = 'jane.doe@example.com'
const SESSION = 'sess_9f8e7d6c5b4a39281706'
const FPID = 'FPID2.2.c2VjcmV0LWNsaWVudC1pZA.1690000000'
const WRONG_KEY = 'tl_wrong_key_0000aaaa1111'

t.test('a day of traffic through every logging path leaks nothing', async t => {
  // A destination that refuses every request, so drops and dead letters are logged. On /echo it
  // quotes the body it got in its error, as many webhook receivers do.
  const failing = await startSink(t, r => ({
    status: 400,
    headers: { 'content-type': 'text/plain' },
    body: r.url === '/echo' ? `bad request: ${r.raw.slice(0, 500)}` : 'bad request'
  }))

  const logs = captureLogs('trace')
  const h = await harness({
    logger: logs.logger,
    yaml: 'server:\n  rateLimit: { max: 1000, timeWindow: "1 minute" }\n',
    tags: url => [
      '  - name: console\n    type: log\n',
      hookTag('signed', url, `secret: ${SECRET}`),
      hookTag('dry', url, `secret: ${SECRET}\ndryRun: true`),
      `  - name: failing
    type: webhook
    url: ${failing.origin}/hook
    secret: ${SECRET}
    batch: { maxEvents: 10, maxWaitMs: 0 }
    retry: { maxAttempts: 1 }
`,
      `  - name: echoing
    type: webhook
    url: ${failing.origin}/echo
    batch: { maxEvents: 10, maxWaitMs: 0 }
    retry: { maxAttempts: 1 }
`
    ].join('')
  })
  t.teardown(h.close)

  const cookie = `session=${SESSION}; FPID=${FPID}; _fbp=fb.1.1690000000000.1234567890`
  const userData = { email_address: EMAIL, phone_number: '+41 79 555 01 02', address: { first_name: 'Jane', last_name: 'Doe' } }
  const requests = [
    { method: 'POST', url: '/collect', headers: { authorization: AUTH, cookie }, payload: { event_name: 'purchase', transaction_id: 'L-1', value: 5, user_data: userData } },
    { method: 'POST', url: '/collect', headers: { cookie }, payload: { event: 'sign_up', user_data: { email: EMAIL } } },
    { method: 'POST', url: '/mp/collect?measurement_id=G-1&api_secret=mp_secret_value_123', headers: { authorization: AUTH }, payload: { client_id: '1.2', user_id: 'u1', user_data: { sha256_email_address: 'a'.repeat(64) }, events: [{ name: 'login' }] } },
    { method: 'GET', url: `/g/collect?v=2&tid=G-1&cid=1.2&en=generate_lead&ep.user_data.email=${encodeURIComponent(EMAIL)}&ep.user_data.phone_number=%2B41795550102`, headers: { cookie } },
    // refused requests: a wrong key, a bad body, a bad URL, an unknown route
    { method: 'POST', url: '/collect', headers: { authorization: `Bearer ${WRONG_KEY}`, cookie }, payload: { event_name: 'x', user_data: { email_address: EMAIL } } },
    { method: 'POST', url: '/collect', headers: { authorization: AUTH, cookie }, payload: `{"event_name":"x","user_data":{"email_address":"${EMAIL}"` },
    { method: 'POST', url: '/collect', headers: { cookie }, payload: { event_name: 'x', user_data: { email_address: EMAIL, nope: EMAIL } } },
    { method: 'GET', url: `/%E0?email=${EMAIL}`, headers: { authorization: AUTH, cookie } },
    { method: 'GET', url: `/nope?email=${EMAIL}&api_secret=mp_secret_value_123`, headers: { authorization: AUTH, cookie } }
  ] as const
  for (const r of requests) {
    const res = await h.app.inject({ ...r, headers: { 'content-type': 'application/json', ...r.headers } } as never)
    t.ok(res.statusCode < 500, `${r.method} ${r.url.split('?')[0]} → ${res.statusCode}`)
  }
  await drained(h, ['console', 'signed', 'dry'])
  await until(() => h.delivery.depth('failing') === 0 && h.delivery.depth('echoing') === 0, 5000, 'the failing tags to give up')
  await until(() => logs.text().includes('event dropped'), 2000, 'the drop to be logged')

  // The echoing destination's lines are judged apart, below.
  const echoed = logs.lines.filter(l => l.includes('"tag":"echoing"'))
  const text = logs.lines.filter(l => !l.includes('"tag":"echoing"')).join('')
  t.ok(logs.lines.length > 5, `the paths above did log (${logs.lines.length} lines)`)
  t.match(text, /"msg":"log request"/, 'the log tag printed the events')
  t.match(text, /"msg":"dry run: request not sent"/, 'the dry run printed its requests')
  t.match(text, /generate_lead/, 'event names are there, so the check below means something')

  const forbidden: Array<[string, string]> = [
    [API_KEY, 'the API key'],
    [WRONG_KEY, 'a wrong API key'],
    [SESSION, 'a session cookie'],
    [FPID, 'the FPID cookie'],
    [SECRET, 'the webhook secret'],
    [SECRET.slice('whsec_'.length), 'the webhook secret without its prefix'],
    [EMAIL, 'the raw e-mail'],
    [encodeURIComponent(EMAIL), 'the raw e-mail, URL-encoded'],
    ['+41 79 555 01 02', 'the raw phone number'],
    ['mp_secret_value_123', 'the MP api_secret']
  ]
  for (const [value, what] of forbidden) {
    t.notOk(text.includes(value), `${what} is not logged`)
  }
  t.ok((await h.delivery.deadLetters.list('failing')).length > 0, 'the failing destination dead-lettered events')

  // A receiver that quotes the request back must not put the raw user_data into the log.
  t.ok(echoed.some(l => l.includes('event dropped')), 'the echoing destination dropped events')
  t.notOk(echoed.join('').includes(EMAIL), 'a destination quoting the request does not put the raw e-mail into the log')
})
