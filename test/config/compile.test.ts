import { DELIVERY_DEFAULTS, RETRY_DEFAULTS } from '../../schemas/defaults.js'
// Defaults, env values and the compiled shape pipeline and delivery rely on.
import t from 'tap'
import { loadConfig } from '../../config/load.js'
import { tagTypes } from '../../tags/index.js'
import type { TaglineEvent } from '../../schemas/event.js'

const load = (text: string, env: Record<string, string> = {}) => loadConfig({ text, file: 'tagline.yaml' }, env)

t.test('an empty file loads with every default', async t => {
  for (const text of ['', '# nothing\n', '{}\n']) {
    const c = load(text)
    t.same(c.server, {
      port: 8080,
      host: '0.0.0.0',
      trustProxy: false,
      corsOrigins: [],
      rateLimit: { max: 600, timeWindow: '1 minute', events: 3000 },
      bodyLimit: 65536,
      shutdownTimeoutMs: 10000,
      spoolFile: 'data/spool.jsonl',
      spoolMaxAgeMs: 7 * 86_400_000,
      deadLetterFile: 'data/dead-letters.jsonl',
      watchConfig: true
    })
    t.same(c.identity, { cookieDomain: 'auto', fpid: true, metaCookies: true, stitch: { enabled: true, ttlMs: 7 * 86_400_000 } })
    t.same(c.store, { prefix: 'tagline:' })
    t.same(c.apiKeys, [])
    t.same(c.dedup, { enabled: true, windowMs: 48 * 3_600_000 })
    t.same(c.debug, { ringSize: 500, onOpsPort: false })
    t.same(c.delivery, { maxQueue: 10000, deadLetterMax: 1000, deadLetterMaxAgeMs: 14 * 86_400_000, claimIdleMs: 120_000, localBuffer: 10_000 })
    t.same(c.tags, [])
    t.same([...c.triggers.keys()], ['all'], 'the built-in trigger')
    t.equal(c.file, 'tagline.yaml')
  }
})

t.test('server, identity, auth, dedup, debug, delivery from the file', async t => {
  const c = load([
    'server:',
    '  port: 9000',
    '  host: 127.0.0.1',
    '  trustProxy: ["10.0.0.0/8"]',
    '  cors: { origins: ["https://shop.example"] }',
    '  rateLimit: false',
    '  bodyLimit: 131072',
    '  shutdownTimeoutMs: 500',
    '  spoolFile: /var/spool/tagline.jsonl',
    '  spoolMaxAge: 3d',
    '  watchConfig: false',
    'identity: { cookieDomain: .shop.example, metaCookies: false, stitch: { ttl: 2d } }',
    'store: { redis: "redis://r:6379", prefix: "shop-prod:" }',
    'auth: { apiKeys: ["key-one-00000001", "", "key-two-00000002"] }',
    'dedup: { window: 10m, enabled: false }',
    'debug: { token: t0k_debug_view_0001, ring: 50, onOpsPort: true }',
    'delivery: { maxQueue: 5, deadLetterMax: 0, deadLetterMaxAge: 30d, claimIdle: 45s, localBuffer: 0 }'
  ].join('\n'))
  t.same(c.server, {
    port: 9000, host: '127.0.0.1', trustProxy: ['10.0.0.0/8'], corsOrigins: ['https://shop.example'],
    rateLimit: false, bodyLimit: 131072, shutdownTimeoutMs: 500, spoolFile: '/var/spool/tagline.jsonl',
    spoolMaxAgeMs: 3 * 86_400_000, deadLetterFile: 'data/dead-letters.jsonl', watchConfig: false
  })
  t.same(c.identity, { cookieDomain: '.shop.example', fpid: true, metaCookies: false, stitch: { enabled: true, ttlMs: 2 * 86_400_000 } })
  t.same(c.store, { redis: 'redis://r:6379', prefix: 'shop-prod:' })
  t.same(c.apiKeys, ['key-one-00000001', 'key-two-00000002'], 'empty keys are dropped')
  t.same(c.dedup, { enabled: false, windowMs: 600_000 })
  t.same(c.debug, { token: 't0k_debug_view_0001', ringSize: 50, onOpsPort: true })
  t.same(c.delivery, { maxQueue: 5, deadLetterMax: 0, deadLetterMaxAgeMs: 30 * 86_400_000, claimIdleMs: 45_000, localBuffer: 0 })
  t.same(load('dedup: { window: 1500 }').dedup.windowMs, 1500, 'a number is milliseconds')
  t.same(load('server: { rateLimit: { max: 10, timeWindow: 1000 } }').server.rateLimit, { max: 10, timeWindow: 1000, events: 3000 }, 'the event budget by default')
  t.same(load('server: { rateLimit: { max: 10, timeWindow: 1000, events: 800 } }').server.rateLimit, { max: 10, timeWindow: 1000, events: 800 })
})

t.test('env defaults, empty values and number coercion', async t => {
  const text = [
    'server:',
    '  port: ${PORT:-8080}',
    '  bodyLimit: ${BODY_LIMIT:-65536}',
    '  trustProxy: ${TRUST:-false}',
    'store: { redis: "${REDIS_URL:-}" }',
    'debug:',
    '  token: ${DEBUG_TOKEN:-}',
    'auth: { apiKeys: ["${API_KEY:-}", "literal $${NOT_A_VAR} and $5"] }'
  ].join('\n')
  const c = load(text)
  t.equal(c.server.port, 8080, 'a default that reads as an integer becomes a number')
  t.equal(c.server.bodyLimit, 65536)
  t.equal(c.server.trustProxy, false, 'true/false become booleans')
  t.same(c.store, { prefix: 'tagline:' }, 'an empty redis URL means the embedded store')
  t.same(c.debug, { ringSize: 500, onOpsPort: false }, 'an empty token disables /debug')
  t.same(c.apiKeys, ['literal ${NOT_A_VAR} and $5'], '$${ is a literal ${; empty keys dropped')

  const d = load(text, { BODY_LIMIT: '2048', TRUST: 'true', REDIS_URL: 'redis://x', DEBUG_TOKEN: 'abc_debug_view_0001', API_KEY: 'env-key-000000000001' })
  t.equal(d.server.bodyLimit, 2048)
  t.equal(d.server.trustProxy, true)
  t.same(d.store, { redis: 'redis://x', prefix: 'tagline:' })
  t.same(d.debug, { token: 'abc_debug_view_0001', ringSize: 500, onOpsPort: false })
  t.same(d.apiKeys, ['env-key-000000000001', 'literal ${NOT_A_VAR} and $5'])
  t.equal(load(text, { BODY_LIMIT: '' }).server.bodyLimit, 65536, 'an empty variable takes the default')
  t.same(load('dedup:\n  window: ${W:-2h}').dedup.windowMs, 7_200_000, 'non-numeric text stays a string')
  t.equal(load('debug: { token: "x-${A}-${B}" }', { A: '1234567', B: '2345678' }).debug.token, 'x-1234567-2345678', 'several references in one value')
  t.equal(load('debug: { token: "${A}" }', { A: '1234567890123456' }).debug.token, '1234567890123456', 'a quoted whole reference stays a string')
  t.throws(() => load('debug: { token: short }'), /debug\.token: must match/, 'a token shorter than 16 characters is refused')
})

t.test('PORT overrides the file', async t => {
  t.equal(load('server: { port: 9000 }', { PORT: '3000' }).server.port, 3000)
  t.equal(load('server: { port: 9000 }', { PORT: '' }).server.port, 9000, 'empty PORT is not set')
  t.equal(load('{}', { PORT: '0' }).server.port, 0)
})

t.test('tags get their defaults and their own settings', async t => {
  const c = load([
    'tags:',
    '  - name: hook',
    '    type: webhook',
    '    url: https://hooks.example/in',
    '    method: PUT',
    '    endpoint: http://127.0.0.1:9999/sink',
    '  - name: tuned',
    '    type: log',
    '    enabled: false',
    '    dryRun: true',
    '    consent: [analytics_storage]',
    '    timeoutMs: 2000',
    '    batch: { maxEvents: 7 }',
    '    retry: { maxAttempts: 3, maxAge: 30m, maxDelayMs: 60000 }',
    '    breaker: { failures: 2, cooldown: 20s, maxCooldown: 10s }',
    '    concurrency: 1',
    '    params: { exclude: [user_data], set: { env: prod, n: 1 } }'
  ].join('\n'))
  const [hook, tuned] = c.tags
  t.ok(hook !== undefined && tuned !== undefined)
  if (hook === undefined || tuned === undefined) return
  t.equal(hook.name, 'hook')
  t.equal(hook.type, 'webhook')
  t.equal(hook.def, tagTypes.webhook)
  t.equal(hook.enabled, true)
  t.equal(hook.dryRun, false)
  t.same(hook.settings, { url: 'https://hooks.example/in', method: 'PUT', endpoint: 'http://127.0.0.1:9999/sink' }, 'type settings plus endpoint')
  t.same(hook.consent, tagTypes.webhook?.defaults.consent)
  t.same(hook.batch, tagTypes.webhook?.defaults.batch)
  t.same(hook.retry, { maxAttempts: RETRY_DEFAULTS.maxAttempts, maxAgeMs: RETRY_DEFAULTS.maxAgeMs, initialDelayMs: RETRY_DEFAULTS.initialDelayMs, maxDelayMs: RETRY_DEFAULTS.maxDelayMs }, 'retry defaults come from delivery')
  t.same(hook.breaker, DELIVERY_DEFAULTS.breaker, 'breaker defaults come from delivery')
  t.equal(hook.concurrency, DELIVERY_DEFAULTS.concurrency)
  t.equal(hook.timeoutMs, 15000)
  t.same(hook.params, { exclude: [], set: {} })
  t.same(hook.decide({ event_name: 'x' } as TaglineEvent), { fire: true, trigger: 'all' })

  t.equal(tuned.enabled, false)
  t.equal(tuned.dryRun, true)
  t.same(tuned.settings, {})
  t.same(tuned.consent, ['analytics_storage'])
  t.same(tuned.batch, { maxEvents: 7, maxWaitMs: tagTypes.log?.defaults.batch.maxWaitMs })
  t.same(tuned.retry, { maxAttempts: 3, maxAgeMs: 1_800_000, initialDelayMs: 1000, maxDelayMs: 60000 })
  t.same(tuned.breaker, { failures: 2, cooldownMs: 20_000, maxCooldownMs: 20_000 }, 'a maxCooldown below the cooldown is raised to it')
  t.equal(tuned.concurrency, 1)
  t.equal(tuned.timeoutMs, 2000)
  t.same(tuned.params, { exclude: ['user_data'], set: { env: 'prod', n: 1 } })

  tuned.consent.push('ad_storage')
  tuned.batch.maxEvents = 1
  t.same(tagTypes.log?.defaults.consent, [], 'compiled values are copies: the registry defaults are untouched')
  t.not(tagTypes.log?.defaults.batch.maxEvents, 1)
})

t.test('identity.defaultCountry: every tag that reads phone numbers inherits it; its own wins', async t => {
  const c = load([
    'identity: { defaultCountry: GB }',
    'tags:',
    '  - { name: hook, type: webhook, url: https://hooks.example/in }',
    '  - { name: ga4, type: ga4, measurementId: G-ABC1234567, apiSecret: s, defaultCountry: DE }',
    '  - { name: console, type: log }',
    '  - { name: ph, type: posthog, apiKey: phc_x }'
  ].join('\n'))
  t.equal(c.identity.defaultCountry, 'GB')
  t.same(c.tags.map(x => [x.name, x.settings.defaultCountry]), [['hook', 'GB'], ['ga4', 'DE'], ['console', 'GB'], ['ph', undefined]],
    'inherited where the type has the setting, never added where it has none (posthog)')
  t.throws(() => load('identity: { defaultCountry: GBR }'), 'alpha-2 only')
})

t.test('identity.dateOrder: month first unless dmy', async t => {
  t.equal(load('identity: { dateOrder: dmy }').identity.dateOrder, 'dmy')
  t.equal(load('identity: { dateOrder: mdy }').identity.dateOrder, undefined, 'mdy is the default')
  t.equal(load('identity: {}').identity.dateOrder, undefined)
  t.throws(() => load('identity: { dateOrder: ymd }'), 'only mdy or dmy')
})

t.test('named triggers and tag decisions', async t => {
  const c = load([
    'triggers:',
    '  purchase: { event_name: purchase }',
    '  big_order: { all: [ { event_name: purchase }, { value: { gte: 500 } } ] }',
    '  staging: { page_location: { matches: "^https://staging\\\\." } }',
    'tags:',
    '  - name: a',
    '    type: log',
    '    fireOn: [big_order, purchase, { event_name: page_view }]',
    '    blockOn: [staging]'
  ].join('\n'))
  t.same([...c.triggers.keys()], ['all', 'purchase', 'big_order', 'staging'])
  const big = c.triggers.get('big_order')
  t.equal(big?.({ event_name: 'purchase', value: '600' } as unknown as TaglineEvent), true, 'value "600" is a number for gte')
  const decide = c.tags[0]?.decide
  if (decide === undefined) return t.fail('no tag')
  t.same(decide({ event_name: 'purchase', value: 900 } as TaglineEvent), { fire: true, trigger: 'big_order' })
  t.same(decide({ event_name: 'purchase', value: 9 } as TaglineEvent), { fire: true, trigger: 'purchase' })
  t.same(decide({ event_name: 'page_view' } as TaglineEvent), { fire: true, trigger: 'fireOn[2]' })
  t.same(decide({ event_name: 'scroll' } as TaglineEvent), { fire: false, reason: 'not_triggered' })
  t.same(decide({ event_name: 'page_view', page_location: 'https://staging.shop/' } as TaglineEvent), { fire: false, reason: 'blocked', trigger: 'staging' })
})

t.test('YAML merge keys share settings between tags', async t => {
  const c = load([
    'tags:',
    '  - &base { name: a, type: log, retry: { maxAttempts: 2 } }',
    '  - { <<: *base, name: b }'
  ].join('\n'))
  t.same(c.tags.map(x => [x.name, x.retry.maxAttempts]), [['a', 2], ['b', 2]])
})
