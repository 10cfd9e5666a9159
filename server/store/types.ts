// One store interface, two implementations (memory, Redis), one shared contract test.
import type { Redis } from 'ioredis'

export interface Store {
  readonly kind: 'memory' | 'redis'
  /**
   * Remember `key` for `ttlMs`. Resolves true when the key was already there (a repeat),
   * false when this call is the first to see it. Atomic across replicas for Redis.
   */
  seen (key: string, ttlMs: number): Promise<boolean>
  /**
   * Merge `fields` into the record under `key` (fields not given are kept) and keep it `ttlMs`
   * from now. Field-level, so concurrent writers never lose each other's fields.
   */
  merge (key: string, fields: Record<string, string>, ttlMs: number): Promise<void>
  /** The record under `key`, or undefined when there is none or it expired. */
  fields (key: string): Promise<Record<string, string> | undefined>
  /** Forget keys marked by `seen`: used when the events they guard could not be queued. */
  forget (keys: string[]): Promise<void>
  /**
   * Where @fastify/rate-limit keeps its counters: the shared Redis (so replicas limit as one) or,
   * without `redis`, the plugin's own in-process store.
   */
  readonly rateLimit: { redis?: Redis, nameSpace: string }
  /** Resolves true when the store can take writes. */
  ping (): Promise<boolean>
  close (): Promise<void>
}
