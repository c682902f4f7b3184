"""Custom field definitions over the admin API: every type, the rules a definition must
follow, the per-tenant limit, and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.common.casestore.custom_fields import MAX_DEFINITIONS
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.custom_field_support import (
    EVERY_TYPE,
    OTHER_ADMIN_HEADERS,
    api,
    define,
    define_every_type,
)

__all__ = ["api"]  # the fixture, imported for pytest


async def test_every_type_is_defined_listed_and_read(api: httpx.AsyncClient) -> None:
    await define_every_type(api)
    listed = (await api.get("/api/v1/admin/custom-fields", headers=ADMIN_HEADERS)).json()
    assert [d["key"] for d in listed] == sorted(EVERY_TYPE)
    region = (await api.get("/api/v1/admin/custom-fields/region", headers=ADMIN_HEADERS)).json()
    assert region == {
        "key": "region",
        "type": "select",
        "label": "Region",
        "required": False,
        "options": ["emea", "apac", "amer"],
        "max_length": None,
    }


async def test_a_definition_is_replaced_but_keeps_its_type(api: httpx.AsyncClient) -> None:
    assert (await define(api, "region", EVERY_TYPE["region"])).status_code == 201
    changed = {**EVERY_TYPE["region"], "label": "Area", "required": True}
    replaced = await define(api, "region", changed)
    assert replaced.status_code == 200
    assert (replaced.json()["label"], replaced.json()["required"]) == ("Area", True)
    retyped = await define(api, "region", {"type": "text", "label": "Region"})
    assert retyped.status_code == 409
    assert "keeps its type" in retyped.text


async def test_delete_and_unknown_keys(api: httpx.AsyncClient) -> None:
    await define(api, "vip", EVERY_TYPE["vip"])
    deleted = await api.delete("/api/v1/admin/custom-fields/vip", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204
    again = await api.delete("/api/v1/admin/custom-fields/vip", headers=ADMIN_HEADERS)
    assert again.status_code == 404
    missing = await api.get("/api/v1/admin/custom-fields/vip", headers=ADMIN_HEADERS)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("key", "spec", "problem"),
    [
        ("Bad", {"type": "text", "label": "x"}, "pattern"),
        ("a" * 65, {"type": "text", "label": "x"}, "pattern"),
        ("9lives", {"type": "text", "label": "x"}, "pattern"),
        ("ok", {"type": "colour", "label": "x"}, "type"),
        ("ok", {"type": "text", "label": ""}, "label"),
        ("ok", {"type": "select", "label": "x"}, "needs options"),
        ("ok", {"type": "select", "label": "x", "options": ["a", "a"]}, "unique"),
        ("ok", {"type": "int", "label": "x", "options": ["a"]}, "options are for select"),
        ("ok", {"type": "int", "label": "x", "max_length": 5}, "max_length is for text"),
        ("ok", {"type": "text", "label": "x", "max_length": 8_193}, "8192"),
        ("ok", {"type": "text", "label": "x", "colour": "red"}, "Extra inputs"),
    ],
)
async def test_bad_definitions_are_named(
    api: httpx.AsyncClient, key: str, spec: dict[str, Any], problem: str
) -> None:
    response = await define(api, key, spec)
    assert response.status_code == 422
    assert problem in response.text


async def test_at_most_the_limit_per_tenant(api: httpx.AsyncClient) -> None:
    for i in range(MAX_DEFINITIONS):
        assert (await define(api, f"f{i}", {"type": "bool", "label": "x"})).status_code == 201
    over = await define(api, "one_more", {"type": "bool", "label": "x"})
    assert over.status_code == 409
    assert f"at most {MAX_DEFINITIONS}" in over.text
    # Replacing an existing one is not a new definition; another tenant has its own limit.
    assert (await define(api, "f0", {"type": "bool", "label": "y"})).status_code == 200
    other = await define(api, "one_more", {"type": "bool", "label": "x"}, OTHER_ADMIN_HEADERS)
    assert other.status_code == 201


async def test_tenants_never_see_each_others_definitions(api: httpx.AsyncClient) -> None:
    await define(api, "region", EVERY_TYPE["region"])
    theirs = await api.get("/api/v1/admin/custom-fields", headers=OTHER_ADMIN_HEADERS)
    assert theirs.json() == []
    one = await api.get("/api/v1/admin/custom-fields/region", headers=OTHER_ADMIN_HEADERS)
    assert one.status_code == 404
    gone = await api.delete("/api/v1/admin/custom-fields/region", headers=OTHER_ADMIN_HEADERS)
    assert gone.status_code == 404
    assert (await api.get("/api/v1/admin/custom-fields/region", headers=ADMIN_HEADERS)).is_success


async def test_only_admins_manage_definitions(api: httpx.AsyncClient) -> None:
    # The client's default credential is an analyst's.
    assert (await api.get("/api/v1/admin/custom-fields")).status_code == 401
    put = await api.put("/api/v1/admin/custom-fields/x", json={"type": "bool", "label": "x"})
    assert put.status_code == 401
    assert (await api.delete("/api/v1/admin/custom-fields/x")).status_code == 401
