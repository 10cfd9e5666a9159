// Every kind of config mistake: its code, its sentence, its line and its key path.
import t, { type Test } from 'tap'
import { ConfigError, formatProblems, loadConfig, loadConfigFile, validateConfigText, type ConfigProblem } from '../../config/load.js'
import { WHSEC as SECRET } from '../fixtures/standard-webhooks.js'

function problems (text: string, env: Record<string, string> = {}): ConfigProblem[] {
  const r = validateConfigText({ text, file: 'tagline.yaml' }, env)
  if (r.ok) throw new Error('expected problems, the config is valid')
  return r.problems
}

/** Exactly one problem, matching `want`. */
type Want = Partial<Record<keyof ConfigProblem, string | number | RegExp>>

function one (t: Test, text: string, want: Want, env: Record<string, string> = {}): void {
  const ps = problems(text, env)
  t.equal(ps.length, 1, `one problem: ${formatProblems('tagline.yaml', ps)}`)
  t.match(ps[0], want)
}

t.test('bad YAML syntax names the line and column', async t => {
  one(t, 'server:\n  port: 8080\n  cors: { origins: [a, b }\n', {
    code: 'yaml_syntax', line: 3, path: '', message: /^YAML syntax error: /
  })
  one(t, 'tags:\n  - name: a\n    type: log\n    type: log\n', { code: 'yaml_syntax', line: 4, message: /unique/ })
  const ps = problems('a: [1\nb: 2\n')
  t.equal(ps[0]?.line, 2)
  const flow = problems('debug: { token: ${DEBUG_TOKEN:-} }\nauth: {}\n')
  t.ok(flow.length <= 5, 'echo errors are cut')
  t.match(flow[0], { line: 1, code: 'yaml_syntax', message: /quote \$\{…\} references/ }, 'a hint for ${} inside a flow mapping')
})

t.test('unknown keys, with did-you-mean', async t => {
  one(t, 'server:\n  prot: 8080\n', {
    code: 'unknown_key', line: 2, column: 3, path: 'server.prot', message: "unknown key 'prot'; did you mean 'port'?"
  })
  one(t, 'port: 8080\n', { code: 'unknown_key', line: 1, path: 'port', message: /^unknown key 'port'; expected one of: .*server/ })
  one(t, 'tigger: {}\n', { code: 'unknown_key', path: 'tigger', message: "unknown key 'tigger'; did you mean 'triggers'?" })
  one(t, 'tags:\n  - name: crm\n    type: webhook\n    url: https://x.example/\n    fireon: [all]\n', {
    code: 'unknown_key', line: 5, column: 5, path: 'tags[0].fireon', message: "unknown key 'fireon'; did you mean 'fireOn'?"
  })
  one(t, 'tags:\n  - name: crm\n    type: log\n    url: https://x.example/\n', {
    code: 'unknown_key', line: 4, path: 'tags[0].url', message: /^unknown key 'url'; expected one of: name, type, enabled/
  })
  one(t, 'triggers:\n  t: { value: { gtee: 5 } }\n', {
    code: 'unknown_key', line: 2, path: 'triggers.t.value.gtee', message: "unknown operator 'gtee'; did you mean 'gte'?"
  })
})

t.test('wrong types, in plain words', async t => {
  one(t, 'tags:\n  - name: crm\n    type: webhook\n    url: 42\n', { code: 'type', line: 4, column: 10, path: 'tags[0].url', message: 'must be a string' })
  one(t, 'store:\n  redis: 6379\n', { code: 'type', path: 'store.redis', message: 'must be a string (put the value in quotes)' })
  one(t, 'server:\n  port: "8080"\n', { code: 'type', path: 'server.port', message: 'must be an integer' })
  one(t, 'tags:\n  - name: a\n    type: log\n    enabled: yes\n', { code: 'type', path: 'tags[0].enabled', message: 'must be true or false' })
  one(t, 'server:\n  trustProxy: sometimes\n', { code: 'type', path: 'server.trustProxy', message: 'must be a boolean, a list or an integer' })
  one(t, 'server:\n  rateLimit: true\n', { code: 'type', path: 'server.rateLimit', message: 'must be false or a mapping' })
  one(t, 'server:\n  rateLimit: { max: many, timeWindow: 1m }\n', { code: 'type', path: 'server.rateLimit.max', message: 'must be an integer' })
  one(t, 'server:\n  rateLimit: { max: 5, timeWindow: "a fortnight" }\n', { code: 'invalid_value', path: 'server.rateLimit.timeWindow', message: /^must be a time window such as "1 minute"/ })
  one(t, 'tags: {}\n', { code: 'type', path: 'tags', message: 'must be a list' })
  one(t, '- a\n', { code: 'type', path: '', line: 1, message: 'must be a mapping' })
  one(t, 'triggers:\n  t: { value: [1, 2] }\n', { code: 'type', line: 2, path: 'triggers.t.value', message: /^must be a string, a number, a boolean, null or a mapping$/ })
  one(t, 'triggers:\n  t: { all: [ { value: { gte: lots } } ] }\n', { code: 'type', path: 'triggers.t.all[0].value.gte', message: 'must be a number' })
  one(t, 'tags:\n  - name: a\n    type: log\n    fireOn: [ { event_name: { matches: 5 } } ]\n', { code: 'type', line: 4, path: 'tags[0].fireOn[0].event_name.matches', message: 'must be a string' })
  for (const ps of [problems('tags:\n  - name: a\n    type: log\n    fireOn: [ 7 ]\n')]) {
    t.match(ps, [{ code: 'type', path: 'tags[0].fireOn[0]', message: 'must be a string or a mapping' }])
  }
})

t.test('other invalid values', async t => {
  one(t, 'tags:\n  - name: a\n    type: webhook\n    url: ftp://x\n', { code: 'invalid_value', path: 'tags[0].url', message: 'must be a URL starting with http:// or https://' })
  one(t, 'tags:\n  - name: a\n    type: log\n    consent: [ads]\n', {
    code: 'invalid_value', line: 4, path: 'tags[0].consent[0]', message: 'must be one of: ad_storage, analytics_storage, ad_user_data, ad_personalization'
  })
  one(t, 'tags:\n  - name: a\n    type: webhook\n    url: https://x.example/\n    method: GET\n', { path: 'tags[0].method', message: 'must be one of: POST, PUT, PATCH' })
  one(t, 'dedup: { window: 2 weeks }\n', { code: 'invalid_value', path: 'dedup.window', message: /^must be a duration such as "500ms"/ })
  one(t, 'server: { port: 70000 }\n', { code: 'invalid_value', path: 'server.port', message: 'must be at most 65535' })
  one(t, 'tags:\n  - name: a\n    type: log\n    timeoutMs: 5\n', { path: 'tags[0].timeoutMs', message: 'must be at least 100' })
  one(t, 'tags:\n  - name: a b\n    type: log\n', { path: 'tags[0].name', message: "must be 1 to 64 letters, digits, '_', '.' or '-'" })
  one(t, 'tags:\n  - name: a\n    type: log\n    fireOn: []\n', { path: 'tags[0].fireOn', message: 'must not be an empty list' })
  one(t, 'triggers:\n  t: {}\n', { path: 'triggers.t', message: 'must not be empty' })
  one(t, 'tags:\n  - name: a\n    type: log\n    retry: { initialDelayMs: 5000, maxDelayMs: 1000 }\n', { path: 'tags[0].retry.initialDelayMs', message: 'must not be more than retry.maxDelayMs' })
  one(t, 'triggers:\n  "a b": { event_name: x }\n', { code: 'invalid_value', line: 2, path: 'triggers["a b"]', message: /not a valid trigger name/ })
})

t.test('missing required keys', async t => {
  one(t, 'tags:\n  - name: a\n    fireOn: [all]\n', { code: 'missing_key', line: 2, path: 'tags[0]', message: "missing required key 'type'" })
  one(t, 'tags:\n  - name: a\n    type: webhook\n', { code: 'missing_key', line: 2, path: 'tags[0]', message: "missing required key 'url'" })
})

t.test('environment variables', async t => {
  one(t, 'auth:\n  apiKeys: ["${BACKEND_API_KEY}"]\n', {
    code: 'env_missing', line: 2, path: 'auth.apiKeys[0]', message: 'environment variable BACKEND_API_KEY is not set'
  })
  one(t, 'auth:\n  apiKeys: ["${BACKEND_API_KEY}"]\n', { code: 'env_missing', message: 'environment variable BACKEND_API_KEY is empty' }, { BACKEND_API_KEY: '' })
  // A key opens /admin and lets a request set the visitor's IP: one short enough to guess is refused, without being printed.
  one(t, 'auth:\n  apiKeys: ["${BACKEND_API_KEY}"]\n', { code: 'invalid_value', line: 2, path: 'auth.apiKeys[0]', message: 'an API key of 6 characters can be guessed; use at least 16 (openssl rand -hex 24 makes one)' }, { BACKEND_API_KEY: 'hunter' })
  one(t, 'auth:\n  apiKeys: [0123456789abcdef, short-key]\n', { code: 'invalid_value', path: 'auth.apiKeys[1]', message: /9 characters/ })
  one(t, 'debug:\n  token: ${DEBUG TOKEN}\n', { code: 'env_malformed', line: 2, path: 'debug.token', message: /^malformed reference/ })
  one(t, 'debug:\n  token: abc${DEBUG\n', { code: 'env_malformed', path: 'debug.token', message: /^unterminated/ })
  one(t, 'server:\n  port: ${PORT_NUMBER}\n', { code: 'env_missing', path: 'server.port' })
  one(t, 'tags:\n  - name: a\n    type: webhook\n    url: https://x.example/\n    secret: ${SECRET}\n', {
    code: 'invalid_value', path: 'tags[0].secret'
  }, { SECRET: 'not a secret' })
  const ps = problems('store: { redis: "${REDIS}" }\nauth: { apiKeys: ["${A}", "${B}"] }\n')
  t.same(ps.map(p => p.message), ['environment variable REDIS is not set', 'environment variable A is not set', 'environment variable B is not set'], 'all of them at once')
})

t.test('a number from the environment where a string is wanted gets a hint', async t => {
  one(t, 'debug:\n  token: ${TOKEN}\n', { code: 'type', path: 'debug.token', message: /^must be a string \(\$\{TOKEN\} was read as a number or boolean; quote it/ }, { TOKEN: '1234567890123456' })
  const r = validateConfigText('debug:\n  token: "${TOKEN}"\n', { TOKEN: '1234567890123456' })
  t.ok(r.ok && r.config.debug.token === '1234567890123456', 'quoted: stays a string')
})

t.test('tags: types, names, trigger references, regexes', async t => {
  one(t, 'tags:\n  - name: a\n    type: ga5\n', { code: 'unknown_tag_type', line: 3, column: 11, path: 'tags[0].type', message: /^unknown tag type 'ga5'; known: .*webhook.*log|^unknown tag type 'ga5'; known: .*log.*webhook/ })
  one(t, 'tags:\n  - name: a\n    type: constructor\n', { code: 'unknown_tag_type' })
  one(t, 'tags:\n  - { name: a, type: log }\n  - { name: b, type: log }\n  - name: a\n    type: log\n', {
    code: 'duplicate_tag', line: 4, path: 'tags[2].name', message: "duplicate tag name 'a' (already used by tags[0]); tag names must be unique"
  })
  one(t, 'triggers:\n  purchase: { event_name: purchase }\ntags:\n  - name: a\n    type: log\n    fireOn: [purchse]\n', {
    code: 'unknown_trigger', line: 6, path: 'tags[0].fireOn[0]', message: "unknown trigger 'purchse'; did you mean 'purchase'?"
  })
  one(t, 'tags:\n  - name: a\n    type: log\n    blockOn: [staging]\n', {
    code: 'unknown_trigger', path: 'tags[0].blockOn[0]', message: "unknown trigger 'staging'; defined: all"
  })
  one(t, 'triggers:\n  all: { event_name: x }\n', { code: 'reserved_trigger', line: 2, column: 3, path: 'triggers.all', message: /^'all' is built in/ })
  one(t, 'triggers:\n  staging:\n    page_location: { matches: "^https://(staging" }\n', {
    code: 'bad_regex', line: 3, path: 'triggers.staging.page_location.matches', message: /^invalid regular expression \(RE2 syntax.*missing closing \)/
  })
  one(t, 'tags:\n  - name: a\n    type: log\n    blockOn:\n      - { any: [ { x: 1 }, { "params.plan": { matches: "[" } } ] }\n', {
    code: 'bad_regex', line: 5, path: 'tags[0].blockOn[0].any[1]["params.plan"].matches'
  })
})

t.test('every problem is reported, in file order', async t => {
  const ps = problems([
    'server:',
    '  prot: 1',
    'triggers:',
    '  t: { x: { matches: "(" } }',
    'tags:',
    '  - name: a',
    '    type: nope',
    '  - name: a',
    '    type: log',
    '    fireOn: [missing]'
  ].join('\n'))
  t.same(ps.map(p => [p.line, p.code]), [[2, 'unknown_key'], [4, 'bad_regex'], [7, 'unknown_tag_type'], [8, 'duplicate_tag'], [10, 'unknown_trigger']])
})

t.test('formatProblems and ConfigError', async t => {
  t.equal(formatProblems('tagline.yaml', [{ line: 14, column: 5, path: 'tags[1].measurementId', code: 'type', message: 'must be a string' }]),
    'tagline.yaml:14:5 tags[1].measurementId: must be a string')
  t.equal(formatProblems(undefined, [{ path: '', code: 'unreadable', message: 'x' }]), '<config> x')
  const err = t.throws(() => loadConfig({ text: 'server:\n  prot: 1\n', file: 'tagline.yaml' }, {})) as ConfigError
  t.ok(err instanceof ConfigError)
  t.equal(err.code, 'invalid_config')
  t.equal(err.message, "tagline.yaml:2:3 server.prot: unknown key 'prot'; did you mean 'port'?")
  t.equal(err.problems.length, 1)
  t.match(err.toJSON(), { error: 'invalid_config', details: [{ path: 'server.prot' }] })
  t.throws(() => loadConfigFile('/nonexistent/tagline.yaml', {}), { code: 'invalid_config', message: '/nonexistent/tagline.yaml cannot read the config file: no such file' })
  t.ok(validateConfigText({ text: 'tags:\n  - { name: a, type: webhook, url: "https://x.example/", secret: "' + SECRET + '" }\n' }, {}).ok)
})

t.test('PORT from the environment is checked', async t => {
  one(t, 'server: { port: 80 }\n', { path: 'server.port', message: 'environment variable PORT must be a port number from 0 to 65535' }, { PORT: 'http' })
  one(t, '{}\n', { path: 'server.port' }, { PORT: '99999' })
})
