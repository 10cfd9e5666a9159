// The embedded-mode shutdown spool: undelivered events as JSONL SpooledEvent lines. Appending with
// fsync never clobbers a spool that was not replayed yet; a torn last line (crash mid-write) is
// skipped on read rather than failing the whole file.
import { open, mkdir, readFile, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SpooledEvent } from './types.js'

export async function appendSpool (file: string, entries: SpooledEvent[]): Promise<void> {
  if (entries.length === 0) return
  await mkdir(dirname(file), { recursive: true })
  const text = entries.map(e => JSON.stringify(e)).join('\n') + '\n'
  const handle = await open(file, 'a', 0o600)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export interface SpoolContents {
  entries: SpooledEvent[]
  /** Lines that were not a readable SpooledEvent. */
  bad: number
}

export async function readSpool (file: string): Promise<SpoolContents | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const entries: SpooledEvent[] = []
  let bad = 0
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      const e = JSON.parse(line) as SpooledEvent
      if (typeof e?.tag === 'string' && typeof e.event?.event_name === 'string' && typeof e.attempts === 'number') {
        entries.push(e)
      } else bad++
    } catch {
      bad++
    }
  }
  return { entries, bad }
}

export async function removeSpool (file: string): Promise<void> {
  await rm(file, { force: true })
}
