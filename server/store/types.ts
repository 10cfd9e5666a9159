// One store interface, two implementations (memory, Redis), one shared contract test.
export interface Store {
  readonly kind: 'memory' | 'redis'
  /**
   * Remember `key` for `ttlMs`. Resolves true when the key was already there (a repeat),
   * false when this call is the first to see it. Atomic across replicas for Redis.
   */
  seen (key: string, ttlMs: number): Promise<boolean>
  /** Resolves true when the store can take writes. */
  ping (): Promise<boolean>
  close (): Promise<void>
}
