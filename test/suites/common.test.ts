// Every test file of the folder this file is named for, in one process (test/fixtures/suite.ts).
import { runFolder } from '../fixtures/suite.js'
await runFolder(import.meta.url)
