"""SQL of correlation: key locks, the contribution ledger and key states. Every statement
filters on the tenant. A key is (rule id, sha256 of the entity key)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.group_locks import lock_group_keys
from libs.common.contracts.detections import DetectionV1
from libs.common.db.jsonb import SerializedJSON
from libs.common.db.models import CorrelationState

Key = tuple[str, str]  # (rule id, key digest)


@dataclass(frozen=True)
class Contribution:
    rule_id: str
    key_digest: str
    detection_id: str
    event_time: datetime


@dataclass(frozen=True)
class StateRow:
    rule_id: str
    key_digest: str
    entity_key: str
    state: SerializedJSON
    due_at: datetime | None


def _keys(keys: Sequence[Key]) -> dict[str, list[str]]:
    return {"rules": [k[0] for k in keys], "digests": [k[1] for k in keys]}


async def lock_keys(session: AsyncSession, tenant_id: str, keys: Iterable[Key]) -> None:
    """Advisory transaction locks, in one ascending order shared with grouping's locks
    (same id function, a prefix keeps the names apart), so instances never deadlock."""
    names = [f"correlation\x00{rule_id}\x00{digest}" for rule_id, digest in keys]
    if names:
        await lock_group_keys(session, tenant_id, names)


async def record_contributions(
    session: AsyncSession, tenant_id: str, rows: Sequence[Contribution]
) -> set[tuple[str, str, str]]:
    """Add to the ledger; returns the (rule, digest, detection) rows that are new. A row
    that was there already is a detection counted before: a redelivery."""
    if not rows:
        return set()
    result = await session.execute(
        text(
            "INSERT INTO correlation_contributions "
            "(tenant_id, rule_id, key_digest, detection_id, event_time) "
            "SELECT :tenant, r, k, d, t FROM unnest(CAST(:rules AS text[]), "
            "CAST(:digests AS text[]), CAST(:ids AS text[]), CAST(:times AS timestamptz[])) "
            "AS u(r, k, d, t) ON CONFLICT DO NOTHING "
            "RETURNING rule_id, key_digest, detection_id"
        ),
        {
            "tenant": tenant_id,
            "rules": [r.rule_id for r in rows],
            "digests": [r.key_digest for r in rows],
            "ids": [r.detection_id for r in rows],
            "times": [r.event_time for r in rows],
        },
    )
    return {(row[0], row[1], row[2]) for row in result.all()}


async def load_states(
    session: AsyncSession, tenant_id: str, keys: Sequence[Key]
) -> dict[Key, dict[str, Any]]:
    if not keys:
        return {}
    result = await session.execute(
        text(
            "SELECT s.rule_id, s.key_digest, s.state FROM correlation_states s "
            "JOIN unnest(CAST(:rules AS text[]), CAST(:digests AS text[])) "
            "AS k(rule_id, key_digest) USING (rule_id, key_digest) WHERE s.tenant_id = :tenant"
        ),
        {"tenant": tenant_id, **_keys(keys)},
    )
    return {(row[0], row[1]): row[2] for row in result.all()}


async def save_states(session: AsyncSession, tenant_id: str, rows: Sequence[StateRow]) -> None:
    if not rows:
        return
    statement = insert(CorrelationState)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "rule_id", "key_digest"],
        set_={
            "state": statement.excluded.state,
            "due_at": statement.excluded.due_at,
            "updated_at": func.now(),
        },
    )
    await session.execute(
        statement,
        [
            {
                "tenant_id": tenant_id,
                "rule_id": row.rule_id,
                "key_digest": row.key_digest,
                "entity_key": row.entity_key,
                "state": row.state,
                "due_at": row.due_at,
            }
            for row in rows
        ],
    )


async def prune_contributions(
    session: AsyncSession, tenant_id: str, horizons: Sequence[tuple[str, str, datetime]]
) -> None:
    """Forget ledger rows a key's state no longer reaches back to."""
    if not horizons:
        return
    await session.execute(
        text(
            "DELETE FROM correlation_contributions c USING unnest(CAST(:rules AS text[]), "
            "CAST(:digests AS text[]), CAST(:horizons AS timestamptz[])) AS h(r, k, before) "
            "WHERE c.tenant_id = :tenant AND c.rule_id = h.r AND c.key_digest = h.k "
            "AND c.event_time < h.before"
        ),
        {
            "tenant": tenant_id,
            "rules": [h[0] for h in horizons],
            "digests": [h[1] for h in horizons],
            "horizons": [h[2] for h in horizons],
        },
    )


async def due_keys(
    session: AsyncSession, tenant_id: str, rule_ids: Sequence[str], watermark: datetime, limit: int
) -> dict[Key, str]:
    """Keys of `rule_ids` whose decision time the watermark has reached, with their
    entity keys; the earliest first."""
    if not rule_ids:
        return {}
    result = await session.execute(
        text(
            "SELECT rule_id, key_digest, entity_key FROM correlation_states "
            "WHERE tenant_id = :tenant AND due_at <= :watermark "
            "AND rule_id = ANY(CAST(:rules AS text[])) ORDER BY due_at LIMIT :limit"
        ),
        {"tenant": tenant_id, "watermark": watermark, "rules": list(rule_ids), "limit": limit},
    )
    return {(row[0], row[1]): row[2] for row in result.all()}


async def stale_keys(
    session: AsyncSession,
    tenant_id: str,
    idle: timedelta,
    waiting_rules: Sequence[str],
    limit: int,
) -> list[Key]:
    """Keys untouched (wall clock) for `idle`, except those still waiting for a decision
    of a configured rule. Candidates only: `drop_stale` checks again under the lock."""
    if limit <= 0:
        return []
    result = await session.execute(
        text(
            "SELECT rule_id, key_digest FROM correlation_states WHERE tenant_id = :tenant "
            "AND updated_at < now() - CAST(:idle AS interval) "
            "AND (due_at IS NULL OR rule_id <> ALL(CAST(:waiting AS text[]))) LIMIT :limit"
        ),
        {"tenant": tenant_id, "idle": idle, "waiting": list(waiting_rules), "limit": limit},
    )
    return [(row[0], row[1]) for row in result.all()]


async def drop_stale(
    session: AsyncSession, tenant_id: str, keys: Sequence[Key], idle: timedelta
) -> None:
    """Delete stale keys' states and ledger rows (under their locks)."""
    if not keys:
        return
    await session.execute(
        text(
            "WITH gone AS (DELETE FROM correlation_states s USING "
            "unnest(CAST(:rules AS text[]), CAST(:digests AS text[])) AS k(rule_id, key_digest) "
            "WHERE s.tenant_id = :tenant AND s.rule_id = k.rule_id "
            "AND s.key_digest = k.key_digest "
            "AND s.updated_at < now() - CAST(:idle AS interval) "
            "RETURNING s.rule_id, s.key_digest) "
            "DELETE FROM correlation_contributions c USING gone "
            "WHERE c.tenant_id = :tenant AND c.rule_id = gone.rule_id "
            "AND c.key_digest = gone.key_digest"
        ),
        {"tenant": tenant_id, "idle": idle, **_keys(keys)},
    )


async def stored_detections(
    session: AsyncSession, tenant_id: str, detection_ids: Sequence[str]
) -> dict[str, DetectionV1]:
    """Contributing detections as alerting stored them (grouping ran first in this
    transaction, so this batch's detections are there too)."""
    if not detection_ids:
        return {}
    result = await session.execute(
        text(
            "SELECT detection_id, detection FROM alerts "
            "WHERE tenant_id = :tenant AND detection_id = ANY(CAST(:ids AS text[]))"
        ),
        {"tenant": tenant_id, "ids": sorted(set(detection_ids))},
    )
    # Stored as its JSON text (db.columns.JSONText).
    return {row[0]: DetectionV1.from_wire(row[1].encode()) for row in result.all()}
