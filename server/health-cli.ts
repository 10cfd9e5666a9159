// `tagline health`: the container's HEALTHCHECK. It asks the gateway its config describes for
// /healthz (on the ops port when server.opsPort is set) and exits 0 only on a 200, so Docker (or
// any supervisor) sees a gateway that stopped answering, not only one whose process died.
import { parseArgs } from 'node:util'
import { readListenAddresses } from '../config/address.js'
import { readConfigText } from '../config/source.js'
import { localUrl, type CliIo } from './cli-io.js'

const TIMEOUT_MS = 3000

export async function healthCommand (args: string[], io: CliIo): Promise<number> {
  let values: { config?: string, url?: string }
  try {
    values = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, url: { type: 'string' } } }).values
  } catch (e) { io.err(`tagline health: ${(e as Error).message}\n\n${io.usage}`); return 2 }
  let base = values.url
  if (base === undefined) {
    const file = values.config ?? io.defaultConfig
    try {
      // The server section alone (config/address.ts says why).
      const server = readListenAddresses(readConfigText(file), file, process.env)
      const { host, port } = server.ops ?? server
      base = localUrl(host, port)
    } catch (e) { io.err((e as Error).message); return 1 }
  }
  const url = `${base.replace(/\/+$/, '')}/healthz`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    await res.body?.cancel()
    if (res.status === 200) { io.out(`${url}: 200`); return 0 }
    io.err(`${url}: ${res.status}`)
    return 1
  } catch (e) {
    io.err(`${url}: no answer (${(e as Error).message})`)
    return 1
  }
}
