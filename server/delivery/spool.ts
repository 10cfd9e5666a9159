// The embedded-mode shutdown spool: undelivered events as JSONL SpooledEvent lines. Appending with
// fsync never clobbers a spool that was not replayed yet; a torn last line (crash mid-write) is
// skipped on read rather than failing the whole file.
import { open, mkdir, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SpooledEvent } from './types.js'

const WRITE_SLICE = 10_000

export async function appendSpool (file: string, entries: SpooledEvent[]): Promise<void> {
  if (entries.length === 0) return
  await mkdir(dirname(file), { recursive: true })
  await writeLines(file, 'a', entries)
}

async function writeLines (file: string, flags: 'a' | 'w', entries: SpooledEvent[]): Promise<void> {
  const handle = await open(file, flags, 0o600)
  try {
    // In slices: one string of every line passes Node's string limit (~512 MiB) near 1.5 million
    // events, and the whole spool would be lost instead of written.
    for (let i = 0; i < entries.length; i += WRITE_SLICE) {
      await handle.write(entries.slice(i, i + WRITE_SLICE).map(e => JSON.stringify(e) + '\n').join(''), null, 'utf8')
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Keep only the entries `keep` accepts (erasure, the spool's max age): written to a new file,
 * fsynced, renamed over the spool; the file is deleted when nothing is left. Unreadable lines go
 * too (a replay skips them anyway). Undefined when there is no spool.
 */
export async function rewriteSpool (file: string, keep: (entry: SpooledEvent) => boolean): Promise<{ kept: number, removed: number } | undefined> {
  const contents = await readSpool(file)
  if (contents === undefined) return undefined
  const kept = contents.entries.filter(keep)
  const removed = contents.entries.length - kept.length
  if (removed === 0 && contents.bad === 0) return { kept: kept.length, removed }
  if (kept.length === 0) {
    await removeSpool(file)
    return { kept: 0, removed }
  }
  const tmp = `${file}.rewriting`
  await writeLines(tmp, 'w', kept)
  await rename(tmp, file)
  return { kept: kept.length, removed }
}

export interface SpoolContents {
  entries: SpooledEvent[]
  /** Lines that were not a readable SpooledEvent. */
  bad: number
}

export async function readSpool (file: string): Promise<SpoolContents | undefined> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const entries: SpooledEvent[] = []
  let bad = 0
  // Line by line, for the same string limit as appendSpool.
  for await (const line of handle.readLines({ encoding: 'utf8' })) {
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
