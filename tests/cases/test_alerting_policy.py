"""A tenant's alerting policy through the admin API, and alerting applying it: strategy,
window, severity thresholds, the per-case cap with continuation cases, versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1, MitreV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import ApiCredential, DatabaseSettings, KafkaSettings
from services.alerting.service import GroupingService
from services.cases.app import create_app
from services.cases.settings import CasesSection, CasesSettings, SlaScannerSettings
from tests.support.detections import detection, host_rule_policy
from tests.support.http_server import serve

ADMIN, ANALYST, OTHER_ADMIN = "policy-admin", "policy-analyst", "other-admin"
GROUPING = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())


@pytest.fixture
async def api(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = CasesSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        cases=CasesSection(
            api_keys=[ApiCredential(key=SecretStr(ANALYST), tenant=tenant, name="ana")],
            admin_api_keys=[
                ApiCredential(key=SecretStr(ADMIN), tenant=tenant, name="soc-lead"),
                ApiCredential(key=SecretStr(OTHER_ADMIN), tenant=f"{tenant}-x", name="eve"),
            ],
            sla_scanner=SlaScannerSettings(enabled=False),  # it scans every tenant
        ),
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def as_key(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def put_policy(api: httpx.AsyncClient, policy: dict[str, Any]) -> httpx.Response:
    return await api.put("/api/v1/admin/alerting-policy", json=policy, headers=as_key(ADMIN))


async def cases_of(sessions: SessionFactory, tenant: str) -> list[Any]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT c.id, c.group_key, c.severity, c.alert_count, c.continues_case_id,"
                " c.title FROM cases c WHERE c.tenant_id = :t ORDER BY c.number"
            ),
            {"t": tenant},
        )
        return list(rows)


async def process(sessions: SessionFactory, batch: list[DetectionV1]) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(session, batch)


async def test_only_the_tenants_admins_read_and_write_the_policy(api: httpx.AsyncClient) -> None:
    default = await api.get("/api/v1/admin/alerting-policy", headers=as_key(ADMIN))
    assert default.status_code == 200
    assert default.json()["version"] == 0
    assert default.json()["policy"]["severity"] == {"critical": 8, "high": 5, "medium": 3}
    for key in (ANALYST, "nonsense"):
        refused = await api.get("/api/v1/admin/alerting-policy", headers=as_key(key))
        assert refused.status_code == 401
    assert (await put_policy(api, {"grouping": {"strategy": "technique"}})).status_code == 201
    other = await api.get("/api/v1/admin/alerting-policy", headers=as_key(OTHER_ADMIN))
    assert other.json()["version"] == 0  # another tenant's policy is untouched


async def test_a_bad_policy_is_refused_naming_the_problem(api: httpx.AsyncClient) -> None:
    for policy, problem in (
        ({"grouping": {"windw_seconds": 60}}, "Extra inputs are not permitted"),
        ({"grouping": {"window_seconds": 8 * 86_400}}, "less than or equal to 604800"),
        ({"grouping": {"strategy": "astrology"}}, "Input should be"),
        ({"severity": {"critical": 2, "high": 5}}, "critical >= high >= medium"),
    ):
        response = await put_policy(api, policy)
        assert response.status_code == 422
        assert problem in str(response.json()["details"]["errors"])


async def test_alerting_applies_the_newest_version(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    first = await put_policy(
        api,
        {
            "severity": {"critical": 9, "high": 7, "medium": 4},
            "grouping": {"strategy": "technique", "window_seconds": 7200},
        },
    )
    assert (first.json()["version"], first.json()["created_by"]) == (1, "soc-lead")
    mitre = MitreV1(techniques=["T1059.001"])
    batch = [
        detection(tenant, f"d{n}", host=f"h{n}").model_copy(
            update={"mitre": mitre, "priority": priority}
        )
        for n, priority in enumerate((4, 8))
    ]
    await process(sessions, batch)
    (case,) = await cases_of(sessions, tenant)  # two hosts, one technique: one case
    assert (case.group_key, case.severity, case.alert_count) == ("technique=T1059.001", "high", 2)
    async with sessions() as session:
        grouping = await session.scalar(
            text("SELECT grouping FROM alerts WHERE tenant_id = :t AND detection_id = 'd1'"),
            {"t": tenant},
        )
    assert (grouping["policy_version"], grouping["strategy"]) == (1, "technique")
    assert grouping["window"]["seconds"] == 7200
    assert grouping["severity"] == {"priority": 8, "source_severity": "medium", "assigned": "high"}

    assert (await put_policy(api, {})).json()["version"] == 2
    history = await api.get("/api/v1/admin/alerting-policy/versions", headers=as_key(ADMIN))
    assert [v["version"] for v in history.json()] == [2, 1]
    await process(
        sessions, [detection(tenant, "d9", host="h0").model_copy(update={"mitre": mitre})]
    )
    assert [c.group_key for c in await cases_of(sessions, tenant)] == [
        "technique=T1059.001",
        "entity:host=h0",  # version 2 is the default strategy again
    ]


async def test_a_full_case_continues_in_a_linked_case(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await put_policy(api, {"grouping": {"max_alerts_per_case": 2}})
    await process(sessions, [detection(tenant, "a0", minutes=0)])
    await process(sessions, [detection(tenant, f"a{n}", minutes=n) for n in range(1, 5)])
    first, second, third = await cases_of(sessions, tenant)
    assert [c.alert_count for c in (first, second, third)] == [2, 2, 1]
    assert (second.continues_case_id, third.continues_case_id) == (first.id, second.id)
    assert second.title.endswith("(continued)")
    async with sessions() as session:
        opened = await session.scalar(
            text("SELECT payload FROM case_events WHERE case_id = :c AND type = 'case.opened'"),
            {"c": third.id},
        )
    assert opened["continues_case_id"] == str(second.id)
    # The next detection of the key joins the newest case, not the full ones.
    await process(sessions, [detection(tenant, "a5", minutes=5)])
    assert [c.alert_count for c in await cases_of(sessions, tenant)] == [2, 2, 2]


async def test_a_finished_case_is_reopened_when_the_policy_says_so(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await put_policy(api, {"grouping": {"on_closed": "reopen", "window_seconds": 3600}})
    await process(sessions, [detection(tenant, "first", minutes=0)])
    (case,) = await cases_of(sessions, tenant)
    analyst = as_key(ANALYST)
    closed = await api.patch(
        f"/api/v1/cases/{case.id}",
        json={"status": "closed", "classification": "true_positive"},
        headers=analyst,
    )
    assert closed.status_code == 200, closed.text
    await process(sessions, [detection(tenant, "again", minutes=20)])
    await process(sessions, [detection(tenant, "much-later", minutes=200)])  # outside: new
    first, later = await cases_of(sessions, tenant)
    assert (first.id, first.alert_count, later.alert_count) == (case.id, 2, 1)
    detail = (await api.get(f"/api/v1/cases/{case.id}", headers=analyst)).json()
    assert (detail["status"], detail["closed_at"]) == ("in_progress", None)
    async with sessions() as session:
        events = (
            await session.execute(
                text("SELECT type, actor FROM case_events WHERE case_id = :c ORDER BY seq"),
                {"c": case.id},
            )
        ).all()
        why = await session.scalar(
            text("SELECT grouping FROM alerts WHERE tenant_id = :t AND detection_id = 'again'"),
            {"t": tenant},
        )
    assert [tuple(e) for e in events][-2:] == [
        ("case.reopened", "system:alerting"),
        ("case.alert_attached", "system:alerting"),
    ]
    assert (why["decision"], why["reason"]) == ("joined_case", "reopened_case")


async def test_what_may_not_open_a_case_joins_one_or_is_kept_without_one(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await put_policy(
        api,
        {
            "case_creation": {
                "mode": "tailored",
                "rules": ["lsass-dump"],
                "categories": ["impact"],
                "min_severity": "medium",
            },
            "grouping": {"strategy": "host+rule", "window_seconds": 3600},
        },
    )
    noise = detection(tenant, "noise", rule="port-scan", minutes=0)
    low = detection(tenant, "low", rule="lsass-dump", minutes=1).model_copy(update={"priority": 1})
    wanted = detection(tenant, "wanted", rule="lsass-dump", minutes=2)
    late_low = detection(tenant, "late-low", rule="lsass-dump", minutes=3).model_copy(
        update={"priority": 1}
    )
    by_tactic = detection(tenant, "wiper", rule="wiper", minutes=4).model_copy(
        update={"mitre": MitreV1(tactics=["impact"])}
    )
    await process(sessions, [noise, low, wanted, late_low, by_tactic])
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT detection_id, case_id, grouping->>'decision' AS decision,"
                " grouping->>'reason' AS reason FROM alerts WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
        alerts = {r.detection_id: r for r in rows}
    assert len(alerts) == 5  # nothing dropped
    assert (alerts["noise"].case_id, alerts["noise"].reason) == (None, "not_tailored")
    assert (alerts["low"].case_id, alerts["low"].reason) == (None, "below_min_severity")
    assert alerts["low"].decision == "no_case"
    # Once a case is open, what could not open one still joins it.
    assert alerts["late-low"].case_id == alerts["wanted"].case_id is not None
    assert alerts["wiper"].case_id is not None
    assert len(await cases_of(sessions, tenant)) == 2
    analyst = as_key(ANALYST)
    alert_id = await session_alert_id(sessions, tenant, "noise")
    why = (await api.get(f"/api/v1/alerts/{alert_id}/why", headers=analyst)).json()
    assert why["case"] is None
    assert (why["grouping"]["decision"], why["grouping"]["reason"]) == ("no_case", "not_tailored")


async def test_tailored_mode_must_name_something(api: httpx.AsyncClient) -> None:
    response = await put_policy(api, {"case_creation": {"mode": "tailored"}})
    assert response.status_code == 422
    assert "at least one rule or category" in str(response.json())


async def session_alert_id(sessions: SessionFactory, tenant: str, detection_id: str) -> str:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT id FROM alerts WHERE tenant_id = :t AND detection_id = :d"),
            {"t": tenant, "d": detection_id},
        )
    return str(found)


async def test_a_stored_chain_policy_joins_detections_of_one_event(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    refused = await put_policy(api, {"grouping": {"strategy": "chain", "chain_fallback": "x"}})
    assert refused.status_code == 422
    assert "chain_fallback" in str(refused.json()["details"]["errors"])
    stored = await put_policy(
        api, {"grouping": {"strategy": "chain", "chain_fallback": "new_case"}}
    )
    assert stored.status_code == 201
    on_event = [
        detection(tenant, n, host=h).model_copy(update={"matched_event_ids": ["zeek-conn:C1"]})
        for n, h in (("a", "h1"), ("b", "h2"))
    ]
    await process(sessions, on_event[:1])
    await process(sessions, [*on_event[1:], detection(tenant, "alone", host="h1")])
    cases = await cases_of(sessions, tenant)
    assert sorted(c.alert_count for c in cases) == [1, 2]  # a+b by the event; alone its own
