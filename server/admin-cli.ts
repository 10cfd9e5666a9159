// `tagline queues`, `tagline replay` and `tagline forget`: the operator's view of delivery and of
// what the gateway keeps, from the config file the gateway runs. Redis mode (store.redis set): the
// queues, dead letters and stitching contexts are in Redis, read and changed there directly, with
// every gateway up or down. Embedded mode: they live in the running gateway's memory, so the
// command asks it (GET /admin/queues, POST /admin/replay, POST /admin/forget) with the first of
// auth.apiKeys; `forget --offline` erases a stopped gateway's files instead. Both modes share
// server/delivery/admin.ts and server/forget.ts.
import { parseArgs } from 'node:util'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { Agent, request } from 'undici'
import { ConfigError } from '../config/load.js'
import { readConfigFile } from './config-reload.js'
import type { CompiledConfig } from '../config/types.js'
import { parseDuration } from '../config/duration.js'
import { MemoryStore, RedisStore, type Store } from './store/index.js'
import { redisQueues, type QueueFactory } from './delivery/factory.js'
import { FileDeadLetters } from './delivery/file-dead-letters.js'
import { forget, type ForgetReport, type Person } from './forget.js'
import { personMatch } from './person.js'
import type { TagQueue } from './delivery/queue.js'
import { queueStats, replay, type ReplayResult, type TagStats } from './delivery/admin.js'
import { newBatchId } from './delivery/batch-id.js'
import { readRedisRisks } from './store/redis-risks.js'
import { localUrl, type CliIo } from './cli-io.js'

/** A failure with its exit code: 1 (config, Redis or the gateway), 2 (the arguments). */
class CliFailure extends Error {
  /** usage: print the usage text after it; bare: print it as is (the config's problems). */
  constructor (readonly exitCode: 1 | 2, message: string, readonly how: { usage?: boolean, bare?: boolean } = {}) { super(message) }
}

const usageError = (message: string, usage = false): CliFailure => new CliFailure(2, message, { usage })

// ---------------------------------------------------------------- commands

export async function queuesCommand (argv: string[], io: CliIo): Promise<number> {
  return await run('queues', io, async () => {
    let values: { config?: string, json?: boolean, url?: string }
    try {
      values = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, url: { type: 'string' } } }).values
    } catch (e) { throw usageError((e as Error).message, true) }
    checkUrl(values.url)
    const { config, file } = readConfig(values.config ?? io.defaultConfig)
    let queues: TagStats[]
    // Redis mode: the settings that can lose what the queues hold, said where an operator looks
    // (on stderr, so the table stays what a script reads).
    let risks: Awaited<ReturnType<typeof readRedisRisks>> | undefined
    if (config.store.redis !== undefined) {
      queues = await onRedis(config, async (queueOf, factory, store) => {
        const client = store.redis?.client
        if (client !== undefined) risks = await readRedisRisks(client)
        return await queueStats(enabledTags(config), queueOf, factory.deadLetters, Date.now())
      })
    } else {
      queues = (await askGateway(config, file, values.url, 'GET', '/admin/queues') as { queues: TagStats[] }).queues
    }
    const found = Array.isArray(risks) ? risks.map(({ risk, level, message }) => ({ risk, level, message })) : undefined
    io.out(values.json === true
      // risks: [] when checked and nothing found; risksChecked: false when Redis would not say.
      ? JSON.stringify({ queues, ...(risks === undefined ? {} : found !== undefined ? { risks: found } : { risksChecked: false }) }, null, 2)
      : formatQueues(queues))
    if (values.json !== true) {
      for (const f of found ?? []) io.err(`${f.level === 'error' ? 'error' : 'warning'}: ${f.message}`)
      if (risks === 'refused') io.err('note: Redis\'s eviction and persistence settings were not checked (INFO is not allowed for this user)')
    }
  })
}

export async function replayCommand (argv: string[], io: CliIo): Promise<number> {
  return await run('replay', io, async () => {
    let values: { config?: string, json?: boolean, url?: string, tag?: string, since?: string, limit?: string, 'dry-run'?: boolean }
    try {
      values = parseArgs({
        args: argv,
        options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, url: { type: 'string' }, tag: { type: 'string', short: 't' }, since: { type: 'string' }, limit: { type: 'string' }, 'dry-run': { type: 'boolean' } }
      }).values
    } catch (e) { throw usageError((e as Error).message, true) }
    if (values.tag === undefined || values.tag === '') throw usageError('give the tag whose dead letters to replay: --tag NAME.', true)
    checkUrl(values.url)
    let withinMs: number | undefined
    if (values.since !== undefined) {
      try { withinMs = parseDuration(values.since) } catch { throw usageError(`--since takes a duration like 30m, 2h or 2d, not "${values.since}".`) }
    }
    const limit = values.limit === undefined ? undefined : /^\d{1,9}$/.test(values.limit) ? Number(values.limit) : Number.NaN
    if (limit !== undefined && !(limit >= 1)) throw usageError(`--limit takes a whole number, 1 or more, not "${values.limit}".`)
    const dryRun = values['dry-run'] === true
    const { config, file } = readConfig(values.config ?? io.defaultConfig)
    const tag = values.tag
    const tags = enabledTags(config)
    if (!tags.includes(tag)) {
      throw usageError(`no tag "${tag}" delivers in ${file}${config.tags.some(t => t.name === tag) ? ' (it is disabled)' : ''}; its tags: ${tags.join(', ') || 'none'}.`)
    }
    let result: ReplayResult
    if (config.store.redis !== undefined) {
      const idPrefix = newBatchId(Date.now())
      let seq = 0
      result = await onRedis(config, async (queueOf, factory) => {
        const now = Date.now()
        return await replay({
          tag,
          queue: queueOf(tag),
          deadLetters: factory.deadLetters,
          sinceMs: withinMs === undefined ? undefined : now - withinMs,
          limit,
          dryRun,
          now,
          newId: () => `${idPrefix}-${(seq++).toString(36)}`
        })
      })
    } else {
      result = await askGateway(config, file, values.url, 'POST', '/admin/replay', { tag, since: withinMs, limit, dryRun }) as ReplayResult
    }
    io.out(values.json === true ? JSON.stringify({ ...result, dryRun }, null, 2) : formatReplay(result, dryRun))
  })
}

export async function forgetCommand (argv: string[], io: CliIo): Promise<number> {
  return await run('forget', io, async () => {
    let values: { config?: string, json?: boolean, url?: string, 'user-id'?: string, 'client-id'?: string, email?: string, offline?: boolean }
    try {
      values = parseArgs({
        args: argv,
        options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, url: { type: 'string' }, 'user-id': { type: 'string' }, 'client-id': { type: 'string' }, email: { type: 'string' }, offline: { type: 'boolean' } }
      }).values
    } catch (e) { throw usageError((e as Error).message, true) }
    const person: Person = {}
    if (values['user-id'] !== undefined) person.userId = values['user-id'].trim()
    if (values['client-id'] !== undefined) person.clientId = values['client-id'].trim()
    if (values.email !== undefined) person.email = values.email.trim()
    if (Object.values(person).every(v => v === '')) throw usageError('name the person: --user-id ID, --client-id ID or --email ADDRESS.', true)
    for (const [flag, v] of [['--user-id', person.userId], ['--client-id', person.clientId], ['--email', person.email]] as const) {
      if (v === '') throw usageError(`${flag} takes a value.`)
    }
    if (personMatch(person) === undefined) throw usageError(`--email takes an e-mail address, not "${person.email ?? ''}".`)
    checkUrl(values.url)
    const { config, file } = readConfig(values.config ?? io.defaultConfig)
    const spoolFile = resolve(config.server.spoolFile)
    let report: ForgetReport
    if (config.store.redis !== undefined) {
      if (values.offline === true) throw usageError(`--offline is for embedded mode; ${file} sets store.redis, where the command works on Redis directly.`)
      report = await onRedis(config, async (_queueOf, factory, store) => await forget(person, { store, queues: factory.eraser, deadLetters: factory.deadLetters, spoolFile }))
    } else if (values.offline === true) {
      report = await forgetOffline(config, file, values.url, person, spoolFile)
    } else {
      const body = { userId: person.userId, clientId: person.clientId, email: person.email }
      report = await askGateway(config, file, values.url, 'POST', '/admin/forget', body, 'If it is stopped, `tagline forget --offline` erases its dead-letter file and spool (its queues and stitching contexts were in its memory and went with it).') as ForgetReport
    }
    io.out(values.json === true ? JSON.stringify(report, null, 2) : formatForget(report, person, config.store.redis !== undefined ? 'redis' : values.offline === true ? 'offline' : 'embedded'))
  })
}

/**
 * Embedded mode, the gateway stopped: what outlives it is the dead-letter journal and the spool.
 * Refused while a gateway answers at its address, which would rewrite the journal from its memory.
 */
async function forgetOffline (config: CompiledConfig, file: string, url: string | undefined, person: Person, spoolFile: string): Promise<ForgetReport> {
  const base = (url ?? localUrl(config.server.host, config.server.port)).replace(/\/+$/, '')
  if (await answers(base + '/healthz')) {
    throw new CliFailure(1, `a gateway answers at ${base}: --offline is for a stopped gateway (a running one keeps its dead letters in memory and would write them back). Run without --offline to ask it.`)
  }
  const deadLetters = await FileDeadLetters.open({ file: resolve(config.server.deadLetterFile), max: config.delivery.deadLetterMax })
  try {
    return await forget(person, { store: new MemoryStore(), queues: { erase: async () => [] }, deadLetters, spoolFile })
  } finally {
    await deadLetters.close()
  }
}

async function answers (url: string): Promise<boolean> {
  const agent = new Agent({ connect: { timeout: 2000 } })
  try {
    await request(url, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 }).then(async r => await r.body.dump())
    return true
  } catch {
    return false
  } finally {
    await agent.close()
  }
}

/** Runs a command body: a CliFailure is printed and becomes its exit code. */
async function run (name: string, io: CliIo, body: () => Promise<void>): Promise<number> {
  try {
    await body()
    return 0
  } catch (e) {
    if (!(e instanceof CliFailure)) throw e
    io.err(e.how.bare === true ? e.message : `tagline ${name}: ${e.message}${e.how.usage === true ? `\n\n${io.usage}` : ''}`)
    return e.exitCode
  }
}

// ---------------------------------------------------------------- the config

function readConfig (file: string): { config: CompiledConfig, file: string } {
  try {
    return { config: readConfigFile(file, process.env).config, file }
  } catch (e) {
    // Its message lists the problems as `tagline validate` does (an unreadable file is one).
    if (e instanceof ConfigError) throw new CliFailure(1, e.message, { bare: true })
    throw e
  }
}

/** The tags that have a queue: what a gateway on this config delivers to, by name. */
function enabledTags (config: CompiledConfig): string[] {
  return config.tags.filter(t => t.enabled).map(t => t.name).sort()
}

// ---------------------------------------------------------------- Redis mode

/**
 * Talks to the shared queues as one more consumer (named cli:<host>:<pid>, which never takes an
 * event), then lets go of everything it opened.
 */
async function onRedis<T> (config: CompiledConfig, fn: (queueOf: (tag: string) => TagQueue, factory: QueueFactory, store: Store) => Promise<T>): Promise<T> {
  const store = new RedisStore({ url: config.store.redis as string, prefix: config.store.prefix })
  const made = new Map<string, TagQueue>()
  // The store's client swallows its error events (they surface through commands); the first says why a connect failed.
  let why: Error | undefined
  store.client.once('error', (e: Error) => { why = e })
  try {
    try {
      await store.connect()
    } catch (e) {
      throw new CliFailure(1, `cannot reach Redis at ${redisHost(config.store.redis as string)} (store.redis): ${(why ?? e as Error).message}`)
    }
    const factory = redisQueues({
      ...store.redis,
      consumer: `cli:${hostname()}:${process.pid}`,
      claimIdleMs: config.delivery.claimIdleMs,
      deadLetterMax: config.delivery.deadLetterMax
    })
    const queueOf = (tag: string): TagQueue => {
      let q = made.get(tag)
      if (q === undefined) made.set(tag, q = factory.queue(tag))
      return q
    }
    try {
      return await fn(queueOf, factory, store)
    } catch (e) {
      if (e instanceof CliFailure) throw e
      throw new CliFailure(1, `Redis (store.redis): ${(e as Error).message}`)
    }
  } finally {
    await Promise.all([...made.values()].map(async q => await q.shared?.close().catch(() => {})))
    await store.close()
  }
}

/** host:port of a Redis URL, never its password. */
function redisHost (url: string): string {
  try { return new URL(url).host } catch { return 'store.redis' }
}

// ---------------------------------------------------------------- embedded mode

/** --url: the gateway's address (embedded mode; Redis mode needs none). */
function checkUrl (url: string | undefined): void {
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) throw usageError(`--url takes the gateway's address, like http://127.0.0.1:8080, not "${url}".`)
}

async function askGateway (config: CompiledConfig, file: string, url: string | undefined, method: 'GET' | 'POST', path: string, body?: object, stopped = ''): Promise<unknown> {
  const key = config.apiKeys[0]
  if (key === undefined) {
    throw new CliFailure(1, `embedded mode (no store.redis in ${file}): the queues live in the running gateway, whose /admin routes need an API key, and auth.apiKeys is empty. Add a key to the config (and reload the gateway), or set store.redis.`)
  }
  const base = (url ?? localUrl(config.server.host, config.server.port)).replace(/\/+$/, '')
  const agent = new Agent({ connect: { timeout: 5000 } })
  try {
    let res
    try {
      res = await request(base + path, {
        method,
        dispatcher: agent,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: 30_000,
        bodyTimeout: 30_000
      })
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message
      throw new CliFailure(1, `cannot reach the gateway at ${base} (${why}). Without store.redis (embedded mode) the queues and dead letters live in the gateway's memory, so it must be running: start it (tagline start --config ${file}), or give its address with --url.${stopped === '' ? '' : ' ' + stopped}`)
    }
    const text = await res.body.text()
    let doc: any
    try { doc = JSON.parse(text) } catch { doc = undefined }
    if (res.statusCode >= 200 && res.statusCode < 300 && doc !== null && typeof doc === 'object') return doc
    const what = typeof doc?.error === 'string' ? ` ${String(doc.error)}` : ''
    const message = typeof doc?.message === 'string' ? String(doc.message) : text.slice(0, 300)
    throw new CliFailure(1, `the gateway at ${base} answered ${res.statusCode}${what}: ${message}`)
  } finally {
    await agent.close()
  }
}

// ---------------------------------------------------------------- output

/** 850ms, 42s, 4m 12s, 2h 5m, 3d 4h. */
function formatAge (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]]
  const i = units.findIndex(([, n]) => s >= n)
  const [big, bn] = units[i]
  const [small, sn] = units[i + 1]
  const rest = Math.floor((s % bn) / sn)
  return rest > 0 ? `${Math.floor(s / bn)}${big} ${rest}${small}` : `${Math.floor(s / bn)}${big}`
}

function formatQueues (queues: TagStats[]): string {
  if (queues.length === 0) return 'No tag delivers in this config.'
  const head = ['tag', 'waiting', 'in flight', 'scheduled', 'dead', 'oldest waiting']
  const rows = queues.map(q => [q.tag, String(q.waiting), String(q.inFlight), String(q.scheduled), String(q.dead), q.oldestWaitingAgeMs === undefined ? '-' : formatAge(q.oldestWaitingAgeMs)])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  // The tag left-aligned, the numbers right-aligned, the age left-aligned.
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}

function formatReplay (r: ReplayResult, dryRun: boolean): string {
  const letters = (n: number): string => `${n} dead letter${n === 1 ? '' : 's'}`
  const head = r.matched === 0
    ? `${r.tag}: no dead letters match; nothing to replay.`
    : dryRun
      ? `${r.tag}: dry run: ${letters(r.matched)} would be replayed; nothing was changed.`
      : `${r.tag}: replayed ${letters(r.replayed)} into its queue; the tag delivers them again now.`
  const reasons = Object.entries(r.byReason).sort((a, b) => b[1] - a[1])
  const width = Math.max(0, ...reasons.map(([, n]) => String(n).length))
  const oneLine = (s: string): string => { const t = s.replace(/\s+/g, ' ').trim(); return t.length > 160 ? t.slice(0, 159) + '…' : t }
  return [head, ...reasons.map(([reason, n]) => `  ${String(n).padStart(width)}  ${oneLine(reason)}`)].join('\n')
}

function plural (n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`
}

function formatForget (r: ForgetReport, person: Person, mode: 'redis' | 'embedded' | 'offline'): string {
  const who = [
    person.userId !== undefined ? `user id "${person.userId}"` : '',
    person.clientId !== undefined ? `client id "${person.clientId}"` : '',
    person.email !== undefined ? `e-mail address "${person.email}"` : ''
  ].filter(w => w !== '').join(', ')
  const c = r.contexts
  const contexts = c.userId + c.clientId + c.orderId
  const lines = [`Forgot ${who}:`]
  if (mode === 'offline') {
    lines.push('  stitching contexts, queues: none here (the gateway is stopped: they were in its memory and went with it)')
  } else {
    const kinds = [[c.userId, 'user id'], [c.clientId, 'client id'], [c.orderId, 'order id']].filter(([n]) => n as number > 0).map(([n, k]) => `${String(n)} by ${String(k)}`)
    lines.push(`  stitching contexts: ${contexts === 0 ? 'none found' : `${contexts} removed (${kinds.join(', ')})`}`)
    if (r.clientIds.length > 0) lines.push(`  the user's browsers (client ids), erased with them: ${r.clientIds.join(', ')}`)
  }
  if (r.tags.length === 0) {
    lines.push(`  ${mode === 'offline' ? 'dead letters' : 'queued events and dead letters'}: none found`)
  } else {
    const head = ['tag', 'queued removed', 'dead letters removed', 'in flight, left']
    const rows = r.tags.map(t => [t.tag, String(t.queued), String(t.deadLetters), String(t.inFlight)])
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map(row => row[i].length)))
    const line = (cells: string[]): string => '  ' + cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ')
    lines.push(line(head), ...rows.map(line))
  }
  if (r.spool !== undefined) {
    lines.push(`  spool ${r.spool.file}: ${r.spool.missing === true ? 'none on this host' : r.spool.removed === 0 ? 'nothing of theirs' : `${plural(r.spool.removed, 'event')} removed`}`)
  }
  const flying = r.tags.filter(t => t.inFlight > 0)
  if (flying.length > 0) {
    lines.push('', `In flight: ${flying.map(t => `${plural(t.inFlight, 'event')} at ${t.tag}`).join(', ')} being sent now, left as they are. A send that fails puts its events back in the queue or the dead letters: run this again in a few minutes.`)
  }
  const { userIds, clientIds } = r.alsoSeen
  if (userIds.length + clientIds.length > 0) {
    const ids = [userIds.length > 0 ? `user ids ${userIds.join(', ')}` : '', clientIds.length > 0 ? `client ids ${clientIds.join(', ')}` : ''].filter(s => s !== '').join('; ')
    lines.push('', `The removed records also named ${ids}. Not erased: if they are this person's too, run tagline forget for them.`)
  }
  if (mode === 'redis') lines.push('', 'Events a replica accepted while Redis was unreachable (its local buffer) are in that replica\'s memory and were not looked at.')
  return lines.join('\n')
}
