// Settings of the shared Redis that break what a 202 promises without any command failing: an
// eviction policy that may delete queued events or dedup marks under memory pressure, and no
// append-only file, so a restart of Redis loses what it had acknowledged. tagline cannot change
// them (a managed Redis often forbids CONFIG), so it reads them at start and every few minutes,
// says so in the log and sets `tagline_store_risk{risk}` to 1, for an alert.
import { ReplyError, type Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Gauge } from 'prom-client'

type RedisRisk = 'eviction' | 'no_aof'

export interface RedisRiskFinding {
  risk: RedisRisk
  /** error: acknowledged events can be lost as things stand; warn: repeats or a crash can cost. */
  level: 'error' | 'warn'
  message: string
  /** The settings read, for the log line. */
  detail: Record<string, string | number>
}

const RISKS: readonly RedisRisk[] = ['eviction', 'no_aof']

/** `field:value` lines of an INFO section. */
function infoFields (text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return out
}

/** The snapshot schedule, or undefined when CONFIG is not allowed (a managed Redis). */
async function saveSetting (client: Redis): Promise<string | undefined> {
  try {
    const reply = await client.config('GET', 'save') as string[]
    return reply[1] ?? ''
  } catch {
    return undefined
  }
}

/**
 * What is unsafe about this Redis for queued events, read with INFO (which managed services
 * allow): 'refused' when even INFO is not allowed, 'unreachable' when Redis does not answer.
 */
export async function readRedisRisks (client: Redis): Promise<RedisRiskFinding[] | 'refused' | 'unreachable'> {
  let memory: Map<string, string>
  let persistence: Map<string, string>
  try {
    memory = infoFields(await client.info('memory'))
    persistence = infoFields(await client.info('persistence'))
  } catch (err) {
    return err instanceof ReplyError ? 'refused' : 'unreachable'
  }
  const found: RedisRiskFinding[] = []
  const maxmemory = Number(memory.get('maxmemory') ?? '0')
  const policy = memory.get('maxmemory_policy') ?? 'noeviction'
  // Without maxmemory Redis never evicts, whatever the policy says.
  if (maxmemory > 0 && policy !== 'noeviction') {
    const all = policy.startsWith('allkeys')
    found.push({
      risk: 'eviction',
      level: all ? 'error' : 'warn',
      message: all
        ? `Redis evicts any key when it reaches maxmemory (maxmemory-policy ${policy}): queued events and dead letters can vanish. Set maxmemory-policy noeviction.`
        : `Redis evicts keys with a time to live when it reaches maxmemory (maxmemory-policy ${policy}): dedup marks and stitching contexts can vanish, so repeats may be delivered twice. Set maxmemory-policy noeviction.`,
      detail: { maxmemory, maxmemoryPolicy: policy }
    })
  }
  if (persistence.get('aof_enabled') === '0') {
    const save = await saveSetting(client)
    found.push({
      risk: 'no_aof',
      level: 'warn',
      message: save === ''
        ? 'Redis keeps nothing on disk (no append-only file, no snapshots): if Redis restarts, every queued event and dead letter is lost. Set appendonly yes.'
        : 'Redis keeps no append-only file: if Redis restarts, the events acknowledged since its last snapshot are lost. Set appendonly yes.',
      detail: { appendonly: 'no', save: save ?? 'unknown' }
    })
  }
  return found
}

export interface RiskWatchOptions {
  client: Redis
  gauge: Gauge<'risk'>
  logger: Logger
  /** How often the settings are read again (an operator may fix them, or break them, live). */
  everyMs: number
}

/**
 * Reads the risks now (resolving once the first reading is logged) and again every `everyMs`;
 * a finding is logged when it appears or changes, and its end is logged too.
 */
export async function watchRedisRisks (opts: RiskWatchOptions): Promise<{ stop: () => void }> {
  let last = new Map<RedisRisk, string>()
  let unreadable = false
  const look = async (): Promise<void> => {
    const found = await readRedisRisks(opts.client)
    // An outage has its own logs and 503s; the settings are read again at the next look.
    if (found === 'unreachable') return
    if (found === 'refused') {
      if (!unreadable) opts.logger.info('Redis settings could not be read (INFO is not allowed): eviction and persistence are not checked')
      unreadable = true
      return
    }
    unreadable = false
    const now = new Map<RedisRisk, string>()
    for (const f of found) {
      const said = JSON.stringify(f.detail)
      now.set(f.risk, said)
      if (last.get(f.risk) !== said) opts.logger[f.level]({ risk: f.risk, ...f.detail }, f.message)
    }
    for (const risk of RISKS) {
      opts.gauge.set({ risk }, now.has(risk) ? 1 : 0)
      if (last.has(risk) && !now.has(risk)) opts.logger.info({ risk }, 'Redis setting fixed: no longer a risk to queued events')
    }
    last = now
  }
  await look()
  const timer = setInterval(() => { look().catch(() => {}) }, opts.everyMs)
  timer.unref()
  return { stop: () => { clearInterval(timer) } }
}
