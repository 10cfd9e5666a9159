// Validates rendered Kubernetes manifests (the output of `helm template`) against the Kubernetes
// OpenAPI schemas that the kubernetes-models package compiles, one model class per apiVersion/kind.
//   npx tsx .ci/validate-manifests.ts rendered.yaml [more.yaml ...]
// Exits 1 listing every problem. A kind kubernetes-models does not know fails loudly, except the
// CRDs of ALLOWED_CRDS, which get a shape check of their own (kubernetes-models has no schema for
// them). The compiled schemas do not forbid unknown fields, so the validation runs on a proxy of
// the object that records which keys the schema reads: a key it never reads, in an object whose
// keys it does not enumerate (a map such as labels), is reported as an unknown field (a misspelt
// key in a template).
// Every Pod template is also held to the "restricted" Pod Security Standard
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'

type Manifest = Record<string, any>

/** CRDs rendered by the chart that kubernetes-models has no class for: checked by hand. */
const ALLOWED_CRDS: Record<string, (m: Manifest) => string[]> = {
  'monitoring.coreos.com/v1 ServiceMonitor': m => {
    const problems: string[] = []
    const endpoints = m.spec?.endpoints
    if (typeof m.spec?.selector !== 'object' || m.spec.selector === null) problems.push('spec.selector: missing')
    if (!Array.isArray(endpoints) || endpoints.length === 0) problems.push('spec.endpoints: must be a non-empty list')
    else {
      endpoints.forEach((e: Manifest, i: number) => {
        if (typeof e?.port !== 'string' && typeof e?.targetPort === 'undefined') problems.push(`spec.endpoints[${i}].port: missing`)
        if (e?.path !== undefined && (typeof e.path !== 'string' || !e.path.startsWith('/'))) problems.push(`spec.endpoints[${i}].path: must start with /`)
      })
    }
    return problems
  }
}

/** kubernetes-models' module path of an apiVersion/kind: core "v1" is at the root, groups by name. */
function modelPath (apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`
}

interface Validatable { validate: () => void }
type ModelClass = new (data: Manifest) => Validatable

/**
 * Validates `model` and lists the fields its schema never looked at. kubernetes-models' compiled
 * validators read every property their schema defines (`data.foo === undefined`, all errors
 * collected) and enumerate the keys of maps (labels, annotations, ConfigMap data); an own key
 * that is neither read nor enumerated is not in the schema.
 */
function validateStrict (model: Validatable): string[] {
  const read = new Map<object, Set<PropertyKey>>()
  const enumerated = new Set<object>()
  const paths = new Map<object, string>()
  const proxies = new WeakMap<object, object>()
  const wrap = (target: unknown, path: string): unknown => {
    if (typeof target !== 'object' || target === null) return target
    const known = proxies.get(target)
    if (known !== undefined) return known
    paths.set(target, path)
    read.set(target, new Set())
    const proxy = new Proxy(target, {
      get (t, key, receiver) {
        read.get(t)?.add(key)
        const value: unknown = Reflect.get(t, key, receiver)
        if (typeof key !== 'string' || !Object.hasOwn(t, key)) return value
        return wrap(value, Array.isArray(t) ? `${path}[${key}]` : `${path}.${key}`)
      },
      ownKeys (t) {
        enumerated.add(t)
        return Reflect.ownKeys(t)
      }
    })
    proxies.set(target, proxy)
    return proxy
  }
  const problems: string[] = []
  try {
    model.validate.call(wrap(model, '') as Validatable)
  } catch (e) {
    problems.push(String((e as Error).message))
  }
  for (const [object, keys] of read) {
    if (Array.isArray(object) || enumerated.has(object)) continue
    for (const key of Object.keys(object)) {
      if (!keys.has(key)) problems.push(`${paths.get(object) ?? ''}.${key}: unknown field (not in the schema)`.replace(/^\./, ''))
    }
  }
  return problems
}

async function modelOf (apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined
  try {
    const mod = await import(modelPath(apiVersion, kind)) as Record<string, unknown>
    const model = mod[kind]
    return typeof model === 'function' ? model as ModelClass : undefined
  } catch {
    return undefined
  }
}

/** The restricted Pod Security Standard, for the pod template of a workload. */
function restrictedPodProblems (podSpec: Manifest | undefined): string[] {
  if (podSpec === undefined) return []
  const problems: string[] = []
  const pod = podSpec.securityContext ?? {}
  const containers: Manifest[] = [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]
  for (const c of containers) {
    const sc = c.securityContext ?? {}
    const at = `container ${String(c.name)}`
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: securityContext.allowPrivilegeEscalation must be false`)
    if (!Array.isArray(sc.capabilities?.drop) || !sc.capabilities.drop.includes('ALL')) problems.push(`${at}: securityContext.capabilities.drop must include ALL`)
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot must be true (pod or container)`)
    if ((sc.runAsUser ?? pod.runAsUser) === 0) problems.push(`${at}: runAsUser must not be 0`)
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${at}: seccompProfile.type must be RuntimeDefault or Localhost (pod or container)`)
  }
  return problems
}

function podSpecOf (m: Manifest): Manifest | undefined {
  if (m.kind === 'Pod') return m.spec
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template?.spec
  return m.spec?.template?.spec
}

async function main (files: string[]): Promise<number> {
  if (files.length === 0) {
    console.error('usage: npx tsx .ci/validate-manifests.ts FILE [FILE ...]')
    return 2
  }
  let checked = 0
  const failures: string[] = []
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'))
    if (!Array.isArray(docs)) {
      failures.push(`${file}: not a YAML stream`)
      continue
    }
    for (const [index, doc] of docs.entries()) {
      if (doc.errors.length > 0) {
        failures.push(`${file} #${index}: YAML: ${doc.errors.map(e => e.message).join('; ')}`)
        continue
      }
      const m = doc.toJS() as Manifest | null
      if (m === null || m === undefined) continue // an empty document (a template that rendered nothing)
      const where = `${file} #${index} ${String(m.kind)}/${String(m.metadata?.name)}`
      if (typeof m !== 'object' || Array.isArray(m)) {
        failures.push(`${where}: not a mapping`)
        continue
      }
      const problems: string[] = []
      if (typeof m.apiVersion !== 'string' || typeof m.kind !== 'string') problems.push('apiVersion and kind are required strings')
      if (typeof m.metadata?.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(m.metadata.name)) problems.push('metadata.name: missing or not a DNS-1123 name')
      if (problems.length === 0) {
        const crdCheck = ALLOWED_CRDS[`${String(m.apiVersion)} ${String(m.kind)}`]
        if (crdCheck !== undefined) {
          problems.push(...crdCheck(m))
        } else {
          const Model = await modelOf(m.apiVersion, m.kind)
          if (Model === undefined) {
            problems.push(`unknown apiVersion/kind ${String(m.apiVersion)} ${String(m.kind)}: kubernetes-models has no schema for it; ` +
              'add a check to ALLOWED_CRDS in .ci/validate-manifests.ts if it is a CRD the chart means to render')
          } else {
            problems.push(...validateStrict(new Model(m)))
          }
        }
        problems.push(...restrictedPodProblems(podSpecOf(m)))
      }
      checked++
      if (problems.length > 0) failures.push(`${where}:\n  ${problems.join('\n  ')}`)
      else console.log(`ok   ${where} (${String(m.apiVersion)})`)
    }
  }
  if (checked === 0) failures.push('no manifest found in ' + files.join(', '))
  if (failures.length > 0) {
    console.error(`\n${failures.length} manifest problem(s):\n${failures.join('\n')}`)
    return 1
  }
  console.log(`${checked} manifest(s) valid`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
