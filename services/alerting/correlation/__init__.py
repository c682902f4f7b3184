"""Correlation rules over detections: per-tenant YAML rules whose hits become alerts.

Guarantee (details and the reasoning in docs/correlation.md):

- State lives in Postgres (`correlation_states`, one row per tenant, rule and entity;
  `correlation_contributions`, one row per detection counted for such a key), and is
  read and written inside the same transaction as the batch's grouping. A crash before
  the commit leaves no trace; the batch is read again and evaluated again.
- Every key touched is locked with `pg_advisory_xact_lock` first, after the grouping
  locks and in one ascending order, so several alerting instances serialize per key and
  never deadlock; whichever instance comes second sees the first one's committed state.
- A detection counts for a key once: the contribution ledger keeps (tenant, rule, key,
  detection id), and only detections new to it are evaluated. A redelivered batch, or
  the same detection on two instances during a rebalance, changes nothing.
- A correlation alert's detection id is derived from (rule, entity, window start), so
  even a hit computed twice is stored once by the alerts' (tenant, detection_id) key.
- Windows are measured on event time (`effective_time`), so a backfill in event-time
  order correlates as it would have live. missing_event is decided when the tenant's
  event time moves past the deadline, not by a wall-clock timer.

Modules: rules (the YAML model), loading, paths (field paths), state, the pure
evaluators (sequences, absence, baseline; evaluation dispatches), alerts (hit ->
DetectionV1), repository (SQL), service (CorrelationEngine, the transaction steps)."""
