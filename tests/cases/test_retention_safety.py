"""What keeps the purge narrow and safe: the audit trail stays append-only for everyone
but a purge of that very case, two purgers never purge a case twice, batches are bounded,
a case waits until its events are on the bus, and no table is forgotten."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from libs.common.casestore.purge_repository import CASE_TABLES, DELETES, OUTBOX_TABLE
from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.db.models import metadata
from libs.common.settings import KafkaSettings
from tests.cases.conftest import ADMIN_HEADERS, cases_settings, serve_cases
from tests.cases.retention_support import (
    close,
    published,
    purge_messages,
    purger,
    rows_of,
    set_retention,
    tombstones,
)

# Tables with a case id that the purge deliberately leaves, and why.
NOT_THE_CASES_OWN = {
    "case_purges": "the tombstones themselves",
    "purged_attachment_objects": "purged attachments' objects still to delete from the bucket",
    "playbook_runs": "the executor's run history (no foreign key; the executor owns it)",
    "case_bulk_job_items": "the bulk job's record of what it did (no foreign key)",
}


async def opened(sessions: SessionFactory, tenant: str) -> uuid.UUID:
    async with transaction(sessions) as session:
        case, _ = await CaseStore("test").open_case(
            session, NewCase(tenant_id=tenant, title="t", severity=Severity.LOW), [], "tester"
        )
    return case.id


async def tombstone(sessions: SessionFactory, tenant: str, case_id: uuid.UUID) -> None:
    """A tombstone as a purge writes it first, without the purge."""
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "INSERT INTO case_purges (id, tenant_id, case_id, case_number, basis,"
                " retention_days, policy_version, purged_by, removed) VALUES (:id, :t, :c,"
                " 1, 'closed', 1, 1, 'mallory', '{}')"
            ),
            {"id": uuid.uuid4(), "t": tenant, "c": case_id},
        )


LICENCE = "SELECT set_config('casestream.purge_case_id', :licensed, true)"


@pytest.mark.parametrize(
    ("statement", "licensed", "with_tombstone", "held"),
    [
        # An ordinary delete, and every partial imitation of the purge's licence.
        ("DELETE FROM case_events WHERE case_id = :case_id", None, False, False),
        ("DELETE FROM case_events WHERE case_id = :case_id", "this", False, False),
        ("DELETE FROM case_events WHERE case_id = :case_id", None, True, False),
        ("DELETE FROM case_events WHERE case_id = :case_id", "other", True, False),
        ("DELETE FROM case_events WHERE case_id = :case_id", "this", True, True),
        # Changing events stays refused, licence or not.
        ("UPDATE case_events SET actor = 'mallory' WHERE case_id = :case_id", "this", True, False),
        ("TRUNCATE case_events CASCADE", "this", True, False),
    ],
)
async def test_the_audit_trail_stays_append_only_outside_a_purge(
    sessions: SessionFactory,
    tenant: str,
    statement: str,
    licensed: str | None,
    with_tombstone: bool,
    held: bool,
) -> None:
    case_id = await opened(sessions, tenant)
    if with_tombstone:
        await tombstone(sessions, tenant, case_id)
    if held:
        async with transaction(sessions) as session:
            await CaseStore("test").set_legal_hold(session, tenant, case_id, "root", "keep")
    names = {"this": str(case_id), "other": str(uuid.uuid4())}
    with pytest.raises(DBAPIError, match="append-only"):
        async with transaction(sessions) as session:
            if licensed is not None:
                await session.execute(text(LICENCE), {"licensed": names[licensed]})
            await session.execute(text(statement), {"case_id": case_id})
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM case_events WHERE case_id = :c"), {"c": case_id}
        )
    assert count == (2 if held else 1)


async def test_the_licence_ends_with_its_transaction(sessions: SessionFactory, tenant: str) -> None:
    case_id = await opened(sessions, tenant)
    await tombstone(sessions, tenant, case_id)
    async with sessions() as session:
        async with session.begin():
            await session.execute(text(LICENCE), {"licensed": str(case_id)})
        # Same connection, next transaction: the setting is gone.
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin():
                await session.execute(
                    text("DELETE FROM case_events WHERE case_id = :c"), {"c": case_id}
                )


async def test_two_purgers_purge_each_case_once_in_bounded_batches(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    cases = []
    for _ in range(5):
        created = await client.post("/api/v1/cases", json={"title": "t"})
        cases.append(uuid.UUID(created.json()["id"]))
        await close(client, cases[-1])
    await set_retention(client, 1)
    await published(sessions, tenant)

    first, second = purger(sessions, 2, batch_size=2), purger(sessions, 2, batch_size=2)
    rounds = list(await asyncio.gather(first.purge_once(), second.purge_once()))
    assert all(r.purged <= 2 and r.full == (r.purged == 2) for r in rounds)
    while sum(r.purged for r in rounds) < 5:
        rounds.append(await first.purge_once())
        assert rounds[-1].purged > 0, rounds
    assert sum(r.purged for r in rounds) == 5
    assert set(await tombstones(sessions, tenant)) == set(cases)
    for case_id in cases:
        assert len(await purge_messages(sessions, case_id)) == 1
    assert (await first.purge_once()).purged == 0  # nothing left: idempotent


async def test_a_case_waits_until_its_events_are_published(
    kafka_settings: KafkaSettings, database_url: str, sessions: SessionFactory, tenant: str
) -> None:
    settings = cases_settings(kafka_settings, database_url, tenant)
    settings.outbox.enabled = False  # no relay: the case's events stay in the outbox
    async with serve_cases(settings) as client:
        created = await client.post("/api/v1/cases", json={"title": "t"})
        case_id = uuid.UUID(created.json()["id"])
        await close(client, case_id)
        await set_retention(client, 1)
        result = await purger(sessions, 2).purge_once()
        assert (result.purged, result.skipped) == (0, {"unpublished": 1})
        assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 200
        assert (await rows_of(sessions, [case_id]))["case_events"] == 4
        assert (await client.get("/api/v1/admin/case-purges", headers=ADMIN_HEADERS)).json() == {
            "items": []
        }


def test_every_table_pointing_at_cases_is_purged_or_deliberately_kept() -> None:
    """A new table with a foreign key to cases (or a case_id) must join the purge."""
    pointing: dict[str, set[str]] = {}
    for table in metadata.sorted_tables:
        if table.name == "cases":
            continue  # merged_into: the merge family is purged together
        for key in table.foreign_keys:
            if key.column.table.name == "cases":
                pointing.setdefault(table.name, set()).add(key.parent.name)
        if "case_id" in table.c and table.name not in NOT_THE_CASES_OWN:
            pointing.setdefault(table.name, set()).add("case_id")
    purged = {table: set(columns) for table, columns in CASE_TABLES.items()}
    purged["case_events"] = {"case_id"}
    assert pointing == purged
    assert list(DELETES) == [*CASE_TABLES, OUTBOX_TABLE]
