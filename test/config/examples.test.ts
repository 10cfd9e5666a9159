// The shipped examples load: quickstart with nothing set, full with the variables it documents.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { loadConfigFile, validateConfigText } from '../../config/load.js'
import type { TaglineEvent } from '../../schemas/event.js'
import type { CompiledTag } from '../../config/types.js'
import { WHSEC } from '../fixtures/standard-webhooks.js'

const example = (name: string): string => fileURLToPath(new URL(`../../config/examples/${name}`, import.meta.url))
const ev = (e: Record<string, unknown>): TaglineEvent => e as unknown as TaglineEvent

t.test('quickstart runs with no accounts and no env vars', async t => {
  const file = example('quickstart.yaml')
  t.match(readFileSync(file, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/\.\.\/schemas\/config\.schema\.json\n/)
  const c = loadConfigFile(file, {})
  t.equal(c.server.port, 8080)
  t.same(c.server.corsOrigins, ['http://localhost:3000'])
  t.same(c.tags.map(x => [x.name, x.type, x.dryRun]), [['console', 'log', false], ['orders-hook', 'webhook', true]])
  const [log, hook] = c.tags
  t.equal(hook?.settings.url, 'https://example.invalid/hook')
  t.same(log?.decide(ev({ event_name: 'scroll' })), { fire: true, trigger: 'all' })
  t.same(hook?.decide(ev({ event_name: 'add_to_cart' })), { fire: true, trigger: 'ecommerce' })
  t.same(hook?.decide(ev({ event_name: 'sign_up' })), { fire: true, trigger: 'fireOn[1]' })
  t.same(hook?.decide(ev({ event_name: 'purchase', consent: { analytics_storage: 'denied' } })), { fire: false, reason: 'blocked', trigger: 'no_analytics_consent' })
  t.same(hook?.decide(ev({ event_name: 'scroll' })), { fire: false, reason: 'not_triggered' })
})

t.test('full loads with its env vars, and names them when missing', async t => {
  const file = example('full.yaml')
  t.match(readFileSync(file, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/\.\.\/schemas\/config\.schema\.json\n/)
  const env = { BACKEND_API_KEY: 'backend-key-0001-e2f4', WEBHOOK_SECRET: WHSEC, GA4_API_SECRET: 'ga4-secret-1', META_ACCESS_TOKEN: 'meta-token-1', TIKTOK_ACCESS_TOKEN: 'tt-token-1', POSTHOG_API_KEY: 'phc_key_1' }
  const c = loadConfigFile(file, env)
  t.equal(c.server.port, 8080)
  t.same(c.server.trustProxy, ['10.0.0.0/8'])
  t.same(c.apiKeys, ['backend-key-0001-e2f4'])
  t.same(c.store, { prefix: 'tagline:' })
  t.same(c.debug, { ringSize: 500, onOpsPort: false })
  t.same(c.privacy, { honorGpc: true })
  t.same(c.tags.map(x => [x.name, x.type, x.enabled]), [['ga4', 'ga4', true], ['meta', 'meta', true], ['tiktok', 'tiktok', true], ['posthog', 'posthog', true], ['crm', 'webhook', true], ['big-orders', 'webhook', true], ['audit', 'log', false]])
  const tag = (name: string): CompiledTag | undefined => c.tags.find(x => x.name === name)
  t.same([tag('ga4')?.settings.apiSecret, tag('meta')?.settings.accessToken, tag('tiktok')?.settings.accessToken, tag('posthog')?.settings.apiKey], [env.GA4_API_SECRET, env.META_ACCESS_TOKEN, env.TIKTOK_ACCESS_TOKEN, env.POSTHOG_API_KEY])
  t.same(tag('meta')?.decide(ev({ event_name: 'page_view' })), { fire: true, trigger: 'fireOn[1]' })
  t.same(tag('ga4')?.decide(ev({ event_name: 'page_view', page_location: 'https://staging.shop.example/' })), { fire: false, reason: 'blocked', trigger: 'staging' })
  t.equal(tag('crm')?.settings.secret, env.WEBHOOK_SECRET)
  t.same(tag('audit')?.decide(ev({ event_name: 'purchase' })), { fire: true, trigger: 'fireOn[0]' })
  t.same(tag('audit')?.decide(ev({ event_name: 'page_view' })), { fire: false, reason: 'not_triggered' })
  t.same(tag('big-orders')?.decide(ev({ event_name: 'purchase', value: 900, consent: { ad_user_data: 'denied' } })), { fire: false, reason: 'blocked', trigger: 'ads_denied' })

  const more = loadConfigFile(file, { ...env, PORT: '9090', REDIS_URL: 'redis://redis:6379', DEBUG_TOKEN: 'dbg_debug_view_0001', AUDIT_LOG: 'true' })
  t.equal(more.server.port, 9090)
  t.same(more.store, { redis: 'redis://redis:6379', prefix: 'tagline:' })
  t.same(more.debug, { token: 'dbg_debug_view_0001', ringSize: 500, onOpsPort: false })
  t.equal(more.tags.find(x => x.name === 'audit')?.enabled, true)

  const r = validateConfigText({ text: readFileSync(file, 'utf8'), file }, {})
  t.match(r, { ok: false, problems: ['BACKEND_API_KEY', 'GA4_API_SECRET', 'META_ACCESS_TOKEN', 'TIKTOK_ACCESS_TOKEN', 'POSTHOG_API_KEY', 'WEBHOOK_SECRET'].map(v => ({ message: `environment variable ${v} is not set` })) })
})
