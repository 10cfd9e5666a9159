// The live debug view: one self-contained HTML document (inline CSS and JS, no CDN, no framework)
// served at GET /debug. It opens an EventSource on <its own path>/stream (so /debug/stream, with the
// page's own query string passed on, e.g. a ?token=), takes `event: hello` ({replica, fleet, ring})
// and `event: trace` (one TraceEntry, server/debug/trace.ts, per message), and joins the entries
// by event_id: requests with their events and routing decisions, the delivery outcomes and the
// exchanges that carried each event, whichever arrives first. Every piece of data goes into the
// DOM through textContent or setAttribute, never as markup: event names, URLs and bodies come from
// anyone who can send a beacon.
//
// data-testid attributes (stable, for tests):
//   status          the connection status ("connecting…", "connected", "reconnecting…", "disconnected");
//                   data-state = connecting | connected | reconnecting | closed; names the replica and
//                   whether the view is fleet-wide (from hello)
//   stats           counts: requests shown / kept, deliveries waiting for their request
//   filter-event    text input: event_name substring
//   filter-tag      text input: tag substring (also narrows the tag rows shown)
//   filter-client   text input: client_id substring
//   filter-outcome  select: every routing and delivery outcome word (common/outcome.ts); an event
//                   matches when any of its tags has that outcome
//   filter-marked   checkbox: only marked traffic
//   pause           the Pause / "Resume (N new)" button
//   clear           the Clear button
//   request-list    the list of requests, newest first
//   request         one incoming request; data-id, data-marked = true | false
//   request-time, request-replica, request-client, request-path, request-count   its summary cells
//   marked          the "marked" badge of a marked request
//   event           one event of a request; data-event-id; click it to show its JSON
//   event-name, event-id, client-id   its fields
//   browser-id      the browser's event_id (browser_event_id)
//   no-browser-id   the warning shown when browser_event_id is null
//   tag-row         one tag of an event; data-tag, data-outcome = its latest outcome
//   tag-name        the tag's name
//   outcome         one outcome badge; data-outcome = the word, data-kind = routing | delivery
//   outcome-detail  the routing detail or the delivery reason next to an outcome
//   sent-id         "<tag> got <sent_event_id>"; data-differs = true when the browser gave an
//                   event_id and this one is not it
//   exchange        one request that carried the event to that tag (a <details>); data-result
//   json-panel      the side panel with the clicked event's JSON; json-event and json-exchanges
//                   are its two <pre>, json-close closes it
//
// The inline script uses no template literals and no backslashes, so this file can stay one
// String.raw template; only OUTCOMES below is interpolated.
import { DELIVERY_OUTCOMES, ROUTING_OUTCOMES } from '../../common/outcome.js'

/** At most this many requests are kept on the page; the oldest go first. */
export const DEBUG_PAGE_MAX_REQUESTS = 500

const OUTCOMES = JSON.stringify({ routing: ROUTING_OUTCOMES, delivery: DELIVERY_OUTCOMES })
  .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')

export const DEBUG_PAGE: string = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tagline · live debug</title>
<style>
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #fff; --bg2: #f6f8fa; --sel: #ddf4ff;
  --green: #1a7f37; --green-bg: #dafbe1; --amber: #9a6700; --amber-bg: #fff8c5; --grey: #57606a; --grey-bg: #eaeef2;
  --blue: #0969da; --blue-bg: #ddf4ff; --red: #cf222e; --red-bg: #ffebe9; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--fg); background: var(--bg);
  display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 10px; padding: 6px 10px; border-bottom: 1px solid var(--line); background: var(--bg2); flex-wrap: wrap; }
header h1 { font-size: 13px; margin: 0; font-weight: 600; }
#status { padding: 1px 6px; border-radius: 3px; background: var(--grey-bg); color: var(--grey); }
#status[data-state=connected] { background: var(--green-bg); color: var(--green); }
#status[data-state=reconnecting], #status[data-state=connecting] { background: var(--amber-bg); color: var(--amber); }
#status[data-state=closed] { background: var(--red-bg); color: var(--red); }
#stats { color: var(--muted); }
.spacer { flex: 1; }
button { font: inherit; padding: 2px 8px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); cursor: pointer; }
button:hover { background: var(--grey-bg); }
button.paused { background: var(--amber-bg); border-color: var(--amber); }
.filters { display: flex; gap: 8px; padding: 5px 10px; border-bottom: 1px solid var(--line); align-items: center; flex-wrap: wrap; }
.filters input[type=text], .filters select { font: inherit; padding: 2px 5px; border: 1px solid var(--line); border-radius: 3px; width: 150px; }
.filters label { display: flex; align-items: center; gap: 4px; color: var(--muted); }
main { flex: 1; display: flex; min-height: 0; }
#list { flex: 1; overflow: auto; min-width: 0; }
#empty { padding: 20px; color: var(--muted); }
.req { border-bottom: 1px solid var(--line); }
.req-head { display: grid; grid-template-columns: 95px 140px 80px minmax(0, 1fr) auto auto; gap: 8px; padding: 3px 10px; background: var(--bg2); align-items: center; }
.req-head > span { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.req .muted, .muted { color: var(--muted); }
.req .path { font-weight: 600; }
.badge { display: inline-block; padding: 0 5px; border-radius: 3px; font-size: 11px; white-space: nowrap; }
.marked { background: #fbefff; color: #8250df; border: 1px solid #d8b9ff; }
.ev { padding: 2px 10px 4px 24px; border-top: 1px dashed var(--line); cursor: pointer; }
.ev:hover { background: #fafbfc; }
.ev.selected { background: var(--sel); }
.ev-head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.ev-name { font-weight: 600; }
.warn { color: var(--red); background: var(--red-bg); padding: 0 5px; border-radius: 3px; }
.tag-row { display: grid; grid-template-columns: 110px minmax(0, 1fr); gap: 8px; padding: 1px 0 1px 12px; align-items: start; border-left: 3px solid var(--grey-bg); margin: 2px 0; }
.tag-row.s-green { border-left-color: var(--green); }
.tag-row.s-amber { border-left-color: var(--amber); }
.tag-row.s-grey { border-left-color: #afb8c1; }
.tag-row.s-blue { border-left-color: var(--blue); }
.tag-row.s-red { border-left-color: var(--red); }
.tag-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.flow { display: flex; flex-wrap: wrap; gap: 4px; align-items: baseline; }
.flow .arrow { color: var(--muted); }
.detail { color: var(--muted); }
.c-green { background: var(--green-bg); color: var(--green); }
.c-amber { background: var(--amber-bg); color: var(--amber); }
.c-grey { background: var(--grey-bg); color: var(--grey); }
.c-blue { background: var(--blue-bg); color: var(--blue); }
.c-red { background: var(--red-bg); color: var(--red); }
.sent-id { color: var(--muted); }
.sent-id[data-differs=true] { color: var(--red); background: var(--red-bg); padding: 0 4px; border-radius: 3px; font-weight: 600; }
.exchanges { grid-column: 2; }
details.xch { margin: 1px 0; }
details.xch summary { cursor: pointer; color: var(--fg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
details.xch pre { margin: 2px 0 4px 14px; padding: 4px 6px; background: var(--bg2); border: 1px solid var(--line); white-space: pre-wrap; word-break: break-all; max-height: 260px; overflow: auto; }
#panel { width: 42%; min-width: 320px; border-left: 1px solid var(--line); display: flex; flex-direction: column; min-height: 0; }
#panel[hidden] { display: none; }
#panel .phead { display: flex; align-items: center; gap: 8px; padding: 4px 8px; background: var(--bg2); border-bottom: 1px solid var(--line); }
#panel .pbody { overflow: auto; padding: 6px 8px; flex: 1; }
#panel h2 { font-size: 12px; margin: 6px 0 2px; }
#panel pre { margin: 0; white-space: pre-wrap; word-break: break-all; }
[hidden] { display: none !important; }
</style></head>
<body>
<header>
  <h1>tagline · live debug</h1>
  <span id="status" data-testid="status" data-state="connecting">connecting…</span>
  <span id="stats" data-testid="stats"></span>
  <span class="spacer"></span>
  <button id="pause" data-testid="pause" type="button">Pause</button>
  <button id="clear" data-testid="clear" type="button">Clear</button>
</header>
<div class="filters">
  <input id="f-event" data-testid="filter-event" type="text" placeholder="event name" autocomplete="off">
  <input id="f-tag" data-testid="filter-tag" type="text" placeholder="tag" autocomplete="off">
  <input id="f-client" data-testid="filter-client" type="text" placeholder="client_id" autocomplete="off">
  <select id="f-outcome" data-testid="filter-outcome"><option value="">any outcome</option></select>
  <label><input id="f-marked" data-testid="filter-marked" type="checkbox"> only marked traffic</label>
</div>
<main>
  <div id="list" data-testid="request-list"><div id="empty">Waiting for traffic…</div></div>
  <aside id="panel" data-testid="json-panel" hidden>
    <div class="phead"><strong id="p-title"></strong><span class="spacer"></span><button id="p-close" data-testid="json-close" type="button">Close</button></div>
    <div class="pbody">
      <h2>event</h2><pre id="p-event" data-testid="json-event"></pre>
      <h2>exchanges</h2><pre id="p-exchanges" data-testid="json-exchanges"></pre>
    </div>
  </aside>
</main>
<script>
(function () {
  'use strict'
  var OUTCOMES = ${OUTCOMES}
  var MAX_REQUESTS = ${String(DEBUG_PAGE_MAX_REQUESTS)}
  var MAX_SEEN = 50000
  var MAX_ORPHANS = 5000
  var COLOUR = {
    queued: 'green', sent: 'green',
    retried: 'amber', split: 'amber',
    not_triggered: 'grey', blocked_by_trigger: 'grey', blocked_by_consent: 'grey', declined: 'grey', disabled: 'grey',
    deduplicated: 'blue',
    dropped: 'red', dead_lettered: 'red', shed: 'red'
  }
  function describe (word) { return OUTCOMES.routing[word] || OUTCOMES.delivery[word] || '' }

  // ---- state ----
  var requests = []            // TracedRequest, newest (largest at) first
  var requestById = new Map()  // id -> TracedRequest
  var elById = new Map()       // id -> element
  var eventOwner = new Map()   // event_id -> request id
  var outcomes = new Map()     // event_id -> array of TracedOutcome, in arrival order
  var exchanges = new Map()    // event_id -> array of TracedExchange
  var seen = new Set()         // dedupe keys of every entry taken (or held while paused)
  var pending = []             // entries held while paused
  var paused = false
  var dirty = new Set()
  var flushScheduled = false
  var selected = null          // event_id shown in the panel
  var openExchanges = new Set()
  var filters = { event: '', tag: '', client: '', outcome: '', marked: false }

  var $ = function (id) { return document.getElementById(id) }
  var list = $('list'), emptyEl = $('empty'), statusEl = $('status'), statsEl = $('stats'), pauseBtn = $('pause')

  function el (tag, cls, text, testid) {
    var e = document.createElement(tag)
    if (cls) e.className = cls
    if (text !== undefined && text !== null) e.textContent = String(text)
    if (testid) e.setAttribute('data-testid', testid)
    return e
  }
  function pad (n, w) { var s = String(n); while (s.length < w) s = '0' + s; return s }
  function clock (ms) {
    var d = new Date(ms)
    if (isNaN(d.getTime())) return '?'
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3)
  }
  function str (v) { return v === undefined || v === null ? '' : String(v) }
  function has (hay, needle) { return needle === '' || str(hay).toLowerCase().indexOf(needle) !== -1 }

  // ---- outcome select ----
  ;(function () {
    var sel = $('f-outcome')
    var groups = [['routing', OUTCOMES.routing], ['delivery', OUTCOMES.delivery]]
    for (var g = 0; g < groups.length; g++) {
      var og = document.createElement('optgroup')
      og.label = groups[g][0]
      var words = Object.keys(groups[g][1])
      for (var i = 0; i < words.length; i++) {
        var o = el('option', '', words[i])
        o.value = words[i]
        o.title = groups[g][1][words[i]]
        og.appendChild(o)
      }
      sel.appendChild(og)
    }
  })()

  // ---- taking entries ----
  function keyOf (e) {
    if (!e || typeof e !== 'object') return null
    if (e.kind === 'request') return JSON.stringify(['r', e.id])
    if (e.kind === 'exchange') return JSON.stringify(['x', e.tag, e.batchId, e.attempt])
    if (e.kind === 'outcome') return JSON.stringify(['o', e.tag, e.event_id, e.outcome, e.at])
    return null
  }
  function remember (key) {
    seen.add(key)
    if (seen.size > MAX_SEEN) {
      var it = seen.values()
      for (var n = seen.size - MAX_SEEN; n > 0; n--) seen.delete(it.next().value)
    }
  }
  function receive (entry) {
    var key = keyOf(entry)
    if (key === null || seen.has(key)) return
    remember(key)
    if (paused) { pending.push(entry); updatePause(); return }
    take(entry)
  }
  function push (map, k, v) { var a = map.get(k); if (!a) { a = []; map.set(k, a) } a.push(v) }
  function take (e) {
    if (e.kind === 'request') addRequest(e)
    else if (e.kind === 'outcome') {
      push(outcomes, str(e.event_id), e)
      touch(str(e.event_id))
    } else if (e.kind === 'exchange') {
      var ids = Array.isArray(e.event_ids) ? e.event_ids : []
      for (var i = 0; i < ids.length; i++) { push(exchanges, str(ids[i]), e); touch(str(ids[i])) }
    }
    pruneOrphans()
    schedule()
  }
  function touch (eventId) {
    var owner = eventOwner.get(eventId)
    if (owner !== undefined) dirty.add(owner)
  }
  function addRequest (r) {
    if (typeof r.id !== 'string') return
    if (!Array.isArray(r.events)) r.events = []
    if (!Array.isArray(r.decisions)) r.decisions = []
    if (!r.request || typeof r.request !== 'object') r.request = { method: '', url: '', headers: {} }
    requestById.set(r.id, r)
    for (var i = 0; i < r.events.length; i++) eventOwner.set(str(r.events[i].event_id), r.id)
    // newest first: find the first kept request older than this one
    var at = Number(r.at) || 0
    var lo = 0, hi = requests.length
    while (lo < hi) { var mid = (lo + hi) >> 1; if ((Number(requests[mid].at) || 0) >= at) lo = mid + 1; else hi = mid }
    requests.splice(lo, 0, r)
    dirty.add(r.id)
    while (requests.length > MAX_REQUESTS) dropRequest(requests.pop())
  }
  function dropRequest (r) {
    requestById.delete(r.id)
    dirty.delete(r.id)
    var node = elById.get(r.id)
    if (node) { node.remove(); elById.delete(r.id) }
    for (var i = 0; i < r.events.length; i++) {
      var id = str(r.events[i].event_id)
      if (eventOwner.get(id) === r.id) {
        eventOwner.delete(id); outcomes.delete(id); exchanges.delete(id)
        if (selected === id) closePanel()
      }
    }
  }
  function orphanCount () {
    var n = 0
    outcomes.forEach(function (_, k) { if (!eventOwner.has(k)) n++ })
    exchanges.forEach(function (_, k) { if (!eventOwner.has(k) && !outcomes.has(k)) n++ })
    return n
  }
  function pruneOrphans () {
    var maps = [outcomes, exchanges]
    for (var m = 0; m < maps.length; m++) {
      var map = maps[m]
      if (map.size <= MAX_ORPHANS + eventOwner.size) continue
      var excess = map.size - eventOwner.size - MAX_ORPHANS
      var keys = Array.from(map.keys())
      for (var i = 0; i < keys.length && excess > 0; i++) {
        if (!eventOwner.has(keys[i])) { map.delete(keys[i]); excess-- }
      }
    }
  }

  // ---- joining ----
  function tagsOf (r, ev) {
    var id = str(ev.event_id)
    var tags = [], byTag = new Map()
    function row (tag) {
      tag = str(tag)
      var t = byTag.get(tag)
      if (!t) { t = { tag: tag, decision: null, outcomes: [], exchanges: [] }; byTag.set(tag, t); tags.push(t) }
      return t
    }
    for (var i = 0; i < r.decisions.length; i++) {
      var d = r.decisions[i]
      if (str(d.event_id) === id) row(d.tag).decision = d
    }
    var os = outcomes.get(id) || []
    for (var j = 0; j < os.length; j++) row(os[j].tag).outcomes.push(os[j])
    var xs = exchanges.get(id) || []
    for (var k = 0; k < xs.length; k++) row(xs[k].tag).exchanges.push(xs[k])
    for (var n = 0; n < tags.length; n++) {
      tags[n].outcomes.sort(function (a, b) { return (Number(a.at) || 0) - (Number(b.at) || 0) })
      tags[n].exchanges.sort(function (a, b) { return (Number(a.attempt) || 0) - (Number(b.attempt) || 0) || (Number(a.at) || 0) - (Number(b.at) || 0) })
    }
    return tags
  }
  function lastOutcome (t) {
    if (t.outcomes.length > 0) return str(t.outcomes[t.outcomes.length - 1].outcome)
    return t.decision ? str(t.decision.outcome) : ''
  }

  // ---- filtering ----
  function eventFilterActive () { return filters.event !== '' || filters.tag !== '' || filters.client !== '' || filters.outcome !== '' }
  function eventMatches (r, ev, tags) {
    if (!has(ev.event_name, filters.event)) return false
    if (!has(ev.client_id, filters.client)) return false
    if (filters.tag !== '' && !tags.some(function (t) { return has(t.tag, filters.tag) })) return false
    if (filters.outcome !== '') {
      var want = filters.outcome
      var any = tags.some(function (t) {
        if (t.decision && t.decision.outcome === want) return true
        return t.outcomes.some(function (o) { return o.outcome === want })
      })
      if (!any) return false
    }
    return true
  }

  // ---- rendering ----
  function badge (word, kind) {
    var b = el('span', 'badge c-' + (COLOUR[word] || 'grey'), word, 'outcome')
    b.setAttribute('data-outcome', word)
    b.setAttribute('data-kind', kind)
    b.title = describe(word)
    return b
  }
  function renderExchange (x, eventId) {
    var key = JSON.stringify([eventId, x.tag, x.batchId, x.attempt])
    var d = el('details', 'xch', null, 'exchange')
    d.setAttribute('data-result', str(x.result))
    if (openExchanges.has(key)) d.open = true
    d.addEventListener('toggle', function () { if (d.open) openExchanges.add(key); else openExchanges.delete(key) })
    var s = el('summary')
    var req = x.request || {}
    s.appendChild(el('span', 'muted', '#' + str(x.attempt) + ' '))
    s.appendChild(el('span', '', str(req.method) + ' ' + str(req.url) + ' '))
    var ans = x.answer && typeof x.answer === 'object' ? x.answer : null
    var ansText = !ans ? 'no answer (dry run)' : ('error' in ans ? 'error: ' + str(ans.error) : String(ans.status))
    s.appendChild(el('span', 'muted', '→ '))
    s.appendChild(el('span', '', ansText + ' '))
    var resColour = x.result === 'ok' ? 'green' : x.result === 'retry' ? 'amber' : 'red'
    s.appendChild(el('span', 'badge c-' + resColour, str(x.result)))
    if (x.reason) s.appendChild(el('span', 'detail', ' ' + str(x.reason)))
    if (x.durationMs !== undefined) s.appendChild(el('span', 'muted', ' ' + str(x.durationMs) + ' ms'))
    s.appendChild(el('span', 'muted', ' · batch ' + str(x.batchId) + ' · ' + str(x.replica)))
    d.appendChild(s)
    var lines = [str(req.method) + ' ' + str(req.url)]
    var hs = req.headers || {}
    Object.keys(hs).forEach(function (h) { lines.push(h + ': ' + str(hs[h])) })
    if (req.body !== undefined) lines.push('', str(req.body))
    d.appendChild(el('pre', '', lines.join(String.fromCharCode(10)), 'exchange-request'))
    if (ans) {
      var a = 'error' in ans ? 'error: ' + str(ans.error) : 'status ' + str(ans.status) + String.fromCharCode(10) + str(ans.body)
      d.appendChild(el('pre', '', a, 'exchange-answer'))
    }
    return d
  }
  function renderTagRow (t, ev) {
    var last = lastOutcome(t)
    var row = el('div', 'tag-row s-' + (COLOUR[last] || 'grey'), null, 'tag-row')
    row.setAttribute('data-tag', t.tag)
    row.setAttribute('data-outcome', last)
    row.appendChild(el('span', 'tag-name', t.tag, 'tag-name'))
    var flow = el('div', 'flow')
    if (t.decision) {
      flow.appendChild(badge(str(t.decision.outcome), 'routing'))
      if (t.decision.detail) flow.appendChild(el('span', 'detail', str(t.decision.detail), 'outcome-detail'))
    } else {
      flow.appendChild(el('span', 'muted', '(routing not seen)'))
    }
    var sentIds = []
    for (var i = 0; i < t.outcomes.length; i++) {
      var o = t.outcomes[i]
      flow.appendChild(el('span', 'arrow', '→'))
      flow.appendChild(badge(str(o.outcome), 'delivery'))
      if (o.reason) flow.appendChild(el('span', 'detail', str(o.reason), 'outcome-detail'))
      if (o.sent_event_id !== undefined && o.sent_event_id !== null && sentIds.indexOf(str(o.sent_event_id)) === -1) sentIds.push(str(o.sent_event_id))
    }
    for (var k = 0; k < sentIds.length; k++) {
      var sid = el('span', 'sent-id', t.tag + ' got ' + sentIds[k], 'sent-id')
      var differs = ev.browser_event_id !== null && ev.browser_event_id !== undefined && str(ev.browser_event_id) !== sentIds[k]
      sid.setAttribute('data-differs', differs ? 'true' : 'false')
      if (differs) sid.title = 'differs from the browser event_id ' + str(ev.browser_event_id) + ': the pixel and this tag cannot be deduplicated'
      flow.appendChild(sid)
    }
    row.appendChild(flow)
    if (t.exchanges.length > 0) {
      var xs = el('div', 'exchanges')
      for (var j = 0; j < t.exchanges.length; j++) xs.appendChild(renderExchange(t.exchanges[j], str(ev.event_id)))
      row.appendChild(xs)
    }
    return row
  }
  function renderEvent (r, ev, tags) {
    var id = str(ev.event_id)
    var box = el('div', 'ev' + (selected === id ? ' selected' : ''), null, 'event')
    box.setAttribute('data-event-id', id)
    var head = el('div', 'ev-head')
    head.appendChild(el('span', 'ev-name', str(ev.event_name), 'event-name'))
    head.appendChild(el('span', 'muted', 'event_id ' + id, 'event-id'))
    if (ev.client_id !== undefined && ev.client_id !== null) head.appendChild(el('span', 'muted', 'client_id ' + str(ev.client_id), 'client-id'))
    if (ev.browser_event_id === null || ev.browser_event_id === undefined) {
      head.appendChild(el('span', 'warn', 'no event_id from the browser: minted by the gateway, the pixel cannot be deduplicated against it', 'no-browser-id'))
    } else {
      head.appendChild(el('span', '', 'browser sent ' + str(ev.browser_event_id), 'browser-id'))
    }
    box.appendChild(head)
    for (var i = 0; i < tags.length; i++) {
      if (filters.tag !== '' && !has(tags[i].tag, filters.tag)) continue
      box.appendChild(renderTagRow(tags[i], ev))
    }
    if (tags.length === 0) box.appendChild(el('div', 'muted', '(no tag took a decision)'))
    box.addEventListener('click', function (e) {
      if (e.target && e.target.closest && e.target.closest('summary, pre')) return
      select(id)
    })
    return box
  }
  function renderRequest (r) {
    var box = el('div', 'req', null, 'request')
    box.setAttribute('data-id', r.id)
    box.setAttribute('data-marked', r.marked === true ? 'true' : 'false')
    var head = el('div', 'req-head')
    head.appendChild(el('span', 'muted', clock(r.at), 'request-time'))
    var rep = el('span', 'muted', str(r.replica), 'request-replica'); rep.title = str(r.replica); head.appendChild(rep)
    head.appendChild(el('span', '', str(r.client), 'request-client'))
    var path = el('span', 'path', str(r.request.method) + ' ' + str(r.request.url), 'request-path')
    path.title = str(r.request.url)
    head.appendChild(path)
    head.appendChild(el('span', 'muted', r.events.length + (r.events.length === 1 ? ' event' : ' events'), 'request-count'))
    head.appendChild(r.marked === true ? el('span', 'badge marked', 'marked', 'marked') : el('span'))
    box.appendChild(head)
    var active = eventFilterActive(), shown = 0
    for (var i = 0; i < r.events.length; i++) {
      var ev = r.events[i]
      var tags = tagsOf(r, ev)
      if (active && !eventMatches(r, ev, tags)) continue
      box.appendChild(renderEvent(r, ev, tags))
      shown++
    }
    var visible = !(filters.marked && r.marked !== true) && !(active && shown === 0)
    box.hidden = !visible
    return box
  }

  function schedule () {
    if (flushScheduled) return
    flushScheduled = true
    setTimeout(flush, 16)
  }
  function flush () {
    flushScheduled = false
    if (dirty.size > 0) {
      // place every dirty request at its index, newest first
      for (var i = 0; i < requests.length; i++) {
        var r = requests[i]
        if (!dirty.has(r.id)) continue
        var node = renderRequest(r)
        var old = elById.get(r.id)
        if (old) old.replaceWith(node)
        else {
          var next = null
          for (var j = i + 1; j < requests.length && next === null; j++) next = elById.get(requests[j].id) || null
          list.insertBefore(node, next)
        }
        elById.set(r.id, node)
      }
      dirty.clear()
    }
    if (selected !== null) showPanel()
    updateStats()
  }
  function rerenderAll () {
    requests.forEach(function (r) { dirty.add(r.id) })
    flush()
  }
  function updateStats () {
    var shown = 0
    elById.forEach(function (n) { if (!n.hidden) shown++ })
    emptyEl.hidden = requests.length > 0
    var waiting = orphanCount()
    statsEl.textContent = shown + ' / ' + requests.length + ' requests' + (waiting > 0 ? ' · ' + waiting + ' events delivered, request not seen' : '')
  }
  function updatePause () {
    pauseBtn.textContent = paused ? 'Resume (' + pending.length + ' new)' : 'Pause'
    pauseBtn.className = paused ? 'paused' : ''
  }

  // ---- the panel ----
  function findEvent (id) {
    var owner = eventOwner.get(id)
    var r = owner === undefined ? undefined : requestById.get(owner)
    if (!r) return null
    for (var i = 0; i < r.events.length; i++) if (str(r.events[i].event_id) === id) return { r: r, ev: r.events[i] }
    return null
  }
  function select (id) {
    var prev = selected
    selected = id
    var sel = list.querySelectorAll('.ev.selected')
    for (var i = 0; i < sel.length; i++) sel[i].classList.remove('selected')
    var mine = list.querySelectorAll('.ev')
    for (var j = 0; j < mine.length; j++) if (mine[j].getAttribute('data-event-id') === id) mine[j].classList.add('selected')
    if (prev !== id) showPanel()
  }
  function showPanel () {
    var found = findEvent(selected)
    if (!found) return
    var r = found.r, ev = found.ev
    var view = {
      event_id: ev.event_id,
      event_name: ev.event_name,
      client_id: ev.client_id,
      browser_event_id: ev.browser_event_id,
      event: ev.event,
      decisions: r.decisions.filter(function (d) { return str(d.event_id) === str(ev.event_id) }),
      outcomes: outcomes.get(str(ev.event_id)) || [],
      request: { id: r.id, at: r.at, replica: r.replica, marked: r.marked, client: r.client, request: r.request }
    }
    $('p-title').textContent = str(ev.event_name) + ' · ' + str(ev.event_id)
    $('p-event').textContent = JSON.stringify(view, null, 2)
    $('p-exchanges').textContent = JSON.stringify(exchanges.get(str(ev.event_id)) || [], null, 2)
    $('panel').hidden = false
  }
  function closePanel () {
    selected = null
    $('panel').hidden = true
    var sel = list.querySelectorAll('.ev.selected')
    for (var i = 0; i < sel.length; i++) sel[i].classList.remove('selected')
  }
  $('p-close').addEventListener('click', closePanel)

  // ---- controls ----
  function bindText (id, name) {
    $(id).addEventListener('input', function () { filters[name] = this.value.trim().toLowerCase(); rerenderAll() })
  }
  bindText('f-event', 'event'); bindText('f-tag', 'tag'); bindText('f-client', 'client')
  $('f-outcome').addEventListener('change', function () { filters.outcome = this.value; rerenderAll() })
  $('f-marked').addEventListener('change', function () { filters.marked = this.checked; rerenderAll() })
  pauseBtn.addEventListener('click', function () {
    paused = !paused
    if (!paused) {
      var held = pending
      pending = []
      for (var i = 0; i < held.length; i++) take(held[i])
    }
    updatePause()
    flush()
  })
  $('clear').addEventListener('click', function () {
    // What was seen stays seen: a reconnect replaying the ring does not bring it back.
    requests = []; requestById.clear(); eventOwner.clear(); outcomes.clear(); exchanges.clear(); pending = []
    dirty.clear(); openExchanges.clear()
    elById.forEach(function (n) { n.remove() }); elById.clear()
    closePanel(); updatePause(); updateStats()
  })

  // ---- the stream ----
  var hello = null
  function setStatus (state, text) {
    statusEl.setAttribute('data-state', state)
    statusEl.textContent = text
  }
  function helloText () {
    if (!hello) return ''
    return ' · replica ' + str(hello.replica) + (hello.fleet === true ? ' · fleet: every replica (Redis)' : ' · this replica only')
  }
  function streamUrl () {
    var p = location.pathname
    if (p.charAt(p.length - 1) !== '/') p += '/'
    return p + 'stream' + location.search
  }
  var source = null
  function connect () {
    source = new EventSource(streamUrl())
    source.addEventListener('open', function () { setStatus('connected', 'connected' + helloText()) })
    source.addEventListener('hello', function (m) {
      try { hello = JSON.parse(m.data) } catch (e) { hello = null }
      setStatus('connected', 'connected' + helloText())
      statusEl.title = hello && typeof hello.ring === 'number' ? 'the server keeps the last ' + hello.ring + ' entries' : ''
    })
    source.addEventListener('trace', function (m) {
      var entry
      try { entry = JSON.parse(m.data) } catch (e) { return }
      receive(entry)
    })
    source.addEventListener('error', function () {
      if (source.readyState === EventSource.CLOSED) {
        // refused (401, 404, a proxy's 502): EventSource gives up, try again ourselves
        setStatus('closed', 'disconnected, retrying in 5 s' + helloText())
        source.close()
        setTimeout(connect, 5000)
      } else {
        setStatus('reconnecting', 'reconnecting…' + helloText())
      }
    })
  }
  updatePause()
  updateStats()
  connect()
})()
</script>
</body></html>
`
