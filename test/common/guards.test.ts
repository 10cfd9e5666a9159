// The guards shared by every layer; here the cut of a visitor's text to a destination's limit.
import t from 'tap'
import { cutText } from '../../common/guards.js'

t.test('cutText: at most max units, never half a surrogate pair', async t => {
  t.equal(cutText('short', 10), 'short', 'within the limit: as it is')
  t.equal(cutText('abcdef', 3), 'abc')
  t.equal(cutText('ab\u{1F600}cd', 3), 'ab', 'the pair left out whole')
  t.equal(cutText('ab\u{1F600}cd', 4), 'ab\u{1F600}')
  t.equal(cutText('ab%C3%A9', 4), 'ab%C', 'plain text: escapes mean nothing')
})

t.test('cutText for a URL: never inside an escape, nor between the escapes of one character', async t => {
  const decodes = (s: string): boolean => { try { decodeURIComponent(s); return true } catch { return false } }
  t.equal(cutText('ab%2Fcd', 3, true), 'ab', 'inside %2F')
  t.equal(cutText('ab%2Fcd', 4, true), 'ab')
  t.equal(cutText('ab%2Fcd', 5, true), 'ab%2F')
  t.equal(cutText('ab%C3%A9z', 7, true), 'ab', 'é is %C3%A9: both or neither')
  t.equal(cutText('ab%C3%A9z', 8, true), 'ab%C3%A9')
  t.equal(cutText('a%E2%82%ACz', 7, true), 'a', '€ is three bytes: two are not enough')
  t.equal(cutText('a%F0%9F%98%80z', 10, true), 'a', 'an emoji is four')
  t.equal(cutText('a%F0%9F%98%80z', 13, true), 'a%F0%9F%98%80')
  t.equal(cutText('ab%\u{1F600}z', 4, true), 'ab', 'a surrogate dropped does not leave a bare %')
  t.equal(cutText('ab%C\u{1F600}z', 5, true), 'ab', 'nor %C')
  t.equal(cutText('a%80%80%80%80%80z', 16, true), 'a%80%80%80%80%80', 'stray continuation bytes are the input\'s, left as they are')
  const url = 'https://x.example/?q=%C3%A9t%C3%A9%20%E2%82%AC%F0%9F%98%80&r=%2F'
  for (let max = 1; max <= url.length; max++) {
    const cut = cutText(url, max, true)
    t.ok(cut.length <= max && url.startsWith(cut) && decodes(cut), `cut at ${max} decodes`)
  }
})
