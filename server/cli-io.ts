// What the `tagline` commands (server/*-cli.ts) share. main.ts loads a command's module only when
// that command runs: `tagline health`, the image's HEALTHCHECK every 15 s, must not load the
// gateway, Redis and HTTP client modules the other commands need.
export interface CliIo {
  out: (s: string) => void
  err: (s: string) => void
  /** The command's usage text, printed after a usage error. */
  usage: string
  /** The config used without --config. */
  defaultConfig: string
}

/** The address a command on the same host reaches the gateway at (a wildcard bind is loopback). */
export function localUrl (h: string, port: number): string {
  const host = h === '' || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h
  return `http://${host}:${port}`
}
