// The part of autocannon 9's programmatic API the benchmark uses (the package ships no types).
declare module 'autocannon' {
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p97_5: number
    p99: number
  }

  export interface Options {
    url: string
    connections?: number
    duration?: number
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    /** Replace `[<id>]` in the URL and body with a fresh id on every request. */
    idReplacement?: boolean
    timeout?: number
    pipelining?: number
    /** Stop after this many requests (duration is then ignored). */
    amount?: number
    /** Requests per second over all connections. */
    overallRate?: number
  }

  export interface Result {
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    resets: number
    mismatches: number
    duration: number
    start: Date
    finish: Date
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
  }

  export interface Instance extends PromiseLike<Result> {
    stop (): void
  }

  function autocannon (opts: Options): Instance
  export default autocannon
}
