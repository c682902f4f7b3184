"""The case report over real HTTP and Postgres: cases opened through the API, their
timestamps then set to known values, and the averages, medians, compliance shares, rates
and groups checked to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from libs.common.db.engine import SessionFactory
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.cases.timestamps import open_case, set_columns

REPORT = "/api/v1/reports/cases"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD = {"start": T0.isoformat(), "end": (T0 + timedelta(days=7)).isoformat()}
OUTSIDER_HEADERS = {"authorization": f"Bearer {OUTSIDER}"}


async def add_case(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    created: datetime,
    *,
    ack: int | None = None,
    resolve: int | None = None,
    ack_due: int | None = None,
    resolve_due: int | None = None,
    rule_id: str | None = None,
    assignee: str | None = None,
    classification: str = "pending",
    headers: dict[str, str] | None = None,
) -> str:
    """A case created at `created`, acknowledged/resolved and due the given seconds after."""
    case_id = await open_case(client, assignee=assignee, headers=headers)

    def after(seconds: int | None) -> datetime | None:
        return None if seconds is None else created + timedelta(seconds=seconds)

    await set_columns(
        sessions,
        case_id,
        created_at=created,
        acknowledged_at=after(ack),
        resolved_at=after(resolve),
        ack_due_at=after(ack_due),
        resolve_due_at=after(resolve_due),
        rule_id=rule_id,
        classification=classification,
    )
    return case_id


async def seed_period(client: httpx.AsyncClient, sessions: SessionFactory) -> None:
    day = timedelta(days=1)
    # A: ack met, resolve missed. B: ack missed, resolve met. C: no due times (left out of
    # compliance), never resolved. D: never acknowledged. E: both met exactly on time.
    await add_case(client, sessions, T0, ack=60, resolve=600, ack_due=120, resolve_due=500,
                   rule_id="r1", assignee="alice", classification="true_positive")  # fmt: skip
    await add_case(client, sessions, T0 + day, ack=180, resolve=1200, ack_due=120,
                   resolve_due=3600, rule_id="r1", assignee="alice",
                   classification="false_positive")  # fmt: skip
    await add_case(client, sessions, T0 + 2 * day, ack=300, rule_id="r2")
    await add_case(client, sessions, T0 + 3 * day, ack_due=60, resolve_due=600, rule_id="r1",
                   assignee="bob", classification="benign")  # fmt: skip
    await add_case(client, sessions, T0 + 4 * day, ack=120, resolve=300, ack_due=120,
                   resolve_due=300, assignee="bob", classification="true_positive")  # fmt: skip
    # Outside [start, end): on the end bound and a second before the start.
    for created in (T0 + 7 * day, T0 - timedelta(seconds=1)):
        await add_case(client, sessions, created, ack=5, resolve=5, rule_id="r1",
                       classification="true_positive")  # fmt: skip
    # Deleted: would drag every figure if counted.
    deleted = await add_case(client, sessions, T0 + day, ack=99_999, resolve=99_999,
                             ack_due=1, resolve_due=1, rule_id="r2",
                             classification="false_positive")  # fmt: skip
    gone = await client.delete(f"/api/v1/cases/{deleted}", headers=ADMIN_HEADERS)
    assert gone.status_code == 204, gone.text
    # Another tenant's case in the same period.
    await add_case(client, sessions, T0 + day, ack=7, resolve=7, ack_due=1, resolve_due=1,
                   rule_id="r1", classification="false_positive",
                   headers=OUTSIDER_HEADERS)  # fmt: skip


def figures(
    volume: int,
    mtta: tuple[int, float | None, float | None],
    mttr: tuple[int, float | None, float | None],
    ack_sla: tuple[int, int, float | None],
    resolve_sla: tuple[int, int, float | None],
    classification: tuple[int, float | None, float | None, float | None],
) -> dict[str, Any]:
    def duration(f: tuple[int, float | None, float | None]) -> dict[str, Any]:
        return {"cases": f[0], "average_seconds": f[1], "median_seconds": f[2]}

    def sla(f: tuple[int, int, float | None]) -> dict[str, Any]:
        return {"counted": f[0], "met": f[1], "share": f[2]}

    return {
        "volume": volume,
        "mtta": duration(mtta),
        "mttr": duration(mttr),
        "ack_sla": sla(ack_sla),
        "resolve_sla": sla(resolve_sla),
        "classification": dict(
            zip(
                ("classified", "true_positive", "false_positive", "benign"),
                classification,
                strict=True,
            )
        ),
    }


async def report(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(REPORT, params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_figures_over_the_period(client: httpx.AsyncClient, sessions: SessionFactory) -> None:
    await seed_period(client, sessions)
    body = await report(client)
    assert (body["group_by"], body["groups"], body["groups_truncated"]) == ("none", [], False)
    # MTTA over A, B, C, E: 60, 180, 300, 120 -> mean 165, median (120 + 180) / 2.
    # MTTR over A, B, E: 600, 1200, 300 -> mean 700, median 600.
    # Ack SLA over A, B, E (C has no due time): A and E met (E exactly at the due time).
    # Classified: A tp, B fp, D benign, E tp; C pending.
    assert body["total"] == figures(
        5, (4, 165.0, 150.0), (3, 700.0, 600.0), (3, 2, 2 / 3), (3, 2, 2 / 3), (4, 0.5, 0.25, 0.25)
    )


async def test_figures_per_rule_and_per_assignee(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await seed_period(client, sessions)
    by_rule = await report(client, group_by="rule")
    assert by_rule["total"]["volume"] == 5
    assert [(g["key"], g["label"], g["volume"]) for g in by_rule["groups"]] == [
        ("r1", "r1", 3),
        ("r2", "r2", 1),
        (None, "no rule", 1),
    ]
    r1 = {k: v for k, v in by_rule["groups"][0].items() if k not in ("key", "label")}
    third = 1 / 3
    assert r1 == figures(
        3, (2, 120.0, 120.0), (2, 900.0, 900.0), (2, 1, 0.5), (2, 1, 0.5), (3, third, third, third)
    )
    r2 = by_rule["groups"][1]  # only C: no due times, nothing classified
    assert (r2["ack_sla"], r2["classification"]) == (
        {"counted": 0, "met": 0, "share": None},
        {"classified": 0, "true_positive": None, "false_positive": None, "benign": None},
    )
    assert r2["mttr"] == {"cases": 0, "average_seconds": None, "median_seconds": None}

    by_assignee = await report(client, group_by="assignee")
    # alice and bob tie on volume: by key; the unassigned last.
    assert [(g["key"], g["label"], g["volume"]) for g in by_assignee["groups"]] == [
        ("alice", "alice", 2),
        ("bob", "bob", 2),
        (None, "unassigned", 1),
    ]
    bob = by_assignee["groups"][1]
    # Only E acknowledged/resolved; D counts in the rates (benign) but has no times.
    assert (bob["mtta"], bob["mttr"]) == (
        {"cases": 1, "average_seconds": 120.0, "median_seconds": 120.0},
        {"cases": 1, "average_seconds": 300.0, "median_seconds": 300.0},
    )
    assert bob["classification"] == {
        "classified": 2,
        "true_positive": 0.5,
        "false_positive": 0.0,
        "benign": 0.5,
    }


async def test_the_outsider_sees_only_their_own_cases(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await seed_period(client, sessions)
    response = await client.get(
        REPORT, params={**PERIOD, "group_by": "rule"}, headers=OUTSIDER_HEADERS
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == figures(
        1, (1, 7.0, 7.0), (1, 7.0, 7.0), (1, 0, 0.0), (1, 0, 0.0), (1, 0.0, 1.0, 0.0)
    )
    assert [g["key"] for g in body["groups"]] == ["r1"]


async def test_an_empty_period(client: httpx.AsyncClient) -> None:
    body = await report(client, group_by="assignee")
    assert body["total"] == figures(
        0, (0, None, None), (0, None, None), (0, 0, None), (0, 0, None), (0, None, None, None)
    )
    assert body["groups"] == []


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00Z"}, "time zone"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "end must be after"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end must be after"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-01-02T00:00:01Z"}, "at most 366 days"),
        ({"end": "2026-03-02T00:00:00Z"}, "query.start"),
        ({**PERIOD, "group_by": "host"}, "query.group_by"),
        ({"start": "yesterday", "end": "2026-03-02T00:00:00Z"}, "query.start"),
    ],
)
async def test_a_bad_period_is_refused_by_name(
    client: httpx.AsyncClient, params: dict[str, str], problem: str
) -> None:
    response = await client.get(REPORT, params=params)
    assert response.status_code == 422, response.text
    assert problem in response.text


async def test_a_period_of_exactly_366_days_is_allowed(client: httpx.AsyncClient) -> None:
    params = {"start": "2025-01-01T00:00:00+02:00", "end": "2026-01-02T00:00:00+02:00"}
    assert (await client.get(REPORT, params=params)).status_code == 200


async def test_reports_need_a_key(client: httpx.AsyncClient) -> None:
    assert (
        await client.get(REPORT, params=PERIOD, headers={"authorization": ""})
    ).status_code == 401
