"""Message contracts: checked-in schema snapshots, and a compatibility check that fails
on a breaking change."""

from __future__ import annotations

import functools
import json
import operator
import uuid
from enum import StrEnum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, TypeAdapter

from libs.common.contracts.compat import breaking_changes
from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.snapshots import current_schemas, render, snapshot_path
from tests.support.detections import detection


@pytest.mark.parametrize("topic", sorted(current_schemas()))
def test_snapshot_is_checked_in_and_current(topic: str) -> None:
    path = snapshot_path(topic)
    assert path.exists(), f"no snapshot for {topic}: run `make schemas` and commit it"
    snapshot = json.loads(path.read_text())
    problems = breaking_changes(snapshot, current_schemas()[topic])
    assert not problems, f"breaking change to {topic}; publish a .v2 instead: {problems}"
    assert path.read_text() == render(current_schemas()[topic]), (
        f"{topic} changed compatibly: run `make schemas` and commit the snapshot"
    )


class Level(StrEnum):
    LOW = "low"
    HIGH = "high"


class V1(BaseModel):
    id: str
    level: Level
    note: str | None = None
    count: int = 0


def schema(model: type[BaseModel]) -> dict[str, object]:
    return model.model_json_schema()


def test_adding_an_optional_field_is_compatible() -> None:
    class V1Plus(V1):
        extra: str | None = None

    assert breaking_changes(schema(V1), schema(V1Plus)) == []


def test_removing_a_field_is_breaking() -> None:
    class Without(BaseModel):
        id: str
        level: Level
        count: int = 0

    assert breaking_changes(schema(V1), schema(Without)) == ["$.note: property removed"]


def test_making_a_field_required_is_breaking() -> None:
    class Stricter(BaseModel):
        id: str
        level: Level
        note: str | None
        count: int = 0

    assert breaking_changes(schema(V1), schema(Stricter)) == ["$.note: became required"]


def test_changing_a_type_is_breaking() -> None:
    class Retyped(BaseModel):
        id: int
        level: Level
        note: str | None = None
        count: int = 0

    assert breaking_changes(schema(V1), schema(Retyped)) == ["$.id: type changed"]


def test_removing_an_enum_value_is_breaking() -> None:
    class Narrow(StrEnum):
        LOW = "low"

    class Narrowed(BaseModel):
        id: str
        level: Narrow
        note: str | None = None
        count: int = 0

    assert breaking_changes(schema(V1), schema(Narrowed)) == [
        "$.level: enum values removed: ['high']"
    ]


def test_removing_an_event_variant_is_breaking() -> None:
    class Opened(BaseModel):
        type: Literal["opened"] = "opened"

    class Closed(BaseModel):
        type: Literal["closed"] = "closed"

    class Merged(BaseModel):
        type: Literal["merged"] = "merged"

    def union(*variants: type[BaseModel]) -> dict[str, object]:
        members = functools.reduce(operator.or_, variants)
        return TypeAdapter(Annotated[members, Field(discriminator="type")]).json_schema()  # type: ignore[arg-type]

    assert breaking_changes(union(Opened, Closed, Merged), union(Opened, Merged)) == [
        "$: variant removed: const:closed"
    ]
    assert breaking_changes(union(Opened, Closed), union(Opened, Closed, Merged)) == []


def test_cloudevent_headers_round_trip() -> None:
    attributes = CloudEventAttributes(
        source="casestream/test",
        type="casestream.case.opened.v1",
        subject=str(uuid.uuid4()),
        tenantid="acme",
    )
    headers = attributes.to_headers()
    assert headers["ce_specversion"] == "1.0"
    assert CloudEventAttributes.from_headers(headers) == attributes


def test_cloudevent_headers_missing_attributes_are_named() -> None:
    with pytest.raises(ValueError, match="ce_tenantid"):
        CloudEventAttributes.from_headers({"ce_id": "1", "ce_source": "s", "ce_type": "t"})


def test_a_detection_read_off_the_wire_is_stored_as_received_until_it_changes() -> None:
    document = detection("acme", "d-1").model_dump_json().replace('"title":', '"title" :')
    assert '"title" :' in document  # spaced as pydantic would not write it
    received = DetectionV1.from_wire(document.encode())
    assert received.stored_json() == document  # the bytes as received, spacing and all
    assert received.model_copy().stored_json() == document
    assert received.model_copy(update={"title": "t2"}).stored_json() == (
        received.model_copy(update={"title": "t2"}).model_dump_json()
    )
    received.title = "renamed"
    assert json.loads(received.stored_json())["title"] == "renamed"
