"""The case list's filters, sorts, pages and counts, over real HTTP on real Postgres."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from libs.common.casestore.store import CaseStore, NewAlert, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import OUTSIDER

STORE = CaseStore("test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert_with(
    tenant: str, host: str | None = "h1", entities: list[dict[str, str]] | None = None
) -> NewAlert:
    detection_id = f"d-{uuid.uuid4().hex[:10]}"
    return NewAlert(
        id=uuid.uuid4(),
        tenant_id=tenant,
        severity=Severity.LOW,
        effective_time=T0,
        columns={
            "detection_id": detection_id,
            "title": "t",
            "rule_id": "r1",
            "rule_name": "Rule",
            "host": host,
            "source": "test",
            "group_key": "k",
            "event_time": T0,
            "time_fallback": False,
            "ingested_at": T0,
            "detection": {"detection_id": detection_id, "entities": entities or []},
        },
    )


async def open_case(
    sessions: SessionFactory,
    tenant: str,
    title: str = "case",
    severity: Severity = Severity.LOW,
    alerts: list[NewAlert] | None = None,
    **fields: Any,
) -> uuid.UUID:
    async with transaction(sessions) as session:
        case, _ = await STORE.open_case(
            session,
            NewCase(tenant_id=tenant, title=title, severity=severity, **fields),
            alerts or [],
            "tester",
        )
    return case.id


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/cases", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def every_page(client: httpx.AsyncClient, **params: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/cases", params=query)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_filters_by_assignee_tags_host_and_rule(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    mine = await open_case(sessions, tenant, assignee="ana", tags=("Phishing", "Finance"))
    theirs = await open_case(sessions, tenant, assignee="bob", tags=("phishing",))
    on_web = await open_case(sessions, tenant, host="web-01", rule_id="sigma-42")
    assert await listed(client, assignee="ana") == [str(mine)]
    # Tags: case-insensitive, and a case must carry every requested tag.
    assert set(await listed(client, tag="PHISHING")) == {str(mine), str(theirs)}
    assert await listed(client, tag=["phishing", "finance"]) == [str(mine)]
    assert await listed(client, tag=["phishing", "nope"]) == []
    assert await listed(client, host="web-01") == [str(on_web)]
    assert await listed(client, rule_id="sigma-42") == [str(on_web)]
    assert await listed(client, rule_id="sigma-42", assignee="ana") == []


async def test_filters_by_an_entity_any_alert_carries(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ip = {"type": "ip", "value": "10.0.0.7"}
    user = {"type": "user", "value": "CORP\\Alice"}
    first = await open_case(sessions, tenant, alerts=[alert_with(tenant, "srv-a", [ip])])
    second = await open_case(sessions, tenant, alerts=[alert_with(tenant, "srv-b", [user])])
    # An alert attached later counts too.
    async with transaction(sessions) as session:
        await STORE.attach_alerts(session, tenant, second, [alert_with(tenant, None, [ip])], "t")
    assert set(await listed(client, entity="10.0.0.7")) == {str(first), str(second)}
    assert await listed(client, entity="corp\\alice") == [str(second)]  # any case
    assert await listed(client, entity="corp\\alice", entity_type="ip") == []
    assert await listed(client, entity="corp\\alice", entity_type="user") == [str(second)]
    assert await listed(client, entity="SRV-A", entity_type="host") == [str(first)]
    assert await listed(client, entity="10.0.0.8") == []


async def test_filters_by_created_and_updated_ranges(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    old = await open_case(sessions, tenant)
    middle = (await client.get(f"/api/v1/cases/{old}")).json()["created_at"]
    new = await open_case(sessions, tenant)
    assert await listed(client, created_before=middle) == []  # exclusive
    assert await listed(client, created_after=middle) == [str(new), str(old)]  # inclusive
    cut = datetime.now(UTC).isoformat()
    assert await listed(client, created_after=cut) == []
    await client.patch(f"/api/v1/cases/{old}", json={"title": "touched"})
    assert await listed(client, updated_after=cut) == [str(old)]
    assert await listed(client, updated_before=cut) == [str(new)]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("created", "desc"),
        ("created", "asc"),
        ("updated", "desc"),
        ("updated", "asc"),
        ("severity", "desc"),
        ("severity", "asc"),
        ("number", "desc"),
        ("number", "asc"),
        ("ack_due_at", "asc"),
        ("resolve_due_at", "desc"),
    ],
)
async def test_every_sort_pages_in_order_without_gaps(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str, sort: str, order: str
) -> None:
    severities = [Severity.LOW, Severity.CRITICAL, Severity.LOW, Severity.HIGH, Severity.INFO]
    for n, severity in enumerate(severities):
        await open_case(sessions, tenant, title=f"c{n}", severity=severity)
    # The first case changes last, so updated order differs from created order.
    first = (await client.get("/api/v1/cases", params={"sort": "number", "order": "asc"})).json()
    await client.patch(f"/api/v1/cases/{first['items'][0]['id']}", json={"title": "moved"})

    everything = (await client.get("/api/v1/cases", params={"limit": 200})).json()["items"]
    rank = {s.value: s.rank for s in Severity}
    key = {
        "created": lambda c: (c["created_at"], c["id"]),
        "updated": lambda c: (c["updated_at"], c["id"]),
        "severity": lambda c: (rank[c["severity"]], c["created_at"], c["id"]),
        "number": lambda c: (c["number"],),
        "ack_due_at": lambda c: (c["ack_due_at"], c["id"]),
        "resolve_due_at": lambda c: (c["resolve_due_at"], c["id"]),
    }[sort]
    # Compare times as datetimes: Postgres' text form varies its fraction digits.
    normalized = [_parsed(c) for c in everything]
    expected = [c["id"] for c in sorted(normalized, key=key, reverse=order == "desc")]
    assert len(expected) == 5
    assert await every_page(client, sort=sort, order=order) == expected


def _parsed(case: dict[str, Any]) -> dict[str, Any]:
    times = ("created_at", "updated_at", "ack_due_at", "resolve_due_at")
    return {k: datetime.fromisoformat(v) if k in times else v for k, v in case.items()}


async def test_severity_sort_puts_the_most_severe_first_by_default(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    for severity in (Severity.MEDIUM, Severity.CRITICAL, Severity.INFO, Severity.HIGH):
        await open_case(sessions, tenant, severity=severity)
    items = (await client.get("/api/v1/cases", params={"sort": "severity"})).json()["items"]
    assert [i["severity"] for i in items] == ["critical", "high", "medium", "info"]


async def test_the_first_api_spelling_of_newest_first_still_works(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ids = [await open_case(sessions, tenant) for _ in range(3)]
    assert await every_page(client, sort="-created_at") == [str(i) for i in reversed(ids)]


async def test_counts_per_status_follow_the_filters_not_the_page(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ids = [await open_case(sessions, tenant, severity=Severity.HIGH) for _ in range(3)]
    await open_case(sessions, tenant, severity=Severity.LOW)
    await client.patch(f"/api/v1/cases/{ids[0]}", json={"status": "acknowledged"})
    first = (await client.get("/api/v1/cases", params={"severity": "high", "limit": 1})).json()
    assert first["counts"] == {"new": 2, "acknowledged": 1}
    assert first["total"] == 3
    second = (
        await client.get(
            "/api/v1/cases",
            params={"severity": "high", "limit": 1, "cursor": first["next_cursor"]},
        )
    ).json()
    assert second["counts"] == first["counts"]
    everything = (await client.get("/api/v1/cases")).json()
    assert (everything["counts"], everything["total"]) == ({"new": 3, "acknowledged": 1}, 4)


def _forged(cursor: str, change: Any) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    change(raw)
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


async def test_an_edited_or_foreign_cursor_is_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    for _ in range(3):
        await open_case(sessions, tenant)
    page = (await client.get("/api/v1/cases", params={"limit": 1})).json()
    cursor = page["next_cursor"]

    def shift(raw: list[Any]) -> None:
        raw[2][0] = "2020-01-01T00:00:00+00:00"

    edited = await client.get("/api/v1/cases", params={"cursor": _forged(cursor, shift)})
    assert (edited.status_code, edited.json()["code"]) == (422, "invalid_input")
    foreign = await client.get("/api/v1/cases", params={"cursor": cursor, "order": "asc"})
    assert foreign.status_code == 422
    assert foreign.json()["message"] == "cursor belongs to another sort order"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sort": "colour"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"entity_type": "planet", "entity": "x"}, "entity_type"),
        ({"entity_type": "ip"}, "entity_type"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "2026-01-01T00:00:00"}, "created_after"),
        (
            {"updated_after": "2026-01-02T00:00:00Z", "updated_before": "2026-01-01T00:00:00Z"},
            "updated_after",
        ),
        ({"sort": "-created_at", "order": "asc"}, "sort"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"assignee": ""}, "assignee"),
    ],
)
async def test_bad_list_parameters_are_named(
    client: httpx.AsyncClient, params: dict[str, Any], named: str
) -> None:
    response = await client.get("/api/v1/cases", params=params)
    assert response.status_code == 422
    assert named in response.text


async def test_an_outsider_filters_only_their_own_cases(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ip = {"type": "ip", "value": "10.9.9.9"}
    await open_case(
        sessions, tenant, alerts=[alert_with(tenant, "srv", [ip])], assignee="ana", tags=("x",)
    )
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    for params in ({"entity": "10.9.9.9"}, {"assignee": "ana"}, {"tag": "x"}, {}):
        page = (await client.get("/api/v1/cases", params=params, headers=outsider)).json()
        assert (page["items"], page["counts"], page["total"]) == ([], {}, 0)


async def test_full_text_finds_title_description_and_notes(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    by_title = await open_case(sessions, tenant, title="Phishing mail to finance")
    by_text = await open_case(
        sessions, tenant, title="Odd login", description="Mimikatz ran on DC-01 at night"
    )
    by_note = await open_case(sessions, tenant, title="Beacon")
    await open_case(sessions, tenant, title="Unrelated noise")
    note = {"body": "Confirmed the user clicked the phished link; resetting credentials"}
    assert (await client.post(f"/api/v1/cases/{by_note}/notes", json=note)).status_code == 201

    # Stemmed: "phishing" in the query also finds "phished" in a note.
    assert await listed(client, q="phishing") == [str(by_note), str(by_title)]
    assert await listed(client, q="mimikatz") == [str(by_text)]
    assert await listed(client, q="credentials reset") == [str(by_note)]
    assert await listed(client, q='"ran on dc-01"') == [str(by_text)]
    assert await listed(client, q="phishing -finance") == [str(by_note)]
    assert await listed(client, q="mimikatz OR beacon") == [str(by_note), str(by_text)]
    # Combined with other filters, sorts and counts like any filter.
    page = (await client.get("/api/v1/cases", params={"q": "phishing", "sort": "number"})).json()
    assert [i["id"] for i in page["items"]] == [str(by_note), str(by_title)]
    assert page["counts"] == {"new": 2}
    # A field edited later is searchable at once.
    await client.patch(f"/api/v1/cases/{by_title}", json={"conclusion": "ransomware staging"})
    assert await listed(client, q="ransomware") == [str(by_title)]


@pytest.mark.parametrize("q", ["the", "   ", "!!"])
async def test_a_search_without_words_is_refused(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/api/v1/cases", params={"q": q})
    assert response.status_code == 422
    assert response.json()["details"]["parameter"] == "q"


async def test_an_outsider_finds_nothing_by_text(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, title="Secret exfiltration case")
    await client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "zebracorn marker"})
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    for q in ("exfiltration", "zebracorn"):
        page = (await client.get("/api/v1/cases", params={"q": q}, headers=outsider)).json()
        assert (page["items"], page["total"]) == ([], 0)
