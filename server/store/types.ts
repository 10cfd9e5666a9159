// One store interface, two implementations (memory, Redis), one shared contract test. It holds the
// visitors' browser context for stitching and the rate-limit counters; dedup marks live with the
// queues (server/delivery), in the step that stores an event.
import type { Redis } from 'ioredis'

export interface Store {
  readonly kind: 'memory' | 'redis'
  /** The shared Redis (its client and key prefix), where delivery keeps its queues too. */
  readonly redis?: { client: Redis, prefix: string }
  /**
   * Merge `fields` into the record under `key` (fields not given are kept) and keep it `ttlMs`
   * from now. Field-level, so concurrent writers never lose each other's fields. With `replace`
   * the record becomes `fields` alone: what it held before is gone, in the same step.
   */
  merge (key: string, fields: Record<string, string>, ttlMs: number, opts?: MergeOptions): Promise<void>
  /** The record under `key`, or undefined when there is none or it expired. */
  fields (key: string): Promise<Record<string, string> | undefined>
  /**
   * The live records whose key starts with `prefix`, a page at a time: erasure looks through the
   * stitching contexts for a person's identifiers. A record written during the walk may be missed.
   */
  scan (prefix: string): AsyncIterable<Array<[string, Record<string, string>]>>
  /** Remove the records under these keys; resolves with how many there were. */
  remove (keys: readonly string[]): Promise<number>
  /**
   * Where @fastify/rate-limit keeps its counters: the shared Redis (so replicas limit as one) or,
   * without `redis`, the plugin's own in-process store.
   */
  readonly rateLimit: { redis?: Redis, nameSpace: string }
  /** Resolves true when the store can take writes. */
  ping (): Promise<boolean>
  close (): Promise<void>
}

export interface MergeOptions {
  /** Delete the record first: the fields given are all it holds afterwards. */
  replace?: boolean
  /**
   * A field holding a number that orders writes (a time): a merge (not a replace) whose value of
   * it is below the record's is skipped, since a newer state was written first (by another replica).
   */
  order?: string
}
