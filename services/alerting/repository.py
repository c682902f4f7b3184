"""SQL of alerting's grouping decision. Every statement filters on the tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.contracts.detections import DetectionV1
from libs.common.policies.chaining import ChainCandidate
from libs.common.policies.dedup import Anchor
from libs.common.policies.grouping import OpenSlot


async def stored_detection_ids(
    session: AsyncSession, tenant_id: str, detection_ids: list[str]
) -> set[str]:
    result = await session.execute(
        text(
            "SELECT detection_id FROM alerts "
            "WHERE tenant_id = :tenant AND detection_id = ANY(CAST(:ids AS text[]))"
        ),
        {"tenant": tenant_id, "ids": detection_ids},
    )
    return set(result.scalars())


async def load_slots(session: AsyncSession, tenant_id: str, keys: list[str]) -> dict[str, OpenSlot]:
    result = await session.execute(
        text(
            "SELECT s.group_key, s.case_id, c.status, s.window_start, s.window_end, c.alert_count,"
            " c.deleted_at IS NOT NULL "
            "FROM grouping_slots s JOIN cases c ON c.id = s.case_id AND c.tenant_id = s.tenant_id "
            "WHERE s.tenant_id = :tenant AND s.group_key = ANY(CAST(:keys AS text[]))"
        ),
        {"tenant": tenant_id, "keys": keys},
    )
    return {row[0]: OpenSlot(*row) for row in result.all()}


# Its WHERE repeats the partial index's predicate (OPEN_CASES_OF_KEYS, which a test holds
# it to), so the planner can use that index.
OPEN_CASES_OF_KEYS_SQL = text(
    "SELECT c.group_key, c.id, c.status, c.first_event_at, c.last_event_at,"
    " c.alert_count, false FROM cases c"
    " JOIN unnest(CAST(:keys AS text[]), CAST(:lo AS timestamptz[]),"
    "  CAST(:hi AS timestamptz[])) AS k(name, lo, hi) ON c.group_key = k.name"
    " WHERE c.tenant_id = :tenant AND group_key IS NOT NULL AND deleted_at IS NULL"
    " AND status NOT IN ('resolved', 'closed', 'merged')"
    " AND c.status = ANY(CAST(:open AS text[]))"
    " AND c.last_event_at >= k.lo AND c.first_event_at <= k.hi"
)


async def open_cases_of_keys(
    session: AsyncSession, tenant_id: str, spans: dict[str, tuple[datetime, datetime]]
) -> dict[str, list[OpenSlot]]:
    """Per group key, its open cases whose alerts' event times reach into the key's span
    (the batch's detections of the key, widened by the window), with the case's span."""
    if not spans:
        return {}
    keys = sorted(spans)
    result = await session.execute(
        OPEN_CASES_OF_KEYS_SQL,
        {
            "tenant": tenant_id,
            "keys": keys,
            "lo": [spans[k][0] for k in keys],
            "hi": [spans[k][1] for k in keys],
            "open": sorted(OPEN_STATUSES),
        },
    )
    cases: dict[str, list[OpenSlot]] = defaultdict(list)
    for row in result.all():
        cases[row[0]].append(OpenSlot(*row))
    return cases


async def chain_candidates(
    session: AsyncSession, tenant_id: str, event_ids: list[str]
) -> list[ChainCandidate]:
    """Open cases holding an alert that matched one of these events (chain strategy). The
    case comes from the alert, so merges and splits are followed without an index update."""
    if not event_ids:
        return []
    result = await session.execute(
        text(
            "SELECT m.event_id, m.alert_id, c.id, c.number, c.first_event_at, c.last_event_at,"
            " c.alert_count FROM alert_matched_events m"
            " JOIN alerts a ON a.id = m.alert_id AND a.tenant_id = m.tenant_id"
            " JOIN cases c ON c.id = a.case_id AND c.tenant_id = a.tenant_id"
            " WHERE m.tenant_id = :tenant AND m.event_id = ANY(CAST(:events AS text[]))"
            " AND c.deleted_at IS NULL AND c.status = ANY(CAST(:open AS text[]))"
        ),
        {"tenant": tenant_id, "events": event_ids, "open": sorted(OPEN_STATUSES)},
    )
    return [ChainCandidate(*row) for row in result.all()]


async def save_slots(session: AsyncSession, tenant_id: str, slots: list[OpenSlot]) -> None:
    if not slots:
        return
    await session.execute(
        text(
            "INSERT INTO grouping_slots (tenant_id, group_key, case_id, window_start, window_end) "
            "VALUES (:tenant, :key, :case_id, :start, :end) "
            "ON CONFLICT (tenant_id, group_key) DO UPDATE SET case_id = EXCLUDED.case_id, "
            "window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end"
        ),
        [
            {
                "tenant": tenant_id,
                "key": slot.group_key,
                "case_id": slot.case_id,
                "start": slot.window_start,
                "end": slot.window_end,
            }
            for slot in slots
        ],
    )


@dataclass
class CountedRepeats:
    occurrences: int = 0
    alert_ids: list[uuid.UUID] = field(default_factory=list)  # the alerts whose count grew


async def count_repeats(
    session: AsyncSession, tenant_id: str, repeats: list[tuple[DetectionV1, str]]
) -> CountedRepeats:
    """Add each new occurrence to the count and last seen time of its alert, named by the
    alert's detection id (the repeat's own, or the fingerprint's first). An occurrence
    already counted (a redelivery), or the one that created the alert, adds nothing. Run
    after the batch's alerts are inserted."""
    counted = [(d, target) for d, target in repeats if d.occurrence_id]
    if not counted:
        return CountedRepeats()
    result = await session.execute(
        text(
            "WITH new AS ("
            " INSERT INTO detection_occurrences (tenant_id, occurrence_id, detection_id, seen_at)"
            " SELECT CAST(:tenant AS varchar), o.occurrence_id, o.detection_id, o.seen_at"
            " FROM unnest(CAST(:occurrences AS text[]), CAST(:detections AS text[]),"
            "  CAST(:seen AS timestamptz[])) AS o(occurrence_id, detection_id, seen_at)"
            " WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.tenant_id = CAST(:tenant AS varchar)"
            "  AND a.detection_id = o.detection_id AND a.occurrence_id = o.occurrence_id)"
            " ON CONFLICT (tenant_id, occurrence_id) DO NOTHING"
            " RETURNING detection_id, seen_at),"
            " per_alert AS (SELECT detection_id, count(*) AS n, max(seen_at) AS last"
            "  FROM new GROUP BY detection_id)"
            " UPDATE alerts SET occurrence_count = occurrence_count + per_alert.n,"
            "  last_seen = greatest(alerts.last_seen, per_alert.last)"
            " FROM per_alert WHERE alerts.tenant_id = CAST(:tenant AS varchar)"
            "  AND alerts.detection_id = per_alert.detection_id"
            " RETURNING alerts.id, per_alert.n"
        ),
        {
            "tenant": tenant_id,
            "occurrences": [d.occurrence_id for d, _ in counted],
            "detections": [target for _, target in counted],
            "seen": [d.ingested_at for d, _ in counted],
        },
    )
    rows = result.all()
    return CountedRepeats(sum(row.n for row in rows), [row.id for row in rows])


async def latest_by_fingerprint(
    session: AsyncSession, tenant_id: str, fingerprints: list[str]
) -> dict[str, Anchor]:
    """Per fingerprint, the stored alert with the latest event time."""
    if not fingerprints:
        return {}
    rows = await session.execute(
        text(
            "SELECT DISTINCT ON (fingerprint) fingerprint, detection_id, effective_time"
            " FROM alerts WHERE tenant_id = :tenant"
            " AND fingerprint = ANY(CAST(:fingerprints AS text[]))"
            " ORDER BY fingerprint, effective_time DESC"
        ),
        {"tenant": tenant_id, "fingerprints": fingerprints},
    )
    return {row[0]: Anchor(row[1], row[2]) for row in rows}
