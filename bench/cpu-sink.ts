// The sink of bench/cpu-per-hit.ts: answers every request with a body each platform reads as success.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"events_received":1,"code":0,"message":"OK","status":1}')
  })
})
server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port))
