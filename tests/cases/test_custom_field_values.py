"""Custom field values on cases through the cases API: checked on every write against
the tenant's definitions, audited per key (one event and one outbox row each), returned
on reads, and filtered on with cf.<key>=<value>."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from libs.common.db.engine import SessionFactory
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.custom_field_support import (
    EVERY_TYPE,
    OTHER_ADMIN_HEADERS,
    OUTSIDER_HEADERS,
    api,
    define,
    define_every_type,
)
from tests.casestore.test_case_store import events_and_outbox

__all__ = ["api"]  # the fixture, imported for pytest

GOOD_VALUES: dict[str, Any] = {
    "ticket": "INC-42",
    "hosts": 12,
    "loss": 1500,
    "vip": True,
    "due_on": "2026-12-01",
    "seen_at": "2026-11-20T10:00:00+02:00",
    "region": "emea",
    "vectors": ["email", "web", "email"],
    "extra": {"ticket_url": "https://t/42", "ids": [1, 2]},
}
# As stored: numbers as floats, timestamps in UTC, multi-select values deduplicated.
STORED_VALUES = {
    **GOOD_VALUES,
    "loss": 1500.0,
    "seen_at": "2026-11-20T08:00:00+00:00",
    "vectors": ["email", "web"],
}


async def open_case(
    client: httpx.AsyncClient, custom_fields: dict[str, Any], **extra: Any
) -> httpx.Response:
    body = {"title": "phish", "custom_fields": custom_fields, **extra}
    return await client.post("/api/v1/cases", json=body)


async def test_every_type_is_stored_canonically_and_returned(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await define_every_type(api)
    created = await open_case(api, GOOD_VALUES)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["custom_fields"] == STORED_VALUES
    assert (await api.get(f"/api/v1/cases/{case['id']}")).json()["custom_fields"] == STORED_VALUES
    listed = (await api.get("/api/v1/cases")).json()["items"]
    assert listed[0]["custom_fields"] == STORED_VALUES
    opened = case["timeline"][0]
    assert (opened["type"], opened["payload"]["custom_fields"]) == ("case.opened", STORED_VALUES)
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case["id"]))
    assert len(events) == len(outbox) == 1


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("nope", "x", "no such custom field"),
        ("ticket", 5, "expected text"),
        ("ticket", "x" * 11, "longer than 10 characters"),
        ("hosts", "12", "expected an integer"),
        ("hosts", 1.5, "expected an integer"),
        ("hosts", True, "expected an integer"),
        ("hosts", 2**63, "64-bit range"),
        ("loss", "1", "expected a number"),
        ("loss", False, "expected a number"),
        ("vip", "true", "expected true or false"),
        ("vip", 1, "expected true or false"),
        ("due_on", "2026-13-01", "YYYY-MM-DD"),
        ("due_on", "2026-12-01T00:00:00", "YYYY-MM-DD"),
        ("seen_at", "yesterday", "ISO 8601"),
        ("seen_at", "2026-11-20T10:00:00", "needs a time zone"),
        ("region", "mars", "not one of the options"),
        ("region", ["emea"], "not one of the options"),
        ("vectors", "email", "expected a list of options"),
        ("vectors", ["email", "fax"], "not among the options: fax"),
        ("extra", {"blob": "x" * 20_000}, "larger than 16384 bytes"),
    ],
)
async def test_bad_values_are_422_naming_key_and_problem(
    api: httpx.AsyncClient, key: str, value: Any, problem: str
) -> None:
    await define_every_type(api)
    created = await open_case(api, {key: value})
    assert created.status_code == 422
    assert created.json()["details"]["field"] == key
    assert problem in created.json()["details"]["problem"]
    ok = (await open_case(api, {})).json()
    patched = await api.patch(f"/api/v1/cases/{ok['id']}", json={"custom_fields": {key: value}})
    assert patched.status_code == 422
    assert (patched.json()["details"]["field"], problem in patched.text) == (key, True)
    # Nothing was written by the refused writes.
    assert (await api.get("/api/v1/cases")).json()["total"] == 1


async def test_required_fields_must_be_set_when_opening(api: httpx.AsyncClient) -> None:
    await define(api, "region", {**EVERY_TYPE["region"], "required": True})
    missing = await open_case(api, {})
    assert missing.status_code == 422
    assert missing.json()["details"] == {
        "field": "region",
        "problem": "required",
        "missing": ["region"],
    }
    assert (await open_case(api, {"region": None})).status_code == 422
    assert (await open_case(api, {"region": "apac"})).status_code == 201


async def test_patch_changes_and_removes_keys_each_audited(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await define_every_type(api)
    case = (await open_case(api, {"region": "emea", "hosts": 3})).json()
    patch = {"region": "apac", "hosts": None, "vip": False, "ticket": None}
    response = await api.patch(f"/api/v1/cases/{case['id']}", json={"custom_fields": patch})
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == {"region": "apac", "vip": False}
    # Same values again: nothing changes, nothing is recorded.
    await api.patch(f"/api/v1/cases/{case['id']}", json={"custom_fields": {"region": "apac"}})
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case["id"]))
    changes = {
        e.payload["field"]: (e.payload["old"], e.payload["new"], e.actor)
        for e in events
        if e.type == "case.custom_field_changed"
    }
    # `ticket` had no value to remove: not a change.
    assert changes == {
        "custom_fields.region": ("emea", "apac", "ana"),
        "custom_fields.hosts": (3, None, "ana"),
        "custom_fields.vip": (None, False, "ana"),
    }
    assert len(events) == 4  # opened + three changes
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    verdict = (await api.get(f"/api/v1/cases/{case['id']}/audit/verify")).json()
    assert verdict["valid"] is True


async def test_whole_map_cannot_be_null(api: httpx.AsyncClient) -> None:
    case = (await open_case(api, {})).json()
    response = await api.patch(f"/api/v1/cases/{case['id']}", json={"custom_fields": None})
    assert response.status_code == 422
    assert "cannot be null: custom_fields" in response.text


async def test_a_deleted_definitions_value_stays_and_can_be_removed_not_set(
    api: httpx.AsyncClient,
) -> None:
    await define(api, "region", EVERY_TYPE["region"])
    case = (await open_case(api, {"region": "emea"})).json()
    await api.delete("/api/v1/admin/custom-fields/region", headers=ADMIN_HEADERS)
    url = f"/api/v1/cases/{case['id']}"
    assert (await api.get(url)).json()["custom_fields"] == {"region": "emea"}
    refused = await api.patch(url, json={"custom_fields": {"region": "apac"}})
    assert (refused.status_code, refused.json()["details"]["field"]) == (422, "region")
    removed = await api.patch(url, json={"custom_fields": {"region": None}})
    assert removed.json()["custom_fields"] == {}


async def test_another_tenants_definitions_never_apply(api: httpx.AsyncClient) -> None:
    # The outsider's tenant defines `region` (required) and `hosts`; ours defines nothing.
    await define(api, "region", {**EVERY_TYPE["region"], "required": True}, OTHER_ADMIN_HEADERS)
    await define(api, "hosts", EVERY_TYPE["hosts"], OTHER_ADMIN_HEADERS)
    ours = await open_case(api, {"hosts": 3})
    assert (ours.status_code, ours.json()["details"]["problem"]) == (422, "no such custom field")
    assert (await open_case(api, {})).status_code == 201  # their required field is not ours
    filtered = await api.get("/api/v1/cases", params={"cf.hosts": "3"})
    assert filtered.status_code == 422
    theirs = await api.post(
        "/api/v1/cases",
        json={"title": "t", "custom_fields": {"region": "emea", "hosts": 3}},
        headers=OUTSIDER_HEADERS,
    )
    assert theirs.status_code == 201
    listed = await api.get("/api/v1/cases", params={"cf.hosts": "3"}, headers=OUTSIDER_HEADERS)
    assert [c["id"] for c in listed.json()["items"]] == [theirs.json()["id"]]


async def listed(
    client: httpx.AsyncClient, params: list[tuple[str, str | int | float | bool | None]]
) -> list[str]:
    response = await client.get("/api/v1/cases", params=params)
    assert response.status_code == 200, response.text
    return sorted(c["title"] for c in response.json()["items"])


async def test_list_filters_by_custom_fields(api: httpx.AsyncClient) -> None:
    await define_every_type(api)
    cases: dict[str, dict[str, Any]] = {
        "a": {"region": "emea", "vectors": ["email", "usb"], "hosts": 3, "vip": True},
        "b": {"region": "apac", "vectors": ["email"], "loss": 2.5, "due_on": "2026-12-01"},
        "c": {"region": "emea", "seen_at": "2026-11-20T08:00:00Z", "ticket": "INC-1"},
    }
    for title, values in cases.items():
        assert (await open_case(api, values, title=title)).status_code == 201
    assert await listed(api, [("cf.region", "emea")]) == ["a", "c"]
    assert await listed(api, [("cf.vectors", "email")]) == ["a", "b"]
    assert await listed(api, [("cf.vectors", "email"), ("cf.vectors", "usb")]) == ["a"]
    assert await listed(api, [("cf.region", "emea"), ("cf.vectors", "email")]) == ["a"]
    assert await listed(api, [("cf.hosts", "3")]) == ["a"]
    assert await listed(api, [("cf.loss", "2.5")]) == ["b"]
    assert await listed(api, [("cf.vip", "true")]) == ["a"]
    assert await listed(api, [("cf.vip", "false")]) == []
    assert await listed(api, [("cf.due_on", "2026-12-01")]) == ["b"]
    # The same instant in another zone matches: timestamps are compared in UTC.
    assert await listed(api, [("cf.seen_at", "2026-11-20T09:00:00+01:00")]) == ["c"]
    assert await listed(api, [("cf.ticket", "INC-1")]) == ["c"]
    page = (await api.get("/api/v1/cases", params={"cf.region": "emea"})).json()
    assert (page["total"], page["counts"]) == (2, {"new": 2})


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ([("cf.nope", "x")], "no such custom field"),
        ([("cf.hosts", "three")], "expected an integer"),
        ([("cf.loss", "lots")], "expected a number"),
        ([("cf.vip", "yes")], "expected true or false"),
        ([("cf.region", "mars")], "not one of the options"),
        ([("cf.region", "emea"), ("cf.region", "apac")], "give one value"),
        ([("cf.extra", "{}")], "JSON fields cannot be filtered"),
        ([("cf.seen_at", "2026-11-20T08:00:00")], "needs a time zone"),
    ],
)
async def test_bad_custom_field_filters_are_named(
    api: httpx.AsyncClient, params: list[tuple[str, str | int | float | bool | None]], problem: str
) -> None:
    await define_every_type(api)
    response = await api.get("/api/v1/cases", params=params)
    assert response.status_code == 422
    assert problem in response.text
