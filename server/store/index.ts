import type { Store } from './types.js'
import { MemoryStore } from './memory.js'
import { RedisStore } from './redis.js'

export type { Store }
export { MemoryStore, RedisStore }

/** The store the config asks for: Redis when `store.redis` is a URL, else the embedded one. */
export async function createStore (cfg: { redis?: string, prefix?: string }): Promise<Store> {
  if (cfg.redis === undefined || cfg.redis === '') return new MemoryStore()
  const store = new RedisStore({ url: cfg.redis, prefix: cfg.prefix })
  await store.connect()
  return store
}
