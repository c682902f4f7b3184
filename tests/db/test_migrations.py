"""The migrations build exactly the schema the models describe, and the audit timeline
is append-only at the database level."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.db.models import metadata


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        drift = await connection.run_sync(diff)
    assert drift == [], f"models and migrations differ; add a migration: {drift}"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE case_events SET actor = 'mallory' WHERE case_id = :case_id",
        "DELETE FROM case_events WHERE case_id = :case_id",
        "TRUNCATE case_events CASCADE",
    ],
)
async def test_audit_timeline_refuses_changes(
    sessions: SessionFactory, tenant: str, statement: str
) -> None:
    async with transaction(sessions) as session:
        case, _ = await CaseStore("test").open_case(
            session, NewCase(tenant_id=tenant, title="t", severity=Severity.LOW), [], "tester"
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with transaction(sessions) as session:
            await session.execute(text(statement), {"case_id": case.id})
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM case_events WHERE case_id = :c"), {"c": case.id}
        )
    assert count == 1
