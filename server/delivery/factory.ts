// What Delivery keeps its events in: a queue per tag and one dead-letter store, made by a factory
// it receives, so a shared (Redis) implementation can replace the embedded one without touching
// batching and retries.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { DELIVERY_DEFAULTS } from '../../schemas/defaults.js'
import type { DeadLetterStore } from './dead-letters.js'
import { MemoryDeadLetters } from './memory-dead-letters.js'
import { FileDeadLetters } from './file-dead-letters.js'
import { MemoryMarks } from './memory-marks.js'
import { memoryEraser } from './memory-erase.js'
import { MemoryQueue } from './memory-queue.js'
import type { QueueEraser } from './erase.js'
import { redisEraser } from './redis-erase.js'
import type { TagQueue } from './queue.js'
import { RedisDeadLetters } from './redis-dead-letters.js'
import { RedisStreamQueue } from './redis-queue.js'
import { BufferedQueue } from './buffered-queue.js'

export interface QueueFactory {
  /** The queue of one tag; called once per tag name for the life of a Delivery. */
  queue (tag: string): TagQueue
  readonly deadLetters: DeadLetterStore
  /** Removes one person's events from the queues made (`tagline forget`, server/forget.ts). */
  readonly eraser: QueueEraser
  /** Let go of what the factory opened (Delivery calls it last at close). */
  close?: () => Promise<void>
}

export function memoryQueues (opts: { logger: Logger, deadLetterMax?: number }): QueueFactory {
  return {
    ...memoryQueuesByTag(),
    deadLetters: new MemoryDeadLetters(opts.deadLetterMax ?? DELIVERY_DEFAULTS.deadLetterMax, opts.logger)
  }
}

/**
 * The embedded mode of a gateway: queues in memory (the spool carries them across a restart),
 * dead letters in a journal file so they survive one too.
 */
export async function embeddedQueues (opts: { logger: Logger, deadLetterFile: string, deadLetterMax?: number }): Promise<QueueFactory> {
  const deadLetters = await FileDeadLetters.open({ file: opts.deadLetterFile, max: opts.deadLetterMax ?? DELIVERY_DEFAULTS.deadLetterMax, logger: opts.logger })
  return { ...memoryQueuesByTag(), deadLetters, close: async () => await deadLetters.close() }
}

/**
 * Memory queues by tag, with one bound on dedup marks for every tag of the process, and the
 * eraser that reaches them.
 */
function memoryQueuesByTag (): Pick<QueueFactory, 'queue' | 'eraser'> {
  const marks = new MemoryMarks()
  const made = new Map<string, MemoryQueue>()
  return {
    queue: tag => {
      const q = new MemoryQueue(tag, marks)
      made.set(tag, q)
      return q
    },
    eraser: memoryEraser(made)
  }
}

/**
 * Queues and dead letters in Redis, shared by every replica using the same prefix. `consumer`
 * names this process in the consumer groups; `claimIdleMs` is how long another consumer's
 * unacknowledged entries wait before this one takes them over (longer than any attempt).
 */
export function redisQueues (opts: { client: Redis, prefix: string, consumer: string, claimIdleMs: number, deadLetterMax?: number, logger?: Logger, onClaim?: (tag: string, events: number) => void, localBuffer?: number }): QueueFactory {
  const { client, prefix, consumer, claimIdleMs, onClaim } = opts
  const max = opts.localBuffer ?? DELIVERY_DEFAULTS.localBuffer
  return {
    queue: tag => {
      const q = new RedisStreamQueue({ client, prefix, tag, consumer, claimIdleMs, onClaim: onClaim === undefined ? undefined : n => onClaim(tag, n) })
      return max > 0 ? new BufferedQueue(q, { max, logger: opts.logger?.child({ tag }) }) : q
    },
    deadLetters: new RedisDeadLetters({ client, prefix, max: opts.deadLetterMax ?? DELIVERY_DEFAULTS.deadLetterMax, logger: opts.logger }),
    eraser: redisEraser({ client, prefix })
  }
}
