"""SQL of entity verdicts. Tenant-filtered; an expired verdict is as good as none."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import EntityVerdict
from libs.common.verdicts.model import EntityKey, Verdict


async def active_verdicts(
    session: AsyncSession, tenant_id: str, keys: Iterable[EntityKey]
) -> dict[EntityKey, Verdict]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    # Most tenants judge few entities: ask first whether there is anything to match
    # before sending a batch's thousands of entity values.
    any_verdict = await session.scalar(
        text("SELECT 1 FROM entity_verdicts WHERE tenant_id = :tenant LIMIT 1"),
        {"tenant": tenant_id},
    )
    if any_verdict is None:
        return {}
    rows = await session.execute(
        text(
            "SELECT v.entity_type, v.value, v.verdict FROM entity_verdicts v"
            " JOIN unnest(CAST(:types AS text[]), CAST(:values AS text[])) AS k(t, val)"
            " ON v.entity_type = k.t AND v.value = k.val"
            " WHERE v.tenant_id = :tenant AND (v.expires_at IS NULL OR v.expires_at > now())"
        ),
        {"tenant": tenant_id, "types": [k[0] for k in wanted], "values": [k[1] for k in wanted]},
    )
    return {(row[0], row[1]): Verdict(row[2]) for row in rows}


async def get_verdict(
    session: AsyncSession, tenant_id: str, key: EntityKey
) -> EntityVerdict | None:
    return await session.get(EntityVerdict, (tenant_id, key[0], key[1]))


async def set_verdict(
    session: AsyncSession,
    tenant_id: str,
    key: EntityKey,
    verdict: Verdict,
    actor: str,
    reason: str | None,
    expires_at: datetime | None,
) -> EntityVerdict:
    row = (
        await session.execute(
            text(
                "INSERT INTO entity_verdicts"
                " (tenant_id, entity_type, value, verdict, reason, set_by, expires_at)"
                " VALUES (:tenant, :type, :value, :verdict, :reason, :actor, :expires)"
                " ON CONFLICT (tenant_id, entity_type, value) DO UPDATE SET"
                " verdict = EXCLUDED.verdict, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by,"
                " set_at = now(), expires_at = EXCLUDED.expires_at"
                " RETURNING set_at"
            ),
            {
                "tenant": tenant_id,
                "type": key[0],
                "value": key[1],
                "verdict": verdict.value,
                "reason": reason,
                "actor": actor,
                "expires": expires_at,
            },
        )
    ).one()
    return EntityVerdict(
        tenant_id=tenant_id,
        entity_type=key[0],
        value=key[1],
        verdict=verdict.value,
        reason=reason,
        set_by=actor,
        set_at=row.set_at,
        expires_at=expires_at,
    )


async def delete_verdict(session: AsyncSession, tenant_id: str, key: EntityKey) -> bool:
    result = await session.execute(
        text(
            "DELETE FROM entity_verdicts WHERE tenant_id = :tenant AND entity_type = :type"
            " AND value = :value RETURNING 1"
        ),
        {"tenant": tenant_id, "type": key[0], "value": key[1]},
    )
    return result.first() is not None


async def open_cases_with_entity(
    session: AsyncSession, tenant_id: str, key: EntityKey, open_statuses: list[str], limit: int
) -> list[tuple[str, str]]:
    """(case id, severity) of the tenant's open, undeleted cases whose alerts carry it."""
    rows = await session.execute(
        text(
            "SELECT c.id::text, c.severity FROM case_entities e JOIN cases c"
            " ON c.id = e.case_id AND c.tenant_id = e.tenant_id"
            " WHERE e.tenant_id = :tenant AND e.entity_type = :type AND e.value = :value"
            " AND c.deleted_at IS NULL AND c.status = ANY(CAST(:statuses AS text[]))"
            " ORDER BY c.created_at LIMIT :limit"
        ),
        {
            "tenant": tenant_id,
            "type": key[0],
            "value": key[1],
            "statuses": open_statuses,
            "limit": limit,
        },
    )
    return [(row[0], row[1]) for row in rows]
