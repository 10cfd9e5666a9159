import t from 'tap'
import { consentFromHit, decodeGcd, decodeGcs } from '../../clients/consent.js'

t.test('gcs: G1 + ad_storage + analytics_storage', async t => {
  t.strictSame(decodeGcs('G111'), { ad_storage: 'granted', analytics_storage: 'granted' })
  t.strictSame(decodeGcs('G100'), { ad_storage: 'denied', analytics_storage: 'denied' })
  t.strictSame(decodeGcs('G101'), { ad_storage: 'denied', analytics_storage: 'granted' })
  t.strictSame(decodeGcs('G110'), { ad_storage: 'granted', analytics_storage: 'denied' })
  t.strictSame(decodeGcs('G1--'), {})
  t.strictSame(decodeGcs('G1-1'), { analytics_storage: 'granted' })
  t.strictSame(decodeGcs(''), {})
  t.strictSame(decodeGcs('G2xx'), {})
  t.strictSame(decodeGcs('G1'), {})
  t.strictSame(decodeGcs(undefined), {})
})

t.test('gcd: letters at positions 2, 4, 6, 8', async t => {
  t.strictSame(decodeGcd('13t3t3t3t5l1'), { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' })
  t.strictSame(decodeGcd('13p3t3p2p5l1'), { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied', ad_personalization: 'denied' })
  t.strictSame(decodeGcd('13l3l3l3l1l1'), {})
  t.strictSame(decodeGcd('11p1p1p1p5'), { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' })
  t.strictSame(decodeGcd('13r3v3n3e5'), { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' })
  t.strictSame(decodeGcd('13q3m3u3p5'), { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' })
  t.strictSame(decodeGcd('13t3t3R3t5'), { ad_storage: 'granted', analytics_storage: 'granted', ad_personalization: 'granted' }, 'uppercase letters are unknown')
  t.strictSame(decodeGcd('13t'), { ad_storage: 'granted' }, 'a short string decodes what it has')
  t.strictSame(decodeGcd(''), {})
})

t.test('gcd wins where it has a letter; gcs fills the rest; npa denies personalisation when unset', async t => {
  t.strictSame(consentFromHit('G100', '13t3t3t3t5l1', '0'), { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' })
  t.strictSame(consentFromHit('G101', '13l3l3l3l1l1', undefined), { ad_storage: 'denied', analytics_storage: 'granted' })
  t.strictSame(consentFromHit('G111', '13l3p3l3l1l1', '1'), { ad_storage: 'granted', analytics_storage: 'denied', ad_personalization: 'denied' })
  t.strictSame(consentFromHit(undefined, undefined, '1'), { ad_personalization: 'denied' })
  t.strictSame(consentFromHit(undefined, '13t3t3t3t5l1', '1'), { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' }, 'npa does not override an explicit gcd letter')
  t.equal(consentFromHit(undefined, undefined, '0'), undefined)
  t.equal(consentFromHit('', '', ''), undefined)
})
