"""`DetectionV1.from_wire` parses with msgspec and validates with pydantic: it must accept
and refuse exactly what pydantic's own `model_validate_json` does, with the same errors,
and keep the message's bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1
from services.ingest.normalize import normalize_native
from services.ingest.schemas import NativeDetection
from tests.support.corpus import e2e_sample
from tests.support.detections import detection


def same(received: DetectionV1, expected: DetectionV1) -> bool:
    """Every field equal, of the same type (a datetime's zone included); the private
    copy of the message's bytes aside."""
    fields = list(DetectionV1.model_fields)
    pairs = [(getattr(received, f), getattr(expected, f)) for f in fields]
    return all(a == b and type(a) is type(b) for a, b in pairs) and (
        received.model_dump() == expected.model_dump()
        and received.event_time == expected.event_time
        and received.effective_time.tzinfo == expected.effective_time.tzinfo
    )


def test_real_detections_read_the_same_as_pydantic_reads_them(shared_data: Path) -> None:
    now = datetime.now(UTC)
    documents = e2e_sample(shared_data, 300)
    for document in documents:
        native = NativeDetection.model_validate(document)
        wire = normalize_native(native, document, "acme", now).model_dump_json().encode()
        received = DetectionV1.from_wire(wire)
        assert same(received, DetectionV1.model_validate_json(wire))
        assert received.stored_json() == wire.decode()
        assert received.raw  # the raw payload is there, decoded


def valid() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(detection("acme", "d-1").model_dump_json())
    document["raw"] = {"EventID": 4688, "nested": {"list": [1, "two", None, 3.5]}, "é": "ü"}
    return document


def with_changes(**changes: Any) -> bytes:
    document = valid()
    for name, value in changes.items():
        if value is ...:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document).encode()


def test_unknown_fields_escapes_and_unicode_read_the_same() -> None:
    wire = with_changes(sensor_site="hq", title='quote " backslash \\ tab \t NUL \x00 é 😀')
    received = DetectionV1.from_wire(wire)
    assert same(received, DetectionV1.model_validate_json(wire))
    assert received.title.endswith("é 😀")
    assert json.loads(received.stored_json())["sensor_site"] == "hq"  # kept as received


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1, 2]", id="an-array"),
        pytest.param(with_changes()[:-1], id="cut-short"),
        pytest.param(with_changes() + b" trailing", id="trailing-bytes"),
        pytest.param(with_changes(raw=[1, 2]), id="raw-not-an-object"),
        pytest.param(with_changes(raw=None), id="raw-null"),
        pytest.param(with_changes(title="x" * 1_025), id="title-too-long"),
        pytest.param(with_changes(title=""), id="title-empty"),
        pytest.param(with_changes(severity="urgent"), id="unknown-severity"),
        pytest.param(with_changes(priority=11), id="priority-above-10"),
        pytest.param(with_changes(priority=2**70), id="priority-huge"),
        pytest.param(with_changes(schema_version=2), id="schema-version-2"),
        pytest.param(with_changes(rule=...), id="no-rule"),
        pytest.param(with_changes(effective_time="yesterday"), id="bad-time"),
        pytest.param(with_changes(tenant_id=7), id="tenant-a-number"),
        pytest.param(with_changes(entities=[{"type": "host"}]), id="entity-without-value"),
        pytest.param(with_changes(matched_event_ids=["e"] * 65), id="too-many-events"),
    ],
)
def test_what_pydantic_refuses_is_refused_with_the_same_errors(wire: bytes) -> None:
    with pytest.raises(ValidationError) as expected:
        DetectionV1.model_validate_json(wire)
    with pytest.raises(ValidationError) as refused:
        DetectionV1.from_wire(wire)
    found = [(e["loc"], e["type"]) for e in refused.value.errors()]
    assert found == [(e["loc"], e["type"]) for e in expected.value.errors()]
