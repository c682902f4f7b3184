"""The retention purger on real Postgres, with the cases API over real HTTP and its outbox
relay publishing to the real broker: what is purged (and everything with it), what is
kept (within retention, on legal hold, other tenants), the tombstones and the messages.
The purger's clock is moved ahead instead of waiting."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import ApiCredential, KafkaSettings
from services.cases.settings import RetentionPurgerSettings
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER, cases_settings, serve_cases
from tests.cases.retention_support import (
    POLICY,
    age_closure,
    close,
    published,
    purge_messages,
    purger,
    rows_of,
    set_retention,
    tombstones,
)
from tests.cases.test_merge import merge, three_cases
from tests.support.kafka import header, read_until

OTHER_ADMIN = {"authorization": "Bearer other-admin-key"}
PURGES = "/api/v1/admin/case-purges"


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The usual client, plus an admin of another tenant."""
    settings = cases_settings(kafka_settings, database_url, tenant)
    settings.cases.admin_api_keys.append(
        ApiCredential(key=SecretStr("other-admin-key"), tenant=f"{tenant}-other", name="mallory")
    )
    async with serve_cases(settings) as c:
        yield c


async def new_case(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> uuid.UUID:
    created = await client.post("/api/v1/cases", json={"title": "t"}, headers=headers or {})
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["id"])


async def test_retention_is_off_by_default_and_bounded(client: httpx.AsyncClient) -> None:
    policy = (await client.get(POLICY, headers=ADMIN_HEADERS)).json()
    assert (policy["version"], policy["retention_days"]) == (0, None)
    for days in (0, 3_651, "forever"):
        body = {"version": 0, "retention_days": days}
        refused = await client.put(POLICY, json=body, headers=ADMIN_HEADERS)
        assert refused.status_code == 422, days
    assert (await set_retention(client, 365))["retention_days"] == 365
    stored = (await client.get(POLICY, headers=ADMIN_HEADERS)).json()
    assert (stored["version"], stored["retention_days"]) == (1, 365)
    assert (await set_retention(client, None))["retention_days"] is None


async def test_a_closed_case_goes_with_everything_that_belongs_to_it(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    tenant: str,
    kafka_settings: KafkaSettings,
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    task = await client.post(f"/api/v1/cases/{h2['id']}/tasks", json={"title": "contain"})
    assert task.status_code == 201, task.text
    matched = "SELECT count(*) FROM alert_matched_events WHERE tenant_id = :t"
    async with transaction(sessions) as session:  # as chain grouping indexes its alerts
        await session.execute(
            text(
                "INSERT INTO alert_matched_events (tenant_id, event_id, alert_id) "
                "SELECT tenant_id, 'winlog:dc1/Security/42', id FROM alerts WHERE case_id = :c"
            ),
            {"c": h2["id"]},
        )
        assert await session.scalar(text(matched), {"t": tenant}) > 0
        await session.execute(  # an attachment's record (its object is not the purger's)
            text(
                "INSERT INTO case_attachments (id, tenant_id, case_id, filename, content_type,"
                " size_bytes, sha256, object_key, uploaded_by) VALUES (gen_random_uuid(), :t,"
                " :c, 'mail.eml', 'message/rfc822', 1, repeat('0', 64), :k, 'ana')"
            ),
            {"t": tenant, "c": h2["id"], "k": f"{tenant}/{h2['id']}/x"},
        )
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    family = [uuid.UUID(h1["id"]), uuid.UUID(h2["id"])]
    kept = uuid.UUID(h3["id"])
    for case_id in (family[0], kept):
        await close(client, case_id)
    await age_closure(sessions, family[0], timedelta(days=40))
    await set_retention(client, 30)
    await published(sessions, tenant)
    before = await rows_of(sessions, family)
    assert all(before[table] > 0 for table in before), before
    kept_before = await rows_of(sessions, [kept])

    result = await purger(sessions, days_ahead=0).purge_once()

    assert (result.purged, result.skipped) == (2, {})
    assert await rows_of(sessions, family) == dict.fromkeys(before, 0)
    async with transaction(sessions) as session:
        assert await session.scalar(text(matched), {"t": tenant}) == 0
    assert await rows_of(sessions, [kept]) == kept_before
    for case_id in family:
        gone = await client.get(f"/api/v1/cases/{case_id}")
        assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    alert = (await client.get(f"/api/v1/cases/{kept}")).json()["alerts"][0]
    assert (await client.get(f"/api/v1/alerts/{alert['id']}/why")).status_code == 200

    stones = await tombstones(sessions, tenant)
    assert set(stones) == set(family)
    root, merged = stones[family[0]], stones[family[1]]
    assert (root.basis, root.purged_with, root.case_number) == ("closed", None, h1["number"])
    assert (merged.basis, merged.purged_with) == ("merged", family[0])
    assert (root.retention_days, root.policy_version, root.purged_by) == (30, 1, "system:retention")
    assert {t: root.removed[t] + merged.removed[t] for t in before} == before

    for case_id in family:
        (message,) = await purge_messages(sessions, case_id)
        assert message.headers["ce_type"] == "casestream.case.purged.v1"
        assert message.payload["removed"] == stones[case_id].removed
    assert (message.payload["basis"], message.payload["purged_with"]) == ("merged", h1["id"])
    on_bus = await read_until(
        kafka_settings.bootstrap_servers,
        "cases.events.v1",
        lambda r: (
            r.key == h1["id"].encode() and header(r, "ce_type") == b"casestream.case.purged.v1"
        ),
        count=1,
    )
    assert header(on_bus[0], "ce_tenantid") == tenant.encode()

    listed = (await client.get(PURGES, headers=ADMIN_HEADERS)).json()["items"]
    assert {item["case_id"] for item in listed} == {str(c) for c in family}
    by_number = await client.get(PURGES, params={"number": h1["number"]}, headers=ADMIN_HEADERS)
    assert [item["basis"] for item in by_number.json()["items"]] == ["closed"]
    assert (await client.get(PURGES)).status_code == 403  # an analyst
    assert (await client.get(PURGES, headers=OTHER_ADMIN)).json()["items"] == []


async def test_cases_within_retention_open_or_of_other_tenants_are_kept(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    theirs = await new_case(client, outsider)
    for patch in ({"status": "resolved", "classification": "benign"}, {"status": "closed"}):
        moved = await client.patch(f"/api/v1/cases/{theirs}", json=patch, headers=outsider)
        assert moved.status_code == 200
    recent, still_open = await new_case(client), await new_case(client)
    await close(client, recent)
    await set_retention(client, 10)
    await published(sessions, tenant)

    result = await purger(sessions, days_ahead=9).purge_once()
    assert result.purged == 0
    assert (await client.get(f"/api/v1/cases/{recent}")).status_code == 200

    result = await purger(sessions, days_ahead=400).purge_once()
    # Ours is due now; the other tenant set no retention, and an open case never goes.
    assert (await client.get(f"/api/v1/cases/{recent}")).status_code == 404
    assert (await client.get(f"/api/v1/cases/{still_open}")).status_code == 200
    assert (await client.get(f"/api/v1/cases/{theirs}", headers=outsider)).status_code == 200
    assert set(await tombstones(sessions, tenant)) == {recent}


async def test_a_held_case_survives_the_purge_until_released(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    held = await new_case(client)
    await close(client, held)
    hold = {"reason": "litigation: matter 7"}
    path = f"/api/v1/cases/{held}/legal-hold"
    assert (await client.put(path, json=hold, headers=ADMIN_HEADERS)).status_code == 200
    await set_retention(client, 1)
    await published(sessions, tenant)

    assert (await purger(sessions, days_ahead=30).purge_once()).purged == 0
    kept = (await client.get(f"/api/v1/cases/{held}")).json()
    assert (kept["status"], kept["legal_hold"]) == ("closed", True)
    # opened, classified, resolved, closed, held
    assert (await rows_of(sessions, [held]))["case_events"] == 5

    released = await client.delete(path, params={"reason": "settled"}, headers=ADMIN_HEADERS)
    assert released.status_code == 200
    await published(sessions, tenant)
    assert (await purger(sessions, days_ahead=30).purge_once()).purged == 1
    assert (await client.get(f"/api/v1/cases/{held}")).status_code == 404
    assert (await rows_of(sessions, [held]))["case_events"] == 0


async def test_a_hold_on_a_merged_case_keeps_the_case_it_was_merged_into(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    target, source = await new_case(client), await new_case(client)
    assert (await merge(client, str(target), str(source))).status_code == 200
    path = f"/api/v1/cases/{source}/legal-hold"
    assert (await client.put(path, json={"reason": "x"}, headers=ADMIN_HEADERS)).status_code == 200
    await close(client, target)
    await set_retention(client, 1)
    await published(sessions, tenant)

    result = await purger(sessions, days_ahead=2).purge_once()
    assert (result.purged, result.skipped) == (0, {"held": 1})
    assert (await client.get(f"/api/v1/cases/{target}")).status_code == 200

    assert (await client.delete(path, params={"reason": "y"}, headers=ADMIN_HEADERS)).is_success
    await published(sessions, tenant)
    assert (await purger(sessions, days_ahead=2).purge_once()).purged == 2
    assert set(await tombstones(sessions, tenant)) == {target, source}


async def test_deleted_cases_go_after_retention_counted_from_deletion(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    deleted, restored = await new_case(client), await new_case(client)
    for case_id in (deleted, restored):
        response = await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
        assert response.status_code == 204
    restore = await client.post(f"/api/v1/cases/{restored}/restore", headers=ADMIN_HEADERS)
    assert restore.status_code == 200
    await set_retention(client, 10)
    await published(sessions, tenant)

    assert (await purger(sessions, days_ahead=9).purge_once()).purged == 0
    assert (await purger(sessions, days_ahead=11).purge_once()).purged == 1
    (stone,) = (await tombstones(sessions, tenant)).values()
    assert (stone.case_id, stone.basis, stone.closed_at) == (deleted, "deleted", None)
    assert stone.deleted_at is not None
    assert (await client.get(f"/api/v1/cases/{restored}")).status_code == 200


async def test_a_continuation_outlives_the_full_case_it_continued(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    full = await new_case(client)
    async with transaction(sessions) as session:
        new = NewCase(tenant_id=tenant, title="t", severity=Severity.LOW, continues_case_id=full)
        continuation, _ = await CaseStore("test").open_case(session, new, [], "system:alerting")
    await close(client, full)
    await set_retention(client, 1)
    await published(sessions, tenant)

    assert (await purger(sessions, days_ahead=2).purge_once()).purged == 1
    assert (await client.get(f"/api/v1/cases/{continuation.id}")).status_code == 200
    # It still says what it continued: the id now names a tombstone.
    async with sessions() as session:
        continued = await session.scalar(
            text("SELECT continues_case_id FROM cases WHERE id = :c"), {"c": continuation.id}
        )
    assert continued == full
    assert full in await tombstones(sessions, tenant)


async def test_the_cases_service_runs_the_purger_in_the_background(
    kafka_settings: KafkaSettings, database_url: str, sessions: SessionFactory, tenant: str
) -> None:
    running = RetentionPurgerSettings(enabled=True, interval_seconds=0.2)
    settings = cases_settings(kafka_settings, database_url, tenant, purger=running)
    async with serve_cases(settings) as client:
        case_id = await new_case(client)
        await close(client, case_id)
        await age_closure(sessions, case_id, timedelta(days=2))
        await set_retention(client, 1)
        async with asyncio.timeout(15):
            while True:
                if case_id in await tombstones(sessions, tenant):
                    break
                await asyncio.sleep(0.1)
        assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 404
