import t from 'tap'
import { createHash } from 'node:crypto'
import { sha256Hex, isSha256Hex, hashUserData } from '../../tags/pii.js'
import {
  normalizeEmail, normalizePhone, normalizeName, normalizeCity,
  normalizeRegion, normalizePostalCode, normalizeCountry, normalizeGender, normalizeDateOfBirth,
  normalizeExternalId, normalizeStreet, type PiiFlavour
} from '../../tags/pii-normalize.js'

// Full hashes recomputed with Node from hand-normalised values. The Meta ones are the examples'
// "Expected SHA256 output" in https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters;
// TikTok (https://business-api.tiktok.com/portal/docs?id=1771101027431425) hashes the phone in
// E.164 with its '+', and the email trimmed and lowercased.
const V = {
  email: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
  metaPhone: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
  tiktokPhone: '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8',
  mary: '6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec',
  jeong: '8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14',
  valery: '08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c',
  dob: '01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c',
  us: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621',
  zip: '1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e',
  f: '252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111',
  m: '62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a'
}
// The first and last hex digits of each hash as written down by hand from the pages above.
const ref: Record<string, [string, string]> = {
  email: ['62a14e44', 'a0f62f'], metaPhone: ['e323ec62', 'ab3176'], tiktokPhone: ['1e231c66', '0ffbc8'],
  mary: ['6915771b', 'c449f4ec'], jeong: ['8fa8cd9c', 'eb51db14'], valery: ['08e1996b', '7149c'],
  dob: ['01acdbf6', 'f40f0c'], us: ['79adb2a2', 'a904621'], zip: ['1794327a', '0efb052e'], f: ['252f10c8', '82d9f111'], m: ['62c66a7a', 'abd63c5a']
}

t.test('each full hash agrees with the digits written down by hand', async t => {
  for (const [k, [pre, suf]] of Object.entries(ref)) {
    const full = V[k as keyof typeof V]
    t.ok(full.startsWith(pre) && full.endsWith(suf), k)
  }
})

t.test('sha256Hex matches createHash; isSha256Hex', async t => {
  for (const s of ['', 'abc', 'valéry', '😀'.repeat(3), 'x'.repeat(10_000)]) {
    t.equal(sha256Hex(s), createHash('sha256').update(s).digest('hex'))
  }
  t.ok(isSha256Hex(V.email))
  t.ok(isSha256Hex(` ${V.email.toUpperCase()}\n`))
  t.notOk(isSha256Hex(V.email.slice(1)))
  t.notOk(isSha256Hex('z'.repeat(64)))
  t.notOk(isSha256Hex(42 as any))
})

t.test('Meta\'s published normalization and hash examples', async t => {
  t.equal(normalizeEmail('John_Smith@gmail.com', 'meta'), 'john_smith@gmail.com')
  t.equal(sha256Hex(normalizeEmail('  John_Smith@gmail.com ', 'meta')!), V.email)
  t.equal(normalizePhone('(650)555-1212', 'meta', 'US'), '16505551212')
  t.equal(sha256Hex(normalizePhone('(650)555-1212', 'meta', 'US')!), V.metaPhone)
  t.equal(sha256Hex(normalizeName('Mary')!), V.mary)
  t.equal(sha256Hex(normalizeName('정')!), V.jeong)
  t.equal(sha256Hex(normalizeName('Valéry')!), V.valery)
  t.equal(sha256Hex(normalizeName('Vale\u0301ry')!), V.valery, 'NFD input is composed to NFC')
  t.equal(normalizeDateOfBirth('2/16/1997'), '19970216')
  t.equal(sha256Hex(normalizeDateOfBirth('2/16/1997')!), V.dob)
  t.equal(normalizeCountry('United States'), 'us')
  t.equal(sha256Hex(normalizeCountry('United States')!), V.us)
  t.equal(sha256Hex(normalizePostalCode('94035')!), V.zip)
  t.equal(sha256Hex(normalizeGender('f')!), V.f)
  t.equal(sha256Hex(normalizeGender('M')!), V.m)
  t.equal(normalizeCity('New York'), 'newyork')
  t.equal(normalizeRegion('California'), 'ca')
})

t.test('TikTok normalization and hashes: the phone keeps its +, the email hashes as Meta\'s', async t => {
  t.equal(normalizePhone('+16505551212', 'tiktok'), '+16505551212')
  t.equal(sha256Hex(normalizePhone('+1 (650) 555-1212', 'tiktok')!), V.tiktokPhone)
  t.equal(sha256Hex(normalizeEmail('John_Smith@gmail.com', 'tiktok')!), V.email, 'same email hash as Meta')
  const ud = hashUserData({ phone_number: '(650) 555-1212' }, 'tiktok', { defaultCountry: 'US' })
  t.same(ud, { sha256_phone_number: V.tiktokPhone })
})

t.test('email', async t => {
  t.equal(normalizeEmail('John.Smith@Gmail.com', 'meta'), 'john.smith@gmail.com', 'no gmail rule for meta')
  t.equal(normalizeEmail('John.Smith@Gmail.com', 'tiktok'), 'john.smith@gmail.com')
  t.equal(normalizeEmail(' John.Smith+x@Gmail.com', 'google'), 'johnsmith+x@gmail.com')
  t.equal(normalizeEmail('j.s@googlemail.com', 'google'), 'js@googlemail.com')
  t.equal(normalizeEmail('j.s@example.com', 'google'), 'j.s@example.com', 'dots kept off gmail')
  t.equal(normalizeEmail('...@gmail.com', 'google'), undefined)
  for (const bad of ['', '   ', 'john', 'john@', '@x.com', 'a b@x.com', 'a@b', 'a@@b.com', `${'a'.repeat(10_000)}@x.com`]) {
    t.equal(normalizeEmail(bad, 'meta'), undefined, JSON.stringify(bad.slice(0, 20)))
  }
  t.equal(normalizeEmail('ÉLODIE@Exemple.fr', 'meta'), 'élodie@exemple.fr')
})

t.test('phone: meta digits vs tiktok/google E.164', async t => {
  const cases: Array<[string, string | undefined, string | undefined, string?]> = [
    // input, meta, e164, defaultCountry
    ['+1 650 555 1212', '16505551212', '+16505551212'],
    ['001 650 555 1212', '16505551212', '+16505551212'],
    ['16505551212', '16505551212', '+16505551212', 'US'],
    ['6505551212', '16505551212', '+16505551212', 'US'],
    ['6505551212', '16505551212', '+16505551212', 'ca'],
    ['07700 900123', '447700900123', '+447700900123', 'GB'],
    ['+44 (0)7700 900123', '4407700900123', '+4407700900123'], // "(0)" is not ours to guess: kept digits
    ['447700900123', '447700900123', '+447700900123', 'GB'],
    ['07700 900123', undefined, undefined],
    ['07700 900123', undefined, undefined, 'XX'],
    ['0151 23456789', '4915123456789', '+4915123456789', 'DE'],
    ['06 12 34 56 78', '33612345678', '+33612345678', 'FR'],
    ['06 1234 5678', '390612345678', '+390612345678', 'IT'],
    ['392 123 4567', '393921234567', '+393921234567', 'IT'],
    ['47 12 34 56', '4747123456', '+4747123456', 'NO'],
    ['+47 47 12 34 56', '4747123456', '+4747123456', 'NO'],
    ['0412 345 678', '61412345678', '+61412345678', 'AU'],
    ['090-1234-5678', '819012345678', '+819012345678', 'JP'],
    ['０９０-１２３４-５６７８', '819012345678', '+819012345678', 'JP'],
    ['555 1212', undefined, undefined, 'US'],
    ['+1 650 555 1212 ext. 42', '16505551212', '+16505551212'],
    ['12345', undefined, undefined],
    ['+1234567890123456', undefined, undefined],
    ['', undefined, undefined, 'US'],
    ['call me', undefined, undefined, 'US']
  ]
  for (const [input, meta, e164, cc] of cases) {
    t.equal(normalizePhone(input, 'meta', cc), meta, `meta ${input} ${cc ?? ''}`)
    t.equal(normalizePhone(input, 'tiktok', cc), e164, `tiktok ${input} ${cc ?? ''}`)
    t.equal(normalizePhone(input, 'google', cc), e164, `google ${input} ${cc ?? ''}`)
  }
})

t.test('names, street, city, region, postal code, country', async t => {
  t.equal(normalizeName("  O'Brien-Smith "), 'obriensmith')
  t.equal(normalizeName('Mary Ann'), 'maryann')
  t.equal(normalizeName('Mary Ann 2nd', 'google'), 'mary ann nd')
  t.equal(normalizeName('😀😀'), undefined)
  t.equal(normalizeName('Zoë 😀'), 'zoë')
  t.equal(normalizeName('Müller'), 'müller')
  t.equal(normalizeName('Иван'), 'иван')
  t.equal(normalizeStreet('  123 Main St., Apt #4 '), '123 main st apt 4')
  t.equal(normalizeCity('São Paulo'), 'sãopaulo')
  t.equal(normalizeCity('New  York', 'google'), 'new york')
  t.equal(normalizeCity('Saint-Étienne', 'tiktok'), 'saintétienne')
  t.equal(normalizeRegion('New York', 'meta', 'US'), 'ny')
  t.equal(normalizeRegion('Québec', 'meta', 'CA'), 'qc')
  t.equal(normalizeRegion('TX'), 'tx')
  t.equal(normalizeRegion('Georgia', 'meta', 'GB'), 'georgia', 'no US map outside US/CA')
  t.equal(normalizeRegion('Île-de-France', 'meta', 'FR'), 'îledefrance')
  t.equal(normalizeRegion('North Rhine-Westphalia', 'google', 'DE'), 'north rhinewestphalia')
  t.equal(normalizePostalCode('94035-1234'), '94035')
  t.equal(normalizePostalCode('94035 1234', 'US'), '94035')
  t.equal(normalizePostalCode('M1 1AE', 'GB'), 'm11ae')
  t.equal(normalizePostalCode('K1A 0B1', 'CA'), 'k1a0b1')
  t.equal(normalizePostalCode('1987', 'AU'), '1987')
  t.equal(normalizePostalCode('75018', 'FR'), '75018')
  t.equal(normalizePostalCode('123456789', 'DE'), '123456789', 'no truncation outside the US')
  t.equal(normalizePostalCode('abc', 'US'), undefined)
  t.equal(normalizePostalCode(' - '), undefined)
  t.equal(normalizeCountry('USA'), 'us')
  t.equal(normalizeCountry('U.S.A.'), 'us')
  t.equal(normalizeCountry('United Kingdom'), 'gb')
  t.equal(normalizeCountry('UK'), 'gb')
  t.equal(normalizeCountry('Österreich'), 'at')
  t.equal(normalizeCountry('DE'), 'de')
  t.equal(normalizeCountry('Narnia'), undefined)
})

t.test('gender, date of birth, external id', async t => {
  t.equal(normalizeGender(' Female '), 'f')
  t.equal(normalizeGender('male'), 'm')
  t.equal(normalizeGender('x'), undefined)
  t.equal(normalizeGender('nonbinary'), undefined)
  const dob: Array<[string, string | undefined, ('mdy' | 'dmy')?]> = [
    ['19970216', '19970216'], ['1997-02-16', '19970216'], ['1997-02-16T00:00:00Z', '19970216'],
    ['16/02/1997', '19970216'], ['16.2.1997', '19970216'], ['02161997', '19970216'], ['16021997', '19970216'],
    ['3/4/1997', '19970304'], ['3/4/1997', '19970403', 'dmy'], ['03041997', '19970403', 'dmy'],
    ['Feb 16, 1997', '19970216'], ['16 February 1997', '19970216'], ['5 Feb 1997', '19970205'],
    ['2/30/1997', undefined], ['2/29/2000', '20000229'], ['2/29/1999', undefined], ['13/13/1997', undefined],
    ['1/1/1899', undefined], [`1/1/${new Date().getUTCFullYear() + 1}`, undefined], ['2/16/97', undefined],
    ['', undefined], ['yesterday', undefined], ['1997', undefined]
  ]
  for (const [input, want, order] of dob) t.equal(normalizeDateOfBirth(input, order ? { dateOrder: order } : undefined), want, `${input} ${order ?? ''}`)
  t.equal(normalizeExternalId('  User 42\t'), 'user42')
  t.equal(normalizeExternalId('   '), undefined)
})

t.test('hashUserData: meta hashes everything', async t => {
  const ud = hashUserData({
    email_address: 'John_Smith@gmail.com', phone_number: '(650)555-1212', external_id: 'U-1',
    gender: 'F', date_of_birth: '2/16/1997',
    address: { first_name: 'Mary', last_name: 'Valéry', street: '1 Main St', city: 'New York', region: 'New York', postal_code: '94035-1234', country: 'United States' }
  }, 'meta')
  t.same(ud, {
    sha256_email_address: V.email,
    sha256_phone_number: V.metaPhone, // country from the address
    sha256_external_id: sha256Hex('u-1'),
    sha256_gender: V.f,
    sha256_date_of_birth: V.dob,
    address: {
      sha256_first_name: V.mary, sha256_last_name: V.valery, sha256_street: sha256Hex('1 main st'),
      sha256_city: sha256Hex('newyork'), sha256_region: sha256Hex('ny'), sha256_postal_code: V.zip, sha256_country: V.us
    }
  })
})

t.test('hashUserData: tiktok and google keep city/region/country (google: postal code) clear', async t => {
  const input = { email_address: 'John.Smith@gmail.com', phone_number: '07700 900123', address: { first_name: 'Mary', city: 'New York', region: 'California', postal_code: '94035', country: 'USA' } }
  t.same(hashUserData(input, 'tiktok', { defaultCountry: 'GB' }), {
    sha256_email_address: sha256Hex('john.smith@gmail.com'),
    address: { sha256_first_name: V.mary, city: 'newyork', region: 'ca', sha256_postal_code: V.zip, country: 'us' }
  }, 'US trunk-0 phone is dropped: the address country beats the default')
  t.same(hashUserData(input, 'google', { defaultCountry: 'GB' }), {
    sha256_email_address: sha256Hex('johnsmith@gmail.com'),
    address: { sha256_first_name: V.mary, city: 'new york', region: 'ca', postal_code: '94035', country: 'us' }
  })
  t.same(hashUserData({ phone_number: '07700 900123' }, 'google', { defaultCountry: 'GB' }), { sha256_phone_number: sha256Hex('+447700900123') })
})

t.test('hashUserData: pre-hashed values pass through lower-cased; clear text in sha256_* keys is hashed', async t => {
  const H = V.email.toUpperCase()
  t.same(hashUserData({ sha256_email_address: ` ${H} ` }, 'meta'), { sha256_email_address: V.email })
  t.same(hashUserData({ email_address: H }, 'tiktok'), { sha256_email_address: V.email })
  t.same(hashUserData({ sha256_email_address: 'John_Smith@gmail.com' }, 'meta'), { sha256_email_address: V.email })
  t.same(hashUserData({ sha256_phone_number: V.metaPhone, phone_number: '+1 999 999 9999' }, 'meta'), { sha256_phone_number: V.metaPhone }, 'hashed key wins')
  t.same(hashUserData({ address: { sha256_city: V.us, sha256_country: V.us } }, 'tiktok'), { address: { sha256_city: V.us, sha256_country: V.us } }, 'hash kept when no clear value exists')
  t.same(hashUserData({ address: { sha256_city: 'Paris' } }, 'google'), { address: { city: 'paris' } })
  t.same(hashUserData({ address: { city: 'Paris' } }, 'meta'), { address: { sha256_city: sha256Hex('paris') } })
})

t.test('hashUserData: never leaks raw PII, never throws', async t => {
  const hostile: unknown[] = [
    undefined, null, 42, 'x', [], {}, { email_address: 42 }, { address: 'nope' }, { address: null },
    { email_address: '', phone_number: '   ', external_id: '\t', gender: '', date_of_birth: ' ', address: { first_name: '', city: '  ' } },
    { email_address: ['a@b.co', 7], phone_number: { n: 1 }, address: { first_name: ['Mary'], country: 5 } },
    { email_address: '😀@😀.😀', phone_number: '😀'.repeat(100), address: { first_name: '😀', last_name: '\u0000\ud800', city: '😀' } },
    { email_address: 'x'.repeat(10_240), phone_number: '1'.repeat(10_240), external_id: 'y'.repeat(10_240), date_of_birth: '1'.repeat(10_240), address: { first_name: 'z'.repeat(10_240), postal_code: '9'.repeat(10_240), country: 'u'.repeat(10_240), region: 'r'.repeat(10_240) } },
    Object.defineProperty({}, 'email_address', { get () { throw new Error('boom') }, enumerable: true }),
    new Proxy({}, { get () { throw new Error('proxy') } })
  ]
  const raw = /@|john|mary|\d{7}|😀|zzzz/i
  for (const [i, h] of hostile.entries()) {
    for (const f of ['meta', 'tiktok', 'google'] as PiiFlavour[]) {
      let out: unknown
      t.doesNotThrow(() => { out = hashUserData(h as any, f, { defaultCountry: 'US' }) }, `${i} ${f}`)
      if (out === undefined) continue
      const walk = (o: Record<string, unknown>): void => {
        for (const [k, v] of Object.entries(o)) {
          if (v !== null && typeof v === 'object') { walk(v as Record<string, unknown>); continue }
          t.type(v, 'string')
          if (k.startsWith('sha256_')) t.ok(isSha256Hex(v as string), `${i} ${f} ${k} is a hash`)
          else t.ok(['city', 'region', 'country', 'postal_code'].includes(k) && !raw.test(v as string), `${i} ${f} ${k} clear`)
        }
      }
      walk(out as Record<string, unknown>)
    }
  }
  t.same(hashUserData({ email_address: ['a@b.co', 7] } as any, 'meta'), { sha256_email_address: sha256Hex('a@b.co') }, 'arrays: first string kept')
  t.equal(hashUserData({ email_address: '', address: { first_name: '  ' } }, 'meta'), undefined)
  for (const fn of [normalizeEmail, normalizePhone, normalizeName, normalizeCity, normalizeRegion, normalizePostalCode, normalizeCountry, normalizeGender, normalizeDateOfBirth, normalizeExternalId, normalizeStreet] as Array<(...a: any[]) => unknown>) {
    for (const bad of [undefined, null, 1, {}, [], Symbol('s'), '']) t.doesNotThrow(() => fn(bad, 'meta'))
  }
})
