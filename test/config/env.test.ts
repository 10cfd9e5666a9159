import t from 'tap'
import { interpolate } from '../../config/env.js'

const env = { HOST: 'shop.example', PORT: '8080', EMPTY: '' }

t.test('references', async t => {
  t.same(interpolate('https://${HOST}/x', env), { value: 'https://shop.example/x', names: ['HOST'], whole: false, errors: [] })
  t.match(interpolate('${PORT}', env), { value: '8080', whole: true })
  t.match(interpolate('${NOPE:-fallback}', env), { value: 'fallback', whole: true, errors: [] })
  t.match(interpolate('${EMPTY:-fallback}', env), { value: 'fallback' }, 'empty takes the default')
  t.match(interpolate('${NOPE:-}', env), { value: '', errors: [] }, 'an empty default')
  t.match(interpolate('${NOPE:-a:-b c}', env), { value: 'a:-b c' }, 'the default runs to the closing brace')
  t.match(interpolate('${HOST}:${PORT}', env), { value: 'shop.example:8080', whole: false })
  t.match(interpolate('$${HOST} costs $5 and $', env), { value: '${HOST} costs $5 and $', names: [] }, '$${ is a literal ${, a lone $ stays')
  t.match(interpolate('$$${HOST}', env), { value: '${HOST}' }, 'the escape wins left to right')
  t.match(interpolate('no references', env), { value: 'no references', whole: false })
})

t.test('errors', async t => {
  t.same(interpolate('${BACKEND_API_KEY}', env).errors, [{ code: 'env_missing', message: 'environment variable BACKEND_API_KEY is not set' }])
  t.same(interpolate('${EMPTY}', env).errors, [{ code: 'env_missing', message: 'environment variable EMPTY is empty' }])
  t.match(interpolate('${A}${B}', {}).errors, [{ message: /A is not set/ }, { message: /B is not set/ }])
  // Names Object has (process.env inherits them) are variables like any other: not set here.
  for (const name of ['toString', 'constructor', 'valueOf', 'hasOwnProperty', '__proto__']) {
    t.same(interpolate(`https://x.example/\${${name}}`, env).errors, [{ code: 'env_missing', message: `environment variable ${name} is not set` }], name)
    t.same(interpolate(`https://x.example/\${${name}}`, process.env).errors.length, Object.hasOwn(process.env, name) ? 0 : 1, `${name} against process.env`)
  }
  t.match(interpolate('${1X}', env).errors, [{ code: 'env_malformed' }])
  t.match(interpolate('${}', env).errors, [{ code: 'env_malformed' }])
  t.match(interpolate('${HOST:default}', env).errors, [{ code: 'env_malformed' }])
  t.match(interpolate('x ${HOST', env).errors, [{ code: 'env_malformed', message: /^unterminated/ }])
})
