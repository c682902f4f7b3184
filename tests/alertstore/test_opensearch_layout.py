"""The OpenSearch layout without a server: index names, the template's mapping, bulk
actions, query bodies and how bulk item answers are judged. Plus the one thing that needs
Postgres: the entity keys written to OpenSearch are the ones the Postgres index holds."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from libs.common.alertstore import opensearch_layout as layout
from libs.common.alertstore.cursor import Position, decode_cursor, encode_cursor
from libs.common.alertstore.model import AlertDocument, AlertQuery, AlertRef, entity_keys
from libs.common.alertstore.opensearch import classify, item_failure
from libs.common.contracts.detections import EntityType, Severity
from libs.common.db.engine import SessionFactory
from libs.common.errors import InvalidInput
from libs.common.settings import OpenSearchSettings
from tests.alertstore.conftest import OPENSEARCH_IMAGE
from tests.support.docker_engine import docker_engine_problem

SETTINGS = OpenSearchSettings(index_prefix="acme")
AT = datetime(2026, 3, 1, 23, 30, 0, 123456, tzinfo=UTC)


def document(**changes: Any) -> AlertDocument:
    values: dict[str, Any] = {
        "id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
        "tenant_id": "t1",
        "detection_id": "d1",
        "case_id": None,
        "title": "Encoded PowerShell",
        "severity": Severity.HIGH,
        "rule_id": "r1",
        "rule_name": "Rule one",
        "host": "WS-17",
        "source": "test",
        "group_key": "host:ws-17",
        "event_time": AT,
        "effective_time": AT,
        "time_fallback": False,
        "ingested_at": AT,
        "last_seen": AT,
        "occurrence_count": 1,
        "stored_at": AT,
        "detection": {"entities": [{"type": "user", "value": "Alice"}]},
    }
    return AlertDocument(**{**values, **changes})


def test_an_alert_goes_to_the_index_of_its_utc_event_day() -> None:
    assert layout.index_name(SETTINGS, AT) == "acme-alerts-2026.03.01"
    # 00:30 at +02:00 is still the 1st in UTC (22:30).
    local = datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert layout.index_name(SETTINGS, local) == "acme-alerts-2026.03.01"
    assert layout.index_pattern(SETTINGS) == "acme-alerts-*"


def test_the_template_maps_every_field_explicitly() -> None:
    template = layout.index_template(SETTINGS)
    assert template["index_patterns"] == ["acme-alerts-*"]
    mapping = template["template"]["mappings"]
    assert mapping["dynamic"] == "strict"
    fields = mapping["properties"]
    for name in ("alert_id", "tenant_id", "detection_id", "case_id", "host", "entity_keys"):
        assert fields[name] == {"type": "keyword"}, name
    for name in ("event_time", "effective_time", "ingested_at", "last_seen", "stored_at"):
        assert fields[name]["type"] == "date", name
    assert fields["effective_us"] == {"type": "long"}
    assert fields["detection"] == {"type": "object", "enabled": False}
    # A strict mapping refuses undeclared fields: everything written must be declared.
    assert set(layout.document_source(document())) == set(fields)


def test_an_index_action_is_idempotent_by_alert_id() -> None:
    action = layout.index_action(SETTINGS, document())
    assert action["_op_type"] == "index"
    assert action["_id"] == "00000000-0000-4000-8000-000000000001"
    assert action["_index"] == "acme-alerts-2026.03.01"
    source = action["_source"]
    assert source["effective_us"] == int(AT.timestamp()) * 1_000_000 + 123456
    assert source["entity_keys"] == ["host=ws-17", "user=alice"]
    assert source["detection"] == {"entities": [{"type": "user", "value": "Alice"}]}
    assert layout.index_action(SETTINGS, document()) == action


def test_a_versioned_write_keeps_the_newest_read() -> None:
    action = layout.index_action(SETTINGS, document(), version=1_700_000_000_000_001)
    assert (action["version"], action["version_type"]) == (1_700_000_000_000_001, "external_gte")
    ref = AlertRef("t1", document().id, AT)
    assert layout.delete_action(SETTINGS, ref, version=5)["version_type"] == "external_gte"
    # A conflict means a newer read is stored: the wanted end state, not a failure.
    assert classify("index", {"_id": "a", "status": 409}) == "ok"


def test_a_document_reads_back_as_written() -> None:
    original = document(case_id=uuid.uuid4(), event_time=None)
    assert layout.document_from_source(layout.document_source(original)) == original


def test_a_delete_addresses_the_same_document() -> None:
    ref = AlertRef("t1", document().id, AT)
    assert layout.delete_action(SETTINGS, ref) == {
        "_op_type": "delete",
        "_index": "acme-alerts-2026.03.01",
        "_id": str(document().id),
    }


def test_every_query_filters_on_the_tenant_first() -> None:
    query = AlertQuery(
        start=AT, end=AT + timedelta(hours=1), host="WS-17", entity="Alice", rule_id="r1"
    )
    filters = layout.query_filter("t1", query)["bool"]["filter"]
    assert filters[0] == {"term": {"tenant_id": "t1"}}
    start = layout.document_source(document())["effective_us"]
    assert {"range": {"effective_us": {"gte": start, "lt": start + 3_600_000_000}}} in filters
    assert {"term": {"rule_id": "r1"}} in filters
    assert {"term": {"entity_keys": "host=ws-17"}} in filters
    entity = next(f for f in filters if "terms" in f)["terms"]["entity_keys"]
    assert len(entity) == len(EntityType)
    assert "user=alice" in entity
    assert "host=alice" in entity
    assert layout.query_filter("t2", AlertQuery()) == {
        "bool": {"filter": [{"term": {"tenant_id": "t2"}}]}
    }
    one = AlertQuery(entity="Alice", entity_type=EntityType.USER)
    assert {"terms": {"entity_keys": ["user=alice"]}} in layout.query_filter("t1", one)["bool"][
        "filter"
    ]


def test_a_search_sorts_like_the_cursor_and_leaves_the_payload_out() -> None:
    after = Position(AT, document().id)
    body = layout.search_body("t1", AlertQuery(), after, 51, payload=False)
    assert body["sort"] == [{"effective_us": "desc"}, {"alert_id": "desc"}]
    assert body["search_after"] == [after.epoch_micros, str(document().id)]
    assert body["size"] == 51
    assert body["_source"] == {"excludes": ["effective_us", "entity_keys", "detection"]}
    with_payload = layout.search_body("t1", AlertQuery(), None, 10, payload=True)
    assert with_payload["_source"] == {"excludes": ["effective_us", "entity_keys"]}
    assert "search_after" not in with_payload
    get = layout.get_body("t1", document().id, payload=False)
    assert get["query"]["bool"]["filter"][0] == {"term": {"tenant_id": "t1"}}


def test_cursors_round_trip_and_edited_ones_are_refused() -> None:
    position = Position(AT, document().id)
    assert decode_cursor(encode_cursor(position)) == position
    fields = json.loads(base64.urlsafe_b64decode(encode_cursor(position) + "=="))
    fields["t"] = (AT - timedelta(days=1)).isoformat()  # moved, checksum kept
    edited = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()
    with pytest.raises(InvalidInput):
        decode_cursor(edited)
    with pytest.raises(InvalidInput):
        decode_cursor("not a cursor")


@pytest.mark.parametrize(
    ("op_type", "status", "verdict"),
    [
        ("index", 201, "ok"),
        ("index", 200, "ok"),
        ("delete", 200, "ok"),
        ("delete", 404, "ok"),
        ("index", 404, "failed"),
        ("index", 400, "failed"),
        ("index", 429, "retry"),
        ("index", 503, "retry"),
        ("index", "N/A", "retry"),
    ],
)
def test_bulk_items_are_judged_one_by_one(op_type: str, status: int | str, verdict: str) -> None:
    assert classify(op_type, {"_id": "a", "status": status}) == verdict


def test_a_failed_item_says_why() -> None:
    info = {
        "_id": "a1",
        "status": 400,
        "error": {"type": "mapper_parsing_exception", "reason": "failed to parse [host]"},
    }
    failure = item_failure(info)
    assert (failure.alert_id, failure.status) == ("a1", 400)
    assert failure.reason == "mapper_parsing_exception: failed to parse [host]"
    assert item_failure({"_id": "a2", "status": "N/A", "error": "timed out"}).reason == "timed out"


@pytest.mark.parametrize(
    ("detection", "host"),
    [
        (
            {"entities": [{"type": "user", "value": "Alice"}, {"type": "ip", "value": "10.0.0.1"}]},
            "WS-1",
        ),
        (
            {"entities": [{"type": "user", "value": "ALICE"}, {"type": "user", "value": "alice"}]},
            None,
        ),
        ({"entities": [{"type": "file", "value": "C:\\Temp\\X" * 100}]}, ""),
        ({"entities": [{"type": "user", "value": ""}, "junk", {"value": "no type"}]}, "h"),
        ({"entities": "not a list"}, "h"),
        ({}, None),
    ],
)
async def test_entity_keys_are_the_postgres_index_keys(
    sessions: SessionFactory, detection: dict[str, Any], host: str | None
) -> None:
    async with sessions() as session:
        keys = await session.scalar(
            text("SELECT casestream_alert_entity_keys('t1', CAST(:d AS jsonb), :h)"),
            {"d": json.dumps(detection), "h": host},
        )
    assert sorted(keys) == [f"t1/{key}" for key in entity_keys(detection, host)]


def test_the_test_server_is_the_compose_server() -> None:
    compose = yaml.safe_load((Path(__file__).parents[2] / "compose.yaml").read_text())
    assert compose["services"]["opensearch"]["image"] == OPENSEARCH_IMAGE


def test_a_docker_client_without_an_engine_is_no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    problem = docker_engine_problem()
    assert problem is not None
    assert problem.startswith("no Docker engine answers")
