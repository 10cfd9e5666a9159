#!/usr/bin/env node
// Runs the compiled build when there is one (npm run build, the Docker image), else the
// TypeScript sources through tsx, so a fresh clone works without a build step.
// TAGLINE_FROM_SOURCE=1 runs the sources even when a build exists, so that a stale dist/ left by an
// earlier `npm run build` is not what runs (test/server/try.test.ts runs this file that way).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const built = join(root, 'dist', 'server', 'main.js')
let entry = built
if (process.env.TAGLINE_FROM_SOURCE === '1' || !existsSync(built)) {
  const { register } = await import('tsx/esm/api')
  register()
  entry = join(root, 'server', 'main.ts')
}
const { main } = await import(pathToFileURL(entry).href)
process.exitCode = await main(process.argv.slice(2))
