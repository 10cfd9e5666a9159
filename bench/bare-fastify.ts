// The baseline: what a user would write in five minutes. Fastify 5 with its defaults (so its own
// query-string parsing and JSON body parsing stay on) and the logger off, one route per endpoint
// the gateway is measured on, answering 204. Forked by run.ts; reports its port over IPC.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/g/collect', (req, reply) => { reply.code(204).send() })
app.post('/collect', (req, reply) => { reply.code(204).send() })

process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })

const address = await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ type: 'listening', port: Number(new URL(address).port) })
