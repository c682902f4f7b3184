"""SQL of alerting policies: append a version, read the newest. Tenant-filtered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts.detections import DetectionV1
from libs.common.policies.alerting import DEFAULT_POLICY, AlertingPolicy
from libs.common.policies.backtest import StoredDetection


@dataclass(frozen=True)
class PolicyVersion:
    version: int  # 0: the built-in default, never stored
    policy: AlertingPolicy
    created_at: datetime | None
    created_by: str | None


async def current_policy(session: AsyncSession, tenant_id: str) -> PolicyVersion:
    row = (
        await session.execute(
            text(
                "SELECT version, policy, created_at, created_by FROM alerting_policies"
                " WHERE tenant_id = :tenant ORDER BY version DESC LIMIT 1"
            ),
            {"tenant": tenant_id},
        )
    ).first()
    if row is None:
        return PolicyVersion(0, DEFAULT_POLICY, None, None)
    return PolicyVersion(
        row.version, AlertingPolicy.model_validate(row.policy), row.created_at, row.created_by
    )


async def policy_history(session: AsyncSession, tenant_id: str, limit: int) -> list[PolicyVersion]:
    rows = await session.execute(
        text(
            "SELECT version, policy, created_at, created_by FROM alerting_policies"
            " WHERE tenant_id = :tenant ORDER BY version DESC LIMIT :limit"
        ),
        {"tenant": tenant_id, "limit": limit},
    )
    return [
        PolicyVersion(
            r.version, AlertingPolicy.model_validate(r.policy), r.created_at, r.created_by
        )
        for r in rows
    ]


async def append_policy(
    session: AsyncSession, tenant_id: str, policy: AlertingPolicy, actor: str
) -> PolicyVersion:
    """The next version; two concurrent writers get consecutive versions (the primary key
    refuses a second row with the same number, and the lock makes them wait instead)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('alerting_policy:' || :tenant, 0))"),
        {"tenant": tenant_id},
    )
    row = (
        await session.execute(
            text(
                "INSERT INTO alerting_policies (tenant_id, version, policy, created_by)"
                " SELECT CAST(:tenant AS varchar), coalesce(max(version), 0) + 1,"
                " CAST(:policy AS jsonb), :actor"
                " FROM alerting_policies WHERE tenant_id = CAST(:tenant AS varchar)"
                " RETURNING version, created_at"
            ),
            {"tenant": tenant_id, "policy": policy.model_dump_json(), "actor": actor},
        )
    ).one()
    return PolicyVersion(row.version, policy, row.created_at, actor)


async def stored_detections(
    session: AsyncSession, tenant_id: str, start: datetime, end: datetime, limit: int
) -> list[StoredDetection]:
    """The tenant's stored detections with event time in [start, end), oldest first, at
    most `limit` (the caller asks for one more to tell that the range was too large)."""
    rows = await session.execute(
        text(
            "SELECT case_id, detection FROM alerts WHERE tenant_id = :tenant"
            " AND effective_time >= :start AND effective_time < :end"
            " ORDER BY effective_time LIMIT :limit"
        ),
        {"tenant": tenant_id, "start": start, "end": end, "limit": limit},
    )
    # The detection is stored as text (db.columns.JSONText), validated from its JSON here.
    return [
        StoredDetection(DetectionV1.from_wire(row.detection.encode()), row.case_id) for row in rows
    ]
