// Checks beyond the config schema: tag types and their settings, unique names, trigger references,
// regexes that compile. Written defensively: the shape may already have failed validation, and
// every problem found is reported at once.
import { tagTypes } from '../tags/index.js'
import { ALL_TRIGGER, compilePattern } from '../tags/triggers.js'
import { validateTagEntry, type Issue } from './validate.js'
import { didYouMean } from './suggest.js'
import { formatPath, type PathSegment } from './errors.js'

type Obj = Record<string, unknown>

const TRIGGER_NAME = /^[A-Za-z0-9_.-]+$/

function isObj (v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function issue (segs: PathSegment[], code: Issue['code'], message: string, at: Issue['at'] = 'value'): Issue {
  return { segs, code, message, at }
}

/** Every `matches` regex in a condition must compile. */
function checkRegexes (cond: unknown, segs: PathSegment[], out: Issue[]): void {
  if (!isObj(cond)) return
  for (const [key, value] of Object.entries(cond)) {
    if (key === 'all' || key === 'any') {
      if (Array.isArray(value)) value.forEach((c, i) => checkRegexes(c, [...segs, key, i], out))
    } else if (key === 'not') {
      checkRegexes(value, [...segs, key], out)
    } else if (isObj(value) && typeof value.matches === 'string') {
      const re = compilePattern(value.matches)
      if (typeof re === 'string') out.push(issue([...segs, key, 'matches'], 'bad_regex', re))
    }
  }
}

function checkTriggers (triggers: unknown, out: Issue[]): Set<string> {
  const names = new Set<string>()
  if (!isObj(triggers)) return names
  for (const [name, cond] of Object.entries(triggers)) {
    if (name === ALL_TRIGGER) {
      out.push(issue(['triggers', name], 'reserved_trigger', "'all' is built in (it holds for every event); give this trigger another name", 'key'))
      continue
    }
    // The schema's Record pattern does not reject other keys, so the name rule is enforced here.
    if (!TRIGGER_NAME.test(name)) {
      out.push(issue(['triggers', name], 'invalid_value', `'${name}' is not a valid trigger name: use letters, digits, '_', '.' or '-'`, 'key'))
    }
    names.add(name)
    checkRegexes(cond, ['triggers', name], out)
  }
  return names
}

function checkRefs (tag: Obj, list: 'fireOn' | 'blockOn', base: PathSegment[], triggers: Set<string>, out: Issue[]): void {
  const refs = tag[list]
  if (!Array.isArray(refs)) return
  refs.forEach((ref, i) => {
    const segs = [...base, list, i]
    if (typeof ref === 'string') {
      if (ref === ALL_TRIGGER || triggers.has(ref)) return
      const known = [ALL_TRIGGER, ...triggers]
      const guess = didYouMean(ref, known)
      const hint = guess !== undefined ? `; did you mean '${guess}'?` : `; defined: ${known.join(', ')}`
      out.push(issue(segs, 'unknown_trigger', `unknown trigger '${ref}'${hint}`))
    } else {
      checkRegexes(ref, segs, out)
    }
  })
}

function checkRetry (tag: Obj, base: PathSegment[], out: Issue[]): void {
  const retry = tag.retry
  if (!isObj(retry) || typeof retry.initialDelayMs !== 'number' || typeof retry.maxDelayMs !== 'number') return
  if (retry.initialDelayMs > retry.maxDelayMs) {
    out.push(issue([...base, 'retry', 'initialDelayMs'], 'invalid_value', 'must not be more than retry.maxDelayMs'))
  }
}

function checkTags (tags: unknown, triggers: Set<string>, out: Issue[]): void {
  if (!Array.isArray(tags)) return
  const firstUse = new Map<string, number>()
  tags.forEach((tag, i) => {
    const base: PathSegment[] = ['tags', i]
    if (!isObj(tag)) return
    if (typeof tag.name === 'string') {
      const first = firstUse.get(tag.name)
      if (first !== undefined) {
        out.push(issue([...base, 'name'], 'duplicate_tag', `duplicate tag name '${tag.name}' (already used by ${formatPath(['tags', first])}); tag names must be unique`))
      } else {
        firstUse.set(tag.name, i)
      }
    }
    if (typeof tag.type === 'string') {
      const def = Object.hasOwn(tagTypes, tag.type) ? tagTypes[tag.type] : undefined
      if (def === undefined) {
        out.push(issue([...base, 'type'], 'unknown_tag_type', `unknown tag type '${tag.type}'; known: ${Object.keys(tagTypes).join(', ')}`))
      } else {
        out.push(...validateTagEntry(tag.type, def.settings, tag, base))
      }
    }
    checkRefs(tag, 'fireOn', base, triggers, out)
    checkRefs(tag, 'blockOn', base, triggers, out)
    checkRetry(tag, base, out)
  })
}

// A key marks a request trusted (it may set the visitor's IP, user agent and raw GA4 fields) and
// opens /admin (queues, replay, erasure): one short enough to guess is refused.
const API_KEY_MIN = 16

function checkApiKeys (auth: unknown, out: Issue[]): void {
  if (!isObj(auth) || !Array.isArray(auth.apiKeys)) return
  auth.apiKeys.forEach((key, i) => {
    // Empty is "not set" (a variable left empty): no key, not a short one.
    if (typeof key !== 'string' || key === '' || key.length >= API_KEY_MIN) return
    out.push(issue(['auth', 'apiKeys', i], 'invalid_value', `an API key of ${key.length} characters can be guessed; use at least ${API_KEY_MIN} (openssl rand -hex 24 makes one)`))
  })
}

/** Problems the schema cannot see, as issues to be placed on their lines. */
export function checkConfig (raw: unknown): Issue[] {
  if (!isObj(raw)) return []
  const out: Issue[] = []
  const triggers = checkTriggers(raw.triggers, out)
  checkTags(raw.tags, triggers, out)
  checkApiKeys(raw.auth, out)
  return out
}
