// schemas/config.schema.json is generated; it must be fresh and accept the shipped examples.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import AjvModule from 'ajv'
import { CONFIG_SCHEMA_PATH, GENERATED_COMMENT, buildConfigJsonSchema, renderConfigJsonSchema } from '../../schemas/generate.js'
import { tagTypes } from '../../tags/index.js'

const Ajv = AjvModule.default
const example = (name: string): string => fileURLToPath(new URL(`../../config/examples/${name}`, import.meta.url))

t.test('the committed schema is fresh', async t => {
  const onDisk = readFileSync(CONFIG_SCHEMA_PATH, 'utf8')
  t.ok(onDisk === renderConfigJsonSchema(), 'schemas/config.schema.json is stale: run npm run gen')
  t.equal(renderConfigJsonSchema(), renderConfigJsonSchema(), 'deterministic')
  t.ok(onDisk.endsWith('}\n'), 'trailing newline')
})

t.test('shape', async t => {
  const s = buildConfigJsonSchema() as any
  t.equal(s.$schema, 'http://json-schema.org/draft-07/schema#')
  t.equal(s.$comment, GENERATED_COMMENT)
  t.same(s.properties.tags.items.properties.type.enum, Object.keys(tagTypes), 'every registered tag type')
  t.equal(s.properties.tags.items.allOf.length, Object.keys(tagTypes).length)
  t.ok(s.definitions.Condition, 'Condition is a definition')
  t.notOk(JSON.stringify(s).includes('"$id"'), 'no inline $id left')
})

t.test('the schema validates the examples and rejects mistakes', async t => {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(buildConfigJsonSchema())
  for (const name of ['quickstart.yaml', 'full.yaml']) {
    const ok = validate(parse(readFileSync(example(name), 'utf8')))
    t.ok(ok, `${name} is valid: ${ajv.errorsText(validate.errors)}`)
  }
  const tag = (extra: Record<string, unknown>): unknown => ({ tags: [{ name: 'a', type: 'webhook', url: 'https://x.example/', ...extra }] })
  t.ok(validate(tag({})), 'a minimal webhook')
  t.notOk(validate(tag({ level: 'debug' })), 'a key of another type is refused once the type is known')
  t.notOk(validate({ tags: [{ name: 'a', type: 'webhook' }] }), 'required settings of the type')
  t.notOk(validate({ tags: [{ name: 'a', type: 'nope' }] }), 'unknown type')
  t.notOk(validate({ triggers: { all: { event_name: 'x' } } }), 'all is reserved')
  t.notOk(validate({ triggers: { 'a b': { event_name: 'x' } } }), 'trigger names follow the pattern')
  t.ok(validate({ server: { port: '${PORT:-8080}', trustProxy: '${TRUST}' } }), 'env references where numbers and booleans go')
  t.notOk(validate({ server: { port: 'eighty' } }), 'but not any string')
  t.ok(validate({ triggers: { t: { all: [{ 'params.plan': { in: ['a', 1] } }, { not: { value: { gte: 5 } } }] } } }), 'recursive conditions')
  t.notOk(validate({ triggers: { t: { value: { gtee: 5 } } } }), 'unknown operator')
})
