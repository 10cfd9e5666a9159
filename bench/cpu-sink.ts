// The fast sink of bench/cpu-per-hit.ts and of the Redis-mode drain runs (bench/redis.ts): answers
// every request with a body each platform reads as success, without reading it. Sends its port
// (a number) to the parent when listening. Over IPC it also counts: { type: 'stats' } → requests
// answered and when the first and last were; { type: 'reset' } zeroes them; { type: 'hold' }
// keeps every new request unanswered until { type: 'release' } (so replicas that start at
// different times all begin sending at the same moment).
import http from 'node:http'
import type { AddressInfo } from 'node:net'

let requests = 0
let firstMs = 0
let lastMs = 0
let holding = false
let held: Array<() => void> = []

function answer (res: http.ServerResponse): void {
  if (res.destroyed) return
  const now = Date.now()
  if (requests++ === 0) firstMs = now
  lastMs = now
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end('{"events_received":1,"code":0,"message":"OK","status":1}')
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume()
  req.on('end', () => {
    if (holding) held.push(() => answer(res))
    else answer(res)
  })
})
server.headersTimeout = 60_000

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'stats') process.send?.({ type: 'stats', requests, firstMs, lastMs, held: held.length, nowMs: Date.now() })
  else if (msg.type === 'reset') {
    requests = 0
    firstMs = 0
    lastMs = 0
    process.send?.({ type: 'reset' })
  } else if (msg.type === 'hold') {
    holding = true
    process.send?.({ type: 'hold' })
  } else if (msg.type === 'release') {
    holding = false
    const waiting = held
    held = []
    for (const go of waiting) go()
    process.send?.({ type: 'release', released: waiting.length })
  }
})
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port))
