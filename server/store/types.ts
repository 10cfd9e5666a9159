// One store interface, two implementations (memory, Redis), one shared contract test.
export interface Store {
  readonly kind: 'memory' | 'redis'
  /**
   * Remember `key` for `ttlMs`. Resolves true when the key was already there (a repeat),
   * false when this call is the first to see it. Atomic across replicas for Redis.
   */
  seen (key: string, ttlMs: number): Promise<boolean>
  /** Forget keys marked by `seen`: used when the events they guard could not be queued. */
  forget (keys: string[]): Promise<void>
  /** Resolves true when the store can take writes. */
  ping (): Promise<boolean>
  close (): Promise<void>
}
