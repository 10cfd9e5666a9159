// Watches the config file's folder, not the file: a Kubernetes ConfigMap update swaps the `..data`
// symlink, so the file's path resolves to a new inode and a watch on the old one never fires
// again. Editors and the kubelet write several entries per save, so events are gathered until the
// folder has been quiet for `debounceMs` and reported once.
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type { Logger } from 'pino'

/** Quiet time after the last event in the folder before the change is reported. */
export const WATCH_DEBOUNCE_MS = 200

export interface ConfigWatch {
  close: () => void
}

/** Call `onChange` once per burst of changes to `file` (or to the `..` entries of a ConfigMap). */
export function watchConfigFile (file: string, onChange: () => void, logger: Logger, debounceMs = WATCH_DEBOUNCE_MS): ConfigWatch {
  const name = basename(file)
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher
  // Other files may share the folder (a spool, editor swap files): only the config file's own name
  // and the ConfigMap's `..data` / `..<timestamp>` entries count. No name given: take it as ours.
  const ours = (entry: string | null): boolean => entry === null || entry === name || entry.startsWith('..')
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, entry) => {
      if (!ours(entry)) return
      clearTimeout(timer)
      timer = setTimeout(onChange, debounceMs)
    })
  } catch (err) {
    logger.warn({ config: file, err }, 'cannot watch the config folder: only SIGHUP reloads')
    return { close: () => {} }
  }
  watcher.on('error', err => { logger.warn({ config: file, err }, 'config folder watch failed: only SIGHUP reloads') })
  return {
    close () {
      clearTimeout(timer)
      watcher.close()
    }
  }
}
