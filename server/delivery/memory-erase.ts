// Erasure in the embedded queues: each tag's MemoryQueue removes the person's events in place.
import type { MemoryQueue } from './memory-queue.js'
import type { EventMatch, QueueErasure, QueueEraser } from './erase.js'

/** The eraser of the embedded queues a factory made, by tag. */
export function memoryEraser (queues: ReadonlyMap<string, MemoryQueue>): QueueEraser {
  return {
    erase: async (match: EventMatch): Promise<QueueErasure[]> => {
      const out: QueueErasure[] = []
      for (const [tag, queue] of queues) {
        const { removed, inFlight } = queue.remove(item => match(item.event))
        if (removed > 0 || inFlight > 0) out.push({ tag, removed, inFlight })
      }
      return out
    }
  }
}
