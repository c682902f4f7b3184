"""Property tests: whatever JSON object arrives, every adapter either returns a valid
DetectionV1 or raises an AdapterError whose text names the format and the problem.
Nothing else may escape, since one bad item must not fail a whole batch."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.contracts.detections import DetectionV1
from services.ingest.adapters import (
    ADAPTERS,
    AdapterError,
    FormatAdapter,
    detect_adapter,
)
from tests.ingest.adapters.golden import DATA, NOW, TENANT, shared_records

FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# JSON as an HTTP body can carry it, NaN and Infinity included (Python's json accepts them).
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            " ",
            "1",
            "2004",
            "alert",
            "notice",
            "high",
            "T1059",
            "attack.t1003",
            "2024-06-09T13:52:07Z",
            "1700000000000",
            "10.0.0.1",
            "::1",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@cache
def real_samples() -> list[dict[str, Any]]:
    samples = [
        json.loads(path.read_text())
        for path in sorted(DATA.glob("*/*.json"))
        if not path.name.endswith(".expected.json")
    ]
    samples += shared_records("alerts/suricata_eve.jsonl.gz")[:3]
    samples += shared_records("alerts/zeek_notice.jsonl.gz")[:2]
    samples += shared_records("detections/sigma_regression.jsonl.gz")[:2]
    return samples


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path of a document, so a mutation can land anywhere in it."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated_samples(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(real_samples()))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        targets = paths(document)
        if not targets:
            break
        *parents, last = draw(st.sampled_from(targets))
        node: Any = document
        for part in parents:
            node = node[part]
        if isinstance(node, dict) and draw(st.booleans()):
            del node[last]
        else:
            node[last] = draw(JSON)
    return document


def outcome(adapter: FormatAdapter, document: dict[str, Any]) -> DetectionV1 | AdapterError:
    try:
        return adapter.normalize(document, TENANT, NOW)
    except AdapterError as error:
        return error


def assert_total(adapter: FormatAdapter, document: dict[str, Any]) -> None:
    result = outcome(adapter, document)
    if isinstance(result, AdapterError):
        assert str(result).startswith(f"{adapter.name}: ")
        assert len(str(result)) > len(adapter.name) + 2
        return
    assert result.format == adapter.name
    result.model_dump_json()  # what ingest publishes must serialize


@FAST
@given(st.dictionaries(st.text(max_size=12), JSON, max_size=8))
def test_random_objects(document: dict[str, Any]) -> None:
    for adapter in ADAPTERS:
        assert_total(adapter, document)


@FAST
@given(mutated_samples())
def test_mutated_real_samples(document: dict[str, Any]) -> None:
    for adapter in ADAPTERS:
        assert_total(adapter, document)


@FAST
@given(mutated_samples() | st.dictionaries(st.text(max_size=12), JSON, max_size=8))
def test_detection_either_finds_a_format_or_says_none_matched(document: dict[str, Any]) -> None:
    try:
        adapter: FormatAdapter | None = detect_adapter(document)
    except AdapterError as error:
        adapter, reason = None, str(error)
    if adapter is None:
        assert reason.startswith("no known format matched the document")
    else:
        assert_total(adapter, document)
