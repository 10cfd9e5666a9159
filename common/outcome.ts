// What happened to one event at one tag: the one vocabulary of metrics labels
// (`tagline_tag_events_total{outcome}`), log lines, `tagline try`, dead letters and traces.
// The README ("Metrics") and docs/architecture.md ("Outcomes") list the same words.

/** Decided by the pipeline, before anything is queued. Each may carry a detail (a trigger, a consent type…). */
export const ROUTING_OUTCOMES = Object.freeze({
  queued: 'the tag takes the event; delivery reports what became of it',
  not_triggered: 'none of the tag\'s fireOn triggers held',
  blocked_by_trigger: 'a blockOn trigger held (detail: its name)',
  declined: 'the tag has nothing to send for this event, e.g. no Meta or TikTok name for it (detail: why)',
  blocked_by_consent: 'a consent type the tag needs was denied, or the visitor sent Global Privacy Control to an ads tag (detail: the consent type, or gpc)',
  deduplicated: 'a repeat of an (event_name, event_id) this tag already queued inside the dedup window: it does not get it again',
  disabled: 'the tag is switched off (enabled: false)'
})

/** Decided by delivery: when the event is stored (shed), once per attempt, or at the end. */
export const DELIVERY_OUTCOMES = Object.freeze({
  shed: 'the tag\'s queue held maxQueue events: this tag lost the event, the other tags still got it (its destination is down or too slow; see the warn log)',
  sent: 'the destination accepted it',
  retried: 'the attempt failed in a way that may pass (network, 5xx, 429, throttling): scheduled again with backoff',
  split: 'the destination refused its whole request because of one event in it: re-sent in smaller requests',
  dead_lettered: 'the gateway gave up: the retry window or attempts ran out, or the tag could not prepare or build it (reason kept in the dead letter)',
  dropped: 'the destination refused it for good (a 4xx or a permanent vendor error; its answer kept in the dead letter)'
})

export type RoutingOutcome = keyof typeof ROUTING_OUTCOMES
export type DeliveryOutcome = keyof typeof DELIVERY_OUTCOMES
export type TagOutcome = RoutingOutcome | DeliveryOutcome

/** An outcome with the detail that explains it (a trigger name, a consent type, a reason). */
export interface TagDecision {
  tag: string
  outcome: RoutingOutcome
  detail?: string
}
