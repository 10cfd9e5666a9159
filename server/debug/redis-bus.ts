// Every replica's traces to a view open on any of them: Redis pub/sub on one channel. A replica
// publishes only while some view listens (PUBSUB NUMSUB, asked every couple of seconds), so a
// fleet nobody watches sends nothing; a view's replica subscribes on its own connection.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { TraceBus } from './hub.js'
import type { TraceEntry } from './trace.js'

export interface RedisTraceBusOptions {
  client: Redis
  prefix: string
  /** Whether the view is on at all (debug.token set): off, the bus asks Redis nothing. */
  enabled: () => boolean
  /** How often to ask whether a view listens anywhere (ms). */
  pollMs?: number
  logger?: Logger
}

export class RedisTraceBus implements TraceBus {
  readonly channel: string
  #listeners = 0
  #sub: Redis | undefined
  readonly #timer: NodeJS.Timeout

  constructor (private readonly opts: RedisTraceBusOptions) {
    this.channel = `${opts.prefix}debug:traces`
    this.#timer = setInterval(() => { void this.#poll() }, opts.pollMs ?? 2000).unref()
  }

  get fleetWatching (): boolean {
    return this.#sub !== undefined || this.#listeners > 0
  }

  async #poll (): Promise<void> {
    if (!this.opts.enabled()) { this.#listeners = 0; return }
    try {
      const answer = await this.opts.client.call('PUBSUB', 'NUMSUB', this.channel) as [string, number | string]
      this.#listeners = Number(answer[1])
    } catch {
      // Redis unreachable: keep the last answer; publishing fails quietly meanwhile.
    }
  }

  publish (entry: TraceEntry): void {
    this.opts.client.publish(this.channel, JSON.stringify(entry)).catch(() => {})
  }

  async listen (onEntry: (entry: TraceEntry) => void): Promise<void> {
    if (this.#sub !== undefined) return
    // A subscribed connection can do nothing else: one of its own, opened only while a view is open.
    // The shared client refuses commands while disconnected (no offline queue); this one may wait.
    const sub = this.opts.client.duplicate({ enableOfflineQueue: true })
    this.#sub = sub
    sub.on('error', err => { this.opts.logger?.debug({ err: err.message }, 'debug view: trace subscription') })
    sub.on('message', (_channel: string, text: string) => {
      let entry: TraceEntry
      try { entry = JSON.parse(text) } catch { return }
      onEntry(entry)
    })
    try {
      await sub.subscribe(this.channel)
    } catch (err) {
      this.#sub = undefined
      sub.disconnect()
      throw err
    }
  }

  async unlisten (): Promise<void> {
    const sub = this.#sub
    this.#sub = undefined
    if (sub !== undefined) await sub.quit().catch(() => { sub.disconnect() })
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.unlisten()
  }
}
