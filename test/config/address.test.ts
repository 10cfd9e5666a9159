// Where a config says the gateway listens, read from its `server` section alone (config/address.ts,
// for `tagline health`): the same addresses as the full load, whatever else the file holds.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { readListenAddresses } from '../../config/address.js'
import { ConfigError } from '../../config/errors.js'
import { validateConfigText } from '../../config/load.js'
import { WHSEC } from '../fixtures/standard-webhooks.js'

const EXAMPLES = fileURLToPath(new URL('../../config/examples/', import.meta.url))
const ENV = { BACKEND_API_KEY: 'backend-key-0001-e2f4', WEBHOOK_SECRET: WHSEC, GA4_API_SECRET: 'ga4-secret-1', META_ACCESS_TOKEN: 'meta-token-1', TIKTOK_ACCESS_TOKEN: 'tt-token-1', POSTHOG_API_KEY: 'phc_key_1' }
const TAGS = 'tags:\n  - { name: console, type: log }\n'

const addresses = (text: string, env: Record<string, string> = {}): unknown => {
  const full = validateConfigText(text, env)
  if (!full.ok) throw new Error(JSON.stringify(full.problems))
  const { port, host, ops } = full.config.server
  return ops === undefined ? { port, host } : { port, host, ops }
}

t.test('the same addresses as the full load, for every shipped example and the usual shapes', async t => {
  const files = readdirSync(EXAMPLES).filter(f => f.endsWith('.yaml'))
  t.ok(files.length >= 2)
  for (const f of files) {
    const text = readFileSync(join(EXAMPLES, f), 'utf8')
    t.same(readListenAddresses(text, f, ENV), addresses(text, ENV), f)
  }
  const shapes = [
    TAGS,
    `server: { port: 9000 }\n${TAGS}`,
    `server: { host: 127.0.0.1, opsPort: 9090 }\n${TAGS}`,
    `server: { host: 10.0.0.5, opsPort: 9090, opsHost: 0.0.0.0 }\n${TAGS}`,
    `server:\n  port: \${P}\n${TAGS}`
  ]
  for (const text of shapes) t.same(readListenAddresses(text, undefined, { P: '7000' }), addresses(text, { P: '7000' }), text.split('\n')[0])
  t.same(readListenAddresses(TAGS, undefined, { PORT: '8181' }), { port: 8181, host: '0.0.0.0' }, 'PORT overrides server.port')
  t.same(addresses(TAGS, { PORT: '8181' }), { port: 8181, host: '0.0.0.0' }, 'as in the full load')
})

t.test('a mistake elsewhere in the file does not hide the addresses', async t => {
  const text = `server: { port: 9100, opsPort: 9101 }\nstore: { redis: "\${MISSING_URL}" }\ntags:\n  - { name: x, type: no-such-type }\n  - { name: x, type: log, bogus: 1 }\n`
  t.notOk(validateConfigText(text, {}).ok, 'the file does not load')
  const paths = 'server:\n  port: 9200\n  deadLetterFile: "${DATA_DIR}/dead.jsonl"\n  cors: { origins: ["${SHOP_ORIGIN}"] }\n' + TAGS
  t.notOk(validateConfigText(paths, {}).ok, 'unset variables in other server settings')
  t.same(readListenAddresses(paths, 'tagline.yaml', {}), { port: 9200, host: '0.0.0.0' }, 'do not hide the address either')
  t.same(readListenAddresses(text, 'tagline.yaml', {}), { port: 9100, host: '0.0.0.0', ops: { port: 9101, host: '0.0.0.0' } })
})

t.test('a mistake in the addresses themselves is a ConfigError naming the line', async t => {
  const err = (text: string, env: Record<string, string> = {}): ConfigError => {
    try {
      readListenAddresses(text, 'tagline.yaml', env)
    } catch (e) {
      if (e instanceof ConfigError) return e
      throw e
    }
    throw new Error('no error')
  }
  t.match(err('server:\n  port: 99999\n').message, /tagline\.yaml:2:\d+ .*server\.port.*must be a port number from 0 to 65535/)
  t.match(err('server:\n  opsPort: nine\n').message, /server\.opsPort.*must be a port number/)
  t.match(err('server:\n  host: [a, b]\n').message, /server\.host.*must be a string/)
  t.match(err('server: 8080\n').message, /server.*must be a mapping/)
  t.match(err('server:\n  port: ${NOPE}\n').message, /NOPE/, 'a missing variable in the section')
  t.match(err(TAGS, { PORT: 'x' }).message, /PORT must be a port number/)
  t.match(err('server: {port: 1\n').problems[0], { code: 'yaml_syntax' }, 'text that is not YAML')
  t.same(readListenAddresses('', undefined, {}), { port: 8080, host: '0.0.0.0' }, 'an empty file: the defaults')
})
