// The embedded queue, erasable (erase.ts). MemoryQueue keeps its events private, so an erasure
// drains it and puts back what stays: the waiting events in their order, each scheduled batch at
// the due time it was scheduled for (remembered here: drain() does not return it). The drain
// resolves a moment before the events are back; meanwhile the queue answers counts() as it was
// before and holds takes until they are back, so a worker that looks in that moment neither finds
// it empty (and stops its timers) nor takes half of it.
import { MemoryQueue } from './memory-queue.js'
import type { QueueCounts } from './queue.js'
import type { EventMatch, QueueErasure, QueueEraser } from './erase.js'
import type { Batch, QueuedEvent } from './types.js'

export class ErasableMemoryQueue extends MemoryQueue {
  /** Due time of each scheduled batch, by batch id. */
  private readonly dues = new Map<string, number>()
  private erasing?: { counts: QueueCounts, done: Promise<void> }

  override counts (): QueueCounts {
    return this.erasing?.counts ?? super.counts()
  }

  override async take (max: number): Promise<QueuedEvent[]> {
    if (this.erasing !== undefined) await this.erasing.done
    return await super.take(max)
  }

  override async takeDue (now: number): Promise<Batch | undefined> {
    if (this.erasing !== undefined) await this.erasing.done
    const batch = await super.takeDue(now)
    if (batch !== undefined) this.dues.delete(batch.id)
    return batch
  }

  override async schedule (batch: Batch, dueMs: number): Promise<void> {
    this.dues.set(batch.id, dueMs)
    await super.schedule(batch, dueMs)
  }

  override async drain (): Promise<Array<QueuedEvent & { batchId?: string }>> {
    if (this.erasing !== undefined) await this.erasing.done
    this.dues.clear()
    return await super.drain()
  }

  /** The matching events removed, waiting or scheduled; those in flight are only counted. */
  async erase (match: EventMatch): Promise<{ removed: number, unchecked: number }> {
    while (this.erasing !== undefined) await this.erasing.done
    let release = (): void => {}
    this.erasing = { counts: super.counts(), done: new Promise<void>(resolve => { release = resolve }) }
    try {
      const dues = new Map(this.dues)
      const all = await super.drain()
      this.dues.clear()
      const waiting: QueuedEvent[] = []
      const batches = new Map<string, QueuedEvent[]>()
      let removed = 0
      for (const { batchId, ...item } of all) {
        if (match(item.event)) removed++
        else if (batchId === undefined) waiting.push(item)
        else if (batches.has(batchId)) batches.get(batchId)?.push(item)
        else batches.set(batchId, [item])
      }
      for (const [id, items] of batches) await this.schedule({ id, items }, dues.get(id) ?? 0)
      await super.push(waiting)
      return { removed, unchecked: super.counts().inFlight }
    } finally {
      this.erasing = undefined
      release()
    }
  }
}

/** The eraser of the embedded queues a factory made, by tag. */
export function memoryEraser (queues: ReadonlyMap<string, ErasableMemoryQueue>): QueueEraser {
  return {
    erase: async (match: EventMatch): Promise<QueueErasure[]> => {
      const out: QueueErasure[] = []
      for (const [tag, queue] of queues) {
        const { removed, unchecked } = await queue.erase(match)
        if (removed > 0 || unchecked > 0) out.push({ tag, removed, inFlight: 0, unchecked })
      }
      return out
    }
  }
}
