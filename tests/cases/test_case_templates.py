"""Case templates over the admin API, and cases opened with one: the template's title
prefix, tags and custom field values apply, and the opener's own values win."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from libs.common.db.engine import SessionFactory
from services.cases.templates_schemas import MAX_TEMPLATES
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.custom_field_support import (
    EVERY_TYPE,
    OTHER_ADMIN_HEADERS,
    OUTSIDER_HEADERS,
    api,
    define,
)
from tests.casestore.test_case_store import events_and_outbox

__all__ = ["api"]  # the fixture, imported for pytest

PHISHING = {
    "title_prefix": "[Phishing] ",
    "tags": ["phishing", "email", "Phishing"],
    "custom_fields": {"region": "emea", "vectors": ["email"]},
}


async def put_template(
    client: httpx.AsyncClient,
    name: str,
    spec: dict[str, Any],
    headers: dict[str, str] = ADMIN_HEADERS,
) -> httpx.Response:
    return await client.put(f"/api/v1/admin/case-templates/{name}", json=spec, headers=headers)


async def define_fields(client: httpx.AsyncClient) -> None:
    for key in ("region", "vectors", "hosts"):
        assert (await define(client, key, EVERY_TYPE[key])).status_code == 201


async def test_templates_are_defined_listed_replaced_and_deleted(api: httpx.AsyncClient) -> None:
    await define_fields(api)
    created = await put_template(api, "phishing", PHISHING)
    assert created.status_code == 201, created.text
    # Tags are normalized like a case's: deduplicated case-insensitively.
    assert created.json() == {
        **PHISHING,
        "name": "phishing",
        "tags": ["phishing", "email"],
        "tasks": [],
    }
    replaced = await put_template(api, "phishing", {**PHISHING, "title_prefix": "[P] "})
    assert (replaced.status_code, replaced.json()["title_prefix"]) == (200, "[P] ")
    listed = (await api.get("/api/v1/admin/case-templates", headers=ADMIN_HEADERS)).json()
    assert [t["name"] for t in listed] == ["phishing"]
    url = "/api/v1/admin/case-templates/phishing"
    assert (await api.delete(url, headers=ADMIN_HEADERS)).status_code == 204
    assert (await api.get(url, headers=ADMIN_HEADERS)).status_code == 404
    assert (await api.delete(url, headers=ADMIN_HEADERS)).status_code == 404


@pytest.mark.parametrize(
    ("name", "spec", "problem"),
    [
        ("Bad Name", {}, "pattern"),
        ("ok", {"title_prefix": "x" * 129}, "128"),
        ("ok", {"custom_fields": {"nope": 1}}, "no such custom field"),
        ("ok", {"custom_fields": {"region": "mars"}}, "not one of the options"),
        ("ok", {"custom_fields": {"hosts": "3"}}, "expected an integer"),
        ("ok", {"tags": ["x" * 129]}, "longer than 128"),
        ("ok", {"checklist": ["triage"]}, "Extra inputs"),
    ],
)
async def test_bad_templates_are_named(
    api: httpx.AsyncClient, name: str, spec: dict[str, Any], problem: str
) -> None:
    await define_fields(api)
    response = await put_template(api, name, spec)
    assert response.status_code == 422
    assert problem in response.text


async def test_a_case_opened_with_a_template(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await define_fields(api)
    await put_template(api, "phishing", PHISHING)
    body = {
        "title": "invoice lure",
        "template": "phishing",
        "tags": ["finance", "EMAIL"],
        "custom_fields": {"region": "apac", "hosts": 4},
    }
    created = await api.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["title"] == "[Phishing] invoice lure"
    assert case["tags"] == ["phishing", "email", "finance"]
    # The opener's region wins; the template's vectors fill in.
    assert case["custom_fields"] == {"region": "apac", "vectors": ["email"], "hosts": 4}
    opened = case["timeline"][0]["payload"]
    assert (opened["template"], opened["custom_fields"]) == ("phishing", case["custom_fields"])
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case["id"]))
    assert (len(events), len(outbox)) == (1, 1)


async def test_an_opener_can_clear_a_template_value(api: httpx.AsyncClient) -> None:
    await define_fields(api)
    await put_template(api, "phishing", PHISHING)
    body = {"title": "t", "template": "phishing", "custom_fields": {"vectors": None}}
    case = (await api.post("/api/v1/cases", json=body)).json()
    assert case["custom_fields"] == {"region": "emea"}


async def test_template_values_meet_the_definitions_in_force(api: httpx.AsyncClient) -> None:
    await define_fields(api)
    await put_template(api, "phishing", PHISHING)
    # Narrowed after the template was saved: its "emea" is no longer an option.
    await define(api, "region", {**EVERY_TYPE["region"], "options": ["apac"]})
    refused = await api.post("/api/v1/cases", json={"title": "t", "template": "phishing"})
    assert (refused.status_code, refused.json()["details"]["field"]) == (422, "region")


async def test_required_fields_can_come_from_the_template(api: httpx.AsyncClient) -> None:
    await define_fields(api)
    await define(api, "region", {**EVERY_TYPE["region"], "required": True})
    await put_template(api, "phishing", PHISHING)
    assert (await api.post("/api/v1/cases", json={"title": "t"})).status_code == 422
    with_it = await api.post("/api/v1/cases", json={"title": "t", "template": "phishing"})
    assert with_it.status_code == 201


async def test_unknown_template_and_too_long_title(api: httpx.AsyncClient) -> None:
    unknown = await api.post("/api/v1/cases", json={"title": "t", "template": "nope"})
    assert (unknown.status_code, unknown.json()["details"]) == (422, {"template": "nope"})
    await put_template(api, "long", {"title_prefix": "x" * 128})
    too_long = await api.post("/api/v1/cases", json={"title": "y" * 1_000, "template": "long"})
    assert too_long.status_code == 422
    assert "longer than 1024" in too_long.text
    assert (await api.get("/api/v1/cases")).json()["total"] == 0


async def test_templates_are_per_tenant(api: httpx.AsyncClient) -> None:
    await put_template(api, "phishing", {"title_prefix": "[ours] "})
    theirs = await api.get("/api/v1/admin/case-templates", headers=OTHER_ADMIN_HEADERS)
    assert theirs.json() == []
    used = await api.post(
        "/api/v1/cases", json={"title": "t", "template": "phishing"}, headers=OUTSIDER_HEADERS
    )
    assert used.status_code == 422
    await put_template(api, "phishing", {"title_prefix": "[theirs] "}, OTHER_ADMIN_HEADERS)
    ours = await api.get("/api/v1/admin/case-templates/phishing", headers=ADMIN_HEADERS)
    assert ours.json()["title_prefix"] == "[ours] "


async def test_at_most_the_limit_per_tenant(api: httpx.AsyncClient) -> None:
    for i in range(MAX_TEMPLATES):
        assert (await put_template(api, f"t{i}", {})).status_code == 201
    over = await put_template(api, "one-more", {})
    assert (over.status_code, f"at most {MAX_TEMPLATES}" in over.text) == (409, True)
    assert (await put_template(api, "t0", {"title_prefix": "x"})).status_code == 200


async def test_only_admins_manage_templates(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/admin/case-templates")).status_code == 401
    assert (await api.put("/api/v1/admin/case-templates/x", json={})).status_code == 401
    assert (await api.delete("/api/v1/admin/case-templates/x")).status_code == 401
