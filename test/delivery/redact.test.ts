// E-mail addresses masked wherever they stand (the debug view, log tags, dry runs, dead letters):
// plain or URL-encoded once or twice, and in time that grows with the text, not with its square.
import t from 'tap'
import { REDACTED, describeIncoming, describeRequest, scrubEmails, scrubMessage } from '../../server/delivery/redact.js'

const R = REDACTED

t.test('addresses are masked, the text around them kept', async t => {
  const cases: Array<[string, string]> = [
    ['https://shop.example/?email=jane@example.com&a=b', `https://shop.example/?email=${R}&a=b`],
    ['contact jane.doe+tag@mail.example.co.uk now', `contact ${R} now`],
    ['mailto:ann@ex.org,bob@ex.org', `mailto:${R},${R}`],
    ['one@ex.org two%40ex.org three%2540ex.org', `${R} ${R} ${R}`],
    ['"jane@example.com"', `"${R}"`],
    ['<jane@example.com>', `<${R}>`],
    ['jane@example.com.', `${R}.`],
    ['J@EX.ORG', R],
    ['x@y.com123', `${R}123`],
    ['en=x&ep.mail=ana%40mail.example&ep.b=2', `en=x&ep.mail=${R}&ep.b=2`],
    // An encoded address in an encoded URL: the URL before it goes too (nothing there stops it).
    ['https%3A%2F%2Fshop.example%2F%3Femail%3Djane%40example.com&x=1', `${R}&x=1`],
    ['ep.q=a%40b%40c.com', `ep.q=${R}`],
    ['a@b@c.com', `a@${R}`],
    // Two encoded addresses joined by an encoded comma or ampersand: the first one's domain runs
    // into the second's local part, and the mask runs on over the second's domain.
    ['ep.to=ann%40ex.org%2Cjohn.doe%40mail.com', `ep.to=${R}`],
    ['dl=https%3A%2F%2Fs.example%2F%3Fto%3Dann%40ex.org%26cc%3Djohn.doe%40mail.com', `dl=${R}`],
    ['a@b.cc+john.doe@x.com', R]
  ]
  for (const [text, want] of cases) t.equal(scrubEmails(text), want, text)
  for (const text of ['a@b.c', 'foo@bar', 'user@@example.com', '@example.com', 'no address here', '100%40 off', '']) {
    t.equal(scrubEmails(text), text, `not an address: ${JSON.stringify(text)}`)
  }
  t.equal(scrubMessage('rejected: jane%40example.com is invalid', {}), `rejected: ${R} is invalid`, 'a destination message: encoded ones too')
})

t.test('text made to make a pattern backtrack is read in one pass', async t => {
  // Each of these took seconds to hours with regular expressions of open-ended parts (a test
  // timeout, not a timer, is what would catch a return of that).
  const hostile: Array<[string, string]> = [
    ['a%40 repeated', 'a%40'.repeat(16_000)],
    ['a%2540 repeated', 'a%2540'.repeat(10_000)],
    ['a long local part and no domain', 'a'.repeat(64_000) + '@'],
    ['a@ repeated', 'a@'.repeat(32_000)],
    ['@a. repeated', '@a.'.repeat(20_000)],
    ['a domain of dots', 'x@' + 'a.'.repeat(32_000)]
  ]
  for (const [what, text] of hostile) t.equal(scrubEmails(text).length, text.length, `${what}: nothing to mask, read whole`)
  const many = 'a@b.cc '.repeat(8000)
  t.equal(scrubEmails(many), `${R} `.repeat(8000), 'eight thousand addresses, each masked')
})

t.test('scrubMessage copes with user data that has no UTF-8 form (a lone surrogate)', async t => {
  const event = { user_data: { address: { postal_code: '123\ud800', city: 'oslo' } }, ip_override: '203.0.113.7' }
  t.equal(scrubMessage('bad postal_code 123\ud800 in oslo from 203.0.113.7', event), `bad postal_code ${REDACTED} in ${REDACTED} from ${REDACTED}`)
})

t.test('a GA4 hit\'s contact parameters are masked by their bare name (ep.phone, up.phone_number, epn.user_data.*)', async t => {
  const q = 'v=2&en=sign_up&epn.user_data.phone_number=15551234567&ep.phone=%2B15551112222&up.phone_number=%2B15553334444&upn.email=x&ep.plan=pro'
  const incoming = describeIncoming({ method: 'GET', url: `/g/collect?${q}`, headers: {} })
  t.equal(incoming.url, `/g/collect?v=2&en=sign_up&epn.user_data.phone_number=${REDACTED}&ep.phone=${REDACTED}&up.phone_number=${REDACTED}&upn.email=${REDACTED}&ep.plan=pro`)
  // A forwarded hit as a dry run or the debug view describes it.
  const out = describeRequest({ method: 'POST', url: `https://www.google-analytics.com/g/collect?${q}&_uip=203.0.113.7`, headers: {}, body: 'en=x&ep.email_address=a&ep.plan=pro', events: [0] })
  t.notMatch(out.url, /1555/, 'no phone number in the URL')
  t.match(out.url, /ep\.plan=pro/)
  t.equal(out.body, `en=x&ep.email_address=${REDACTED}&ep.plan=pro`)
  t.equal(describeRequest({ method: 'POST', url: 'https://x.example/?ep.phone=1', headers: {}, events: [0] }, [], { keepUserData: true }).url, 'https://x.example/?ep.phone=1', 'documentation keeps its test data')
})
