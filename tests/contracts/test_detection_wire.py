"""`DetectionV1.from_wire` parses with msgspec and validates with pydantic: it must accept
and refuse exactly what pydantic's own `model_validate_json` does, with the same errors,
and keep the message's bytes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.raw_document import RawDocument
from services.ingest.normalize import normalize_native
from services.ingest.schemas import NativeDetection
from tests.support.corpus import e2e_sample
from tests.support.detections import detection


def same(received: DetectionV1, expected: DetectionV1) -> bool:
    """Every field equal, of the same type (a datetime's zone included), `raw` read as
    the same mapping; the private copy of the message's bytes aside."""
    fields = [f for f in DetectionV1.model_fields if f != "raw"]
    pairs = [(getattr(received, f), getattr(expected, f)) for f in fields]
    return all(a == b and type(a) is type(b) for a, b in pairs) and (
        dict(received.raw) == expected.raw
        and received.model_dump() == expected.model_dump()
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


def test_raw_is_read_when_first_used_and_then_reads_as_sent() -> None:
    received = DetectionV1.from_wire(with_changes())
    assert isinstance(received.raw, RawDocument)
    assert received.raw["nested"]["list"] == [1, "two", None, 3.5]
    assert received.raw.get("é") == "ü"
    assert sorted(received.raw) == sorted(valid()["raw"])
    assert "raw" in received.model_fields_set
    assert received.model_dump(exclude_unset=True)["raw"] == valid()["raw"]


def test_a_message_without_raw_reads_an_empty_one() -> None:
    received = DetectionV1.from_wire(with_changes(raw=...))
    assert received.raw == {}
    assert "raw" not in json.loads(received.stored_json())  # stored as received


def test_a_wire_detection_dumps_copies_and_compares_as_one_validated_whole() -> None:
    wire = with_changes()
    received, expected = DetectionV1.from_wire(wire), DetectionV1.model_validate_json(wire)
    expected._wire = wire  # pydantic's == compares private attributes too
    assert received == expected
    assert received.model_dump() == expected.model_dump()
    assert received.model_dump_json() == expected.model_dump_json()
    for copied in (received.model_copy(deep=True), copy.deepcopy(received)):
        assert copied.raw == valid()["raw"]
        assert copied == expected
    # A changed copy is stored from the model, no longer the message: raw included.
    retitled = received.model_copy(update={"title": "retitled"})
    assert json.loads(retitled.stored_json())["raw"] == valid()["raw"]
    received.title = "retitled"
    assert json.loads(received.stored_json())["raw"] == valid()["raw"]


def test_raw_cannot_be_changed_in_place_unnoticed() -> None:
    received = DetectionV1.from_wire(with_changes())
    with pytest.raises(TypeError):
        received.raw["EventID"] = 1


def test_utc_times_carry_the_standard_librarys_utc_and_other_offsets_stay() -> None:
    """pydantic's own tzinfo for parsed UTC times makes every comparison and database
    encoding ask Python for the offset; the detection's times use `datetime.UTC` instead,
    and read and write the same."""
    sent = json.loads(detection("t", "d1").model_dump_json())
    sent |= {"event_time": "2026-03-01T12:00:00.250+02:00", "ingested_at": "2026-03-01T12:00:00Z"}
    for received in (
        DetectionV1.from_wire(json.dumps(sent).encode()),
        DetectionV1.model_validate(sent),
    ):
        assert received.ingested_at.tzinfo is UTC
        assert received.effective_time.tzinfo is UTC
        assert received.event_time is not None
        assert received.event_time.utcoffset() == timedelta(hours=2)
        assert received.event_time == datetime(2026, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC)
        dumped = json.loads(received.model_dump_json())
        assert (dumped["event_time"], dumped["ingested_at"]) == (
            "2026-03-01T12:00:00.250000+02:00",
            "2026-03-01T12:00:00Z",
        )
