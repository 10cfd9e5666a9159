// The folder rules of the house (docs/architecture.md, "Folders and the rules between them").
// `npm run lint:deps` checks them; CI (.ci/run) runs it before the tests.
//
//   common/   the error table, input guards, the outcome vocabulary          imports nothing of ours
//   schemas/  TypeBox event model and config contract, every default         → common
//   protocol/ GA4 wire-format facts shared by a client and a tag             → common, schemas
//   clients/  request snapshot → events (pure)                               → protocol, schemas, common
//   tags/     events → requests, answer → classification (pure)              → protocol, schemas, common
//   config/   YAML → validated, compiled config                              → tags, schemas, common
//   server/   the HTTP edge, pipeline, delivery, store, the command          → everything below
const LAYERS = {
  common: [],
  schemas: ['common'],
  protocol: ['common', 'schemas'],
  clients: ['protocol', 'schemas', 'common'],
  tags: ['protocol', 'schemas', 'common'],
  config: ['tags', 'schemas', 'common']
}
const ALL = ['common', 'schemas', 'protocol', 'clients', 'tags', 'config', 'server']

const layerRules = Object.entries(LAYERS).map(([folder, allowed]) => ({
  name: `${folder}-imports-downward`,
  comment: `${folder}/ may import only ${allowed.length > 0 ? allowed.join(', ') : 'itself'} (and packages).`,
  severity: 'error',
  // schemas/generate.ts is the build script that renders the editor schema from every tag's settings.
  from: { path: `^${folder}/`, pathNot: '^schemas/generate\\.ts$' },
  to: { path: `^(${ALL.filter(f => f !== folder && !allowed.includes(f)).join('|')})/` }
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle means two modules cannot be read (or tested) one without the other.',
      severity: 'error',
      from: {},
      to: { circular: true }
    },
    ...layerRules,
    {
      name: 'clients-stand-alone',
      comment: 'A client parses one format on its own; what two clients share lives in a helper module, not in another client.',
      severity: 'error',
      from: { path: '^clients/(gtag|mp|datalayer|json)\\.ts$' },
      to: { path: '^clients/(gtag|mp|datalayer|json)\\.ts$' }
    },
    {
      name: 'tags-stand-alone',
      comment: 'A tag is one destination; shared pieces (pii, commerce, event names) are helpers, not other tags.',
      severity: 'error',
      from: { path: '^tags/(ga4|meta|tiktok|posthog|webhook|log)\\.ts$' },
      to: { path: '^tags/(ga4|meta|tiktok|posthog|webhook|log)(\\.examples)?\\.ts$' }
    },
    {
      name: 'delivery-is-below-the-edge',
      comment: 'Delivery is the I/O core: it knows tags and config, never the HTTP edge, the pipeline or the command.',
      severity: 'error',
      from: { path: '^server/delivery/' },
      to: { path: '^server/(app|start|main|pipeline|try|try-format|enrich|stitch|routes/)' }
    },
    {
      name: 'store-is-below-the-edge',
      comment: 'A store implementation stands alone behind the Store interface.',
      severity: 'error',
      from: { path: '^server/store/' },
      to: { path: '^server/(?!store/)' }
    },
    {
      name: 'store-through-its-interface',
      comment: 'Only the store factory picks an implementation; everything else talks to the Store interface.',
      severity: 'error',
      from: { path: '^(server|clients|tags|config)/', pathNot: '^server/store/index\\.ts$' },
      to: { path: '^server/store/(memory|redis)\\.ts$' }
    },
    {
      name: 'queues-through-their-interface',
      comment: 'Only the queue factory picks a queue or dead-letter implementation; delivery talks to the interfaces.',
      severity: 'error',
      from: { path: '^(server|clients|tags|config)/', pathNot: '^server/delivery/(factory|(memory|redis)-queue|(memory|redis)-dead-letters|memory-erase)\\.ts$' },
      to: { path: '^server/delivery/(memory|redis)-(queue|dead-letters)\\.ts$' }
    },
    {
      name: 'no-test-code-in-production',
      severity: 'error',
      from: { path: '^(common|schemas|protocol|clients|tags|config|server)/' },
      to: { path: '^(test|bench)/' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}
