// Notices X-Forwarded-For from a peer server.trustProxy does not trust. Behind a load balancer or
// CDN that is not trusted, every visitor has the balancer's address: one rate limit throttles the
// whole shop and every event carries that one IP. Said once in the log and in /readyz, never a
// reason to be unready (a visitor's own proxy sends the header too, with no load balancer at all).
import type { FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { CompiledConfig } from '../config/types.js'

export interface ForwardedForReport {
  untrustedForwardedFor: true
  hint: string
}

const LIST_THEM = 'if tagline is behind a load balancer or CDN, set server.trustProxy to its addresses (CIDRs): until then every visitor has its address, so they share one rate limit and one IP.'

function hintFor (trustProxy: CompiledConfig['server']['trustProxy']): string {
  // Fastify 5 refuses hop counts: it cannot tell a proxy from a visitor who sends the header itself.
  if (typeof trustProxy === 'number') return `Requests carry X-Forwarded-For, and server.trustProxy is a hop count, which trusts no proxy: ${LIST_THEM}`
  return `Requests carry X-Forwarded-For from an address server.trustProxy does not trust: ${LIST_THEM}`
}

export class ForwardedForWatch {
  #report: ForwardedForReport | undefined
  readonly #logger: Logger | undefined

  constructor (logger?: Logger) {
    this.#logger = logger
  }

  /**
   * Look at one request (an onRequest hook; after the first sighting it costs one field read).
   * Without trustProxy Fastify believes no peer; with it, `ips` holds the peer and every address
   * believed after it, so a single entry means the peer was not trusted.
   */
  check (req: FastifyRequest, trustProxy: CompiledConfig['server']['trustProxy']): void {
    if (this.#report !== undefined || req.headers['x-forwarded-for'] === undefined) return
    if (trustProxy !== false && (req.ips?.length ?? 0) > 1) return
    this.#report = { untrustedForwardedFor: true, hint: hintFor(trustProxy) }
    // No address in the line: without a load balancer the peer is a visitor.
    this.#logger?.warn({ trustProxy }, `untrusted X-Forwarded-For: ${this.#report.hint}`)
  }

  /** What /readyz adds once such a request was seen (until a restart: trustProxy is restart-only). */
  report (): ForwardedForReport | undefined {
    return this.#report
  }
}
