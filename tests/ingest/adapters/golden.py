"""Golden-file support for the adapter tests: where samples live, one fixed clock, and
the comparison (run with CASESTREAM_UPDATE_GOLDEN=1 to rewrite the expected files after
a deliberate mapping change, then review the diff)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libs.common.contracts.detections import DetectionV1
from services.ingest.adapters import AdapterError, adapter_named, detect_adapter

DATA = Path(__file__).resolve().parents[2] / "data"
# The repository and shared/ sit side by side: shared data is read at test time, never copied.
SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TENANT = "golden"
UPDATE = os.environ.get("CASESTREAM_UPDATE_GOLDEN") == "1"


def load(format_name: str, sample: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / format_name / sample).read_text())
    return document


def shared_records(relative: str) -> list[dict[str, Any]]:
    return list(_read_lines(SHARED_DATA / relative))


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def normalize(format_name: str, document: dict[str, Any]) -> DetectionV1:
    return adapter_named(format_name).normalize(document, TENANT, NOW)


def comparable(detection: DetectionV1) -> dict[str, Any]:
    """The detection as JSON, without what is not the adapter's doing: ingested_at is the
    clock, occurrence_id is the ingest service's, raw is the input (asserted separately, and kept out of the checked-in files so
    that shared-data records are not copied into the repository)."""
    return detection.model_dump(mode="json", exclude={"ingested_at", "occurrence_id", "raw"})


def check_golden(format_name: str, document: dict[str, Any], expected_file: str) -> None:
    assert detect_adapter(document).name == format_name
    detection = normalize(format_name, document)
    assert detection.raw == document
    assert detection.format == format_name
    actual = comparable(detection)
    path = DATA / format_name / expected_file
    if UPDATE:
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(path.read_text())


def check_golden_records(
    format_name: str, records: dict[str, dict[str, Any]], expected_file: str
) -> None:
    """Several shared-data records against one expected file keyed by record index."""
    actual = {}
    for key, document in records.items():
        assert detect_adapter(document).name == format_name
        detection = normalize(format_name, document)
        assert detection.raw == document
        actual[key] = comparable(detection)
    path = DATA / format_name / expected_file
    if UPDATE:
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(path.read_text())


DELETE = object()


def mutated(
    document: dict[str, Any], path: str | tuple[str, ...], value: Any = DELETE
) -> dict[str, Any]:
    """A deep copy of a real sample with one field replaced or removed. A string path is
    dotted (`rule.id`); a tuple names keys that themselves contain dots (ECS)."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    *parents, last = path.split(".") if isinstance(path, str) else path
    node = copy
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return copy


def assert_rejected(format_name: str, document: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as caught:
        normalize(format_name, document)
    assert str(caught.value) == reason
