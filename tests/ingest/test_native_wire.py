"""The native fast path (services/ingest/native_wire.py) against the pydantic path: for
the same document, the same message or no fast-path message at all. Pure logic, no I/O."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import CloudEventAttributes, new_event_ids
from services.ingest.adapters import ADAPTERS, SNIFF_KEYS, SNIFF_PREFIXES, adapter_named
from services.ingest.bodies import parse_documents, split_documents
from services.ingest.entity_rules import EntityExtractor, EntityRule
from services.ingest.native_wire import DetectionOut, NativeWire, WireBatch
from services.ingest.publisher import DetectionHeaders
from services.ingest.schemas import IngestOutcome, IngestResponse, ItemOutcome, ItemStatus
from services.ingest.service import encode_detection, unstorable, validate_item
from tests.ingest.adapters.golden import DATA, shared_records
from tests.ingest.adapters.test_fuzz import JSON, mutated_samples

NOW = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
TENANT = "acme"
EVENT_ID = "0b5f7a52-63e4-4d1c-9a57-2f0e3c1d4b6a"
LIMIT = 900_000
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def corpus() -> list[dict[str, Any]]:
    return (
        shared_records("detections/sigma_regression.jsonl.gz")
        + shared_records("detections/otrf_sigma.jsonl.gz")[:400]
    )


def both_paths(
    body: bytes, extractor: EntityExtractor | None = None, declared: str | None = None
) -> list[tuple[bytes | None, DetectionV1 | str]]:
    """Per document: the fast path's message (None when it declines) and what the
    pydantic path makes of the same document (a detection or the rejection reason)."""
    extractor = extractor or EntityExtractor()
    adapter = adapter_named(declared) if declared else None
    documents = split_documents(body, "application/json", 10_000)
    wire = NativeWire(extractor)
    pairs: list[tuple[bytes | None, DetectionV1 | str]] = []
    for index, item in enumerate(documents.items):
        fast = None
        if isinstance(item, msgspec.Raw):
            encoded = wire.encode(
                item, WireBatch(TENANT, NOW), EVENT_ID, adapter, documents.prefixed_keys
            )
            fast = encoded.value if encoded else None
            item = json.loads(bytes(item))
        slow = validate_item(index, item, TENANT, NOW, adapter, extractor)
        if isinstance(slow, DetectionV1):
            slow.occurrence_id = EVENT_ID
            pairs.append((fast, slow))
        else:
            pairs.append((fast, slow.reason or ""))
    return pairs


def assert_same(fast: bytes | None, slow: DetectionV1 | str) -> bool:
    """True when the fast path made the message; then it is the pydantic path's message."""
    if fast is None:
        return False
    assert isinstance(slow, DetectionV1), f"fast path accepted what the slow one rejects: {slow}"
    expected = encode_detection(slow, LIMIT)
    refusal = unstorable(fast, LIMIT)  # what the callers check of the fast path's message
    if refusal is not None:  # e.g. a NUL character in the raw payload: both refuse it
        assert expected == refusal
        return True
    assert isinstance(expected, bytes)
    # Byte for byte up to the raw payload, which is the sender's own bytes, then equal JSON.
    assert fast[: fast.index(b',"raw":')] == expected[: expected.index(b',"raw":')]
    assert json.loads(fast) == json.loads(expected)
    assert DetectionV1.model_validate_json(fast) == DetectionV1.model_validate_json(expected)
    return True


def test_every_corpus_detection_takes_the_fast_path_with_the_same_message() -> None:
    pairs = both_paths(json.dumps(corpus()).encode())
    assert all(assert_same(fast, slow) for fast, slow in pairs)


def test_the_sender_formatting_of_raw_is_kept_and_still_the_same_detection() -> None:
    body = json.dumps(corpus()[:20], indent=2, ensure_ascii=True).encode()
    assert all(assert_same(fast, slow) for fast, slow in both_paths(body))


TEXT = st.text(max_size=20) | st.sampled_from(["", " ", "é", "\u2028", "\x01", '"\\', "😀"])
TIMESTAMPS = st.sampled_from(
    [
        "2026-11-22T11:00:00Z",
        "2026-11-22T11:00:00.5+02:00",
        "2026-11-22T11:00:00",  # naive: falls back to ingest time
        "2036-01-01T00:00:00Z",  # future
        "2026-11-22 11:00:00Z",
        "2026-11-22",
        "1700000000",
        "yesterday",
        "",
    ]
) | st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat)


@st.composite
def native_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The native shape with its optional parts, values near the limits, and now and
    then a value of the wrong type or another format's marker."""
    rule: dict[str, Any] = {
        "id": draw(
            st.text(min_size=0, max_size=3) | st.sampled_from(["r-1", "x" * 256, "x" * 257])
        ),
        "title": draw(TEXT | st.sampled_from(["Title", "t" * 512, "t" * 513, "t" * 1_025])),
    }
    for key, values in (
        ("level", st.sampled_from(["high", "CRITICAL", "informational", "odd", "", "x" * 33])),
        ("description", TEXT | st.none()),
        ("tags", st.lists(TEXT, max_size=3)),
    ):
        if draw(st.booleans()):
            rule[key] = draw(values | JSON)
    document: dict[str, Any] = {"rule": rule}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "detection_id": st.sampled_from(["d-1", "", "é" * 256, "x" * 257]) | TEXT,
        "timestamp": TIMESTAMPS | st.none() | st.integers(),
        "source": st.sampled_from(["sigma", "", "s" * 129]) | TEXT,
        "mitre": st.fixed_dictionaries(
            {"techniques": st.lists(TEXT, max_size=3), "tactics": st.lists(TEXT, max_size=3)}
        ),
        "host": st.fixed_dictionaries({"name": TEXT}) | st.none(),
        "user": st.dictionaries(st.sampled_from(["name", "id"]), JSON, max_size=2) | st.none(),
        "process": st.dictionaries(st.sampled_from(["image", "pid"]), JSON, max_size=2),
        "network": st.dictionaries(st.sampled_from(["src_ip", "dst_ip"]), JSON, max_size=2),
        "file": st.fixed_dictionaries({"path": TEXT}),
        "registry": st.fixed_dictionaries({"key": JSON}),
        "observables": st.lists(
            st.fixed_dictionaries(
                {"dataType": st.sampled_from(["ip", "hostname", "Hash", "weird"]), "data": TEXT}
            ),
            max_size=4,
        ),
        "event": st.dictionaries(st.sampled_from(["kind", "id"]), JSON, max_size=2),
        "raw": JSON,
    }
    for key, values in optional.items():
        if draw(st.integers(0, 3)):  # mostly present
            document[key] = draw(values if draw(st.integers(0, 9)) else JSON)
    if draw(st.integers(0, 5)) == 0:  # another format's marker
        document[draw(st.sampled_from(sorted(SNIFF_KEYS - {"rule"})))] = draw(JSON)
    return document


@PROPERTY
@given(st.lists(native_documents(), min_size=1, max_size=4), st.booleans())
def test_fast_and_pydantic_paths_make_the_same_detection(
    documents: list[dict[str, Any]], ascii_only: bool
) -> None:
    body = json.dumps(documents, ensure_ascii=ascii_only).encode()
    for fast, slow in both_paths(body):
        assert_same(fast, slow)


@PROPERTY
@given(mutated_samples())
def test_other_formats_and_mutated_samples_never_differ(document: dict[str, Any]) -> None:
    for fast, slow in both_paths(json.dumps([document]).encode()):
        assert_same(fast, slow)


def test_plain_native_documents_do_take_the_fast_path() -> None:
    # The property tests above pass if the fast path always declines: this one does not.
    document = {"detection_id": "d-1", "rule": {"id": "r", "title": "T"}, "host": {"name": "h"}}
    ((fast, slow),) = both_paths(json.dumps(document).encode())
    assert assert_same(fast, slow)
    ((fast, slow),) = both_paths(json.dumps(document).encode(), declared="native")
    assert assert_same(fast, slow)


@pytest.mark.parametrize(
    "document",
    [
        # What a matcher would see differently on the whole document: the pydantic path.
        {
            "detection_id": "d",
            "rule": {"id": "r", "title": "T", "level": "5", "description": "x"},
            "agent": {"id": "001"},
        },  # wazuh
        {"detection_id": "d", "rule": {"id": "r", "title": "T"}, "event": {"kind": "alert"}},
        {"detection_id": "d", "rule": {"id": "r", "title": "T"}, "kibana.alert.uuid": "u"},
        {"rule": {"id": "r", "title": "T"}},  # no id: the fingerprint needs dicts
        {"detection_id": "d", "rule": {"id": "r", "title": "T"}, "timestamp": 1700000000},
    ],
    ids=["wazuh-marker", "ecs-event-kind", "ecs-prefixed-key", "no-id", "epoch-timestamp"],
)
def test_documents_it_is_not_sure_about_go_the_pydantic_way(document: dict[str, Any]) -> None:
    ((fast, slow),) = both_paths(json.dumps(document).encode())
    assert fast is None
    assert isinstance(slow, DetectionV1 | str)


def test_an_escaped_prefixed_key_is_still_seen() -> None:
    body = b'[{"detection_id": "d", "rule": {"id": "r", "title": "T"}, "\\u006bibana.alert.x": 1}]'
    ((fast, slow),) = both_paths(body)
    assert fast is None
    assert isinstance(slow, str)
    assert slow.startswith("invalid_detection: ecs: ")  # sniffed as ECS


def test_a_number_beyond_float_range_stays_as_sent() -> None:
    # The documented difference (README, "What is published"): re-encoding writes null.
    body = b'[{"detection_id": "d", "rule": {"id": "r", "title": "T"}, "raw": {"x": 1e400}}]'
    ((fast, slow),) = both_paths(body)
    assert fast is not None
    assert isinstance(slow, DetectionV1)
    assert b'"raw":{"detection_id": "d"' in fast
    assert b'{"x": 1e400}' in fast
    assert json.loads(encode_detection(slow, LIMIT))["raw"]["raw"] == {"x": None}
    assert DetectionV1.model_validate_json(fast).raw["raw"] == {"x": float("inf")}


def test_entity_rules_for_the_source_send_it_the_pydantic_way() -> None:
    extractor = EntityExtractor({"sigma": [EntityRule(path="$.raw.User", type="user")]})
    body = json.dumps(corpus()[:3]).encode()
    assert all(fast is None for fast, _ in both_paths(body, extractor))
    other = EntityExtractor({"splunk": [EntityRule(path="$.raw.User", type="user")]})
    assert all(assert_same(fast, slow) for fast, slow in both_paths(body, other))


@pytest.mark.parametrize(
    "body",
    [
        b'[{"n": ' + b"9" * 5_000 + b"}]",  # the stdlib refuses it: so must ingest
        b'[{"rule": "\xff"}]',  # not UTF-8
        b'[{"a": NaN}]',  # the stdlib reads NaN
        b'[{"a": "\\ud800"}]',  # a lone surrogate
        b"\xef\xbb\xbf[{}]",  # a byte order mark
        b"[1, 2] x",
        b"",
        b"[]",
        b'"text"',
        b"[" + b"[" * 5_000 + b"]" * 5_000 + b"]",
    ],
)
def test_bodies_split_as_the_stdlib_parses_them(body: bytes) -> None:
    def outcome(split: bool) -> Any:
        try:
            if not split:
                return parse_documents(body, "application/json", 50)
            items = split_documents(body, "application/json", 50).items
            return [json.loads(bytes(i)) if isinstance(i, msgspec.Raw) else i for i in items]
        except Exception as error:
            return (type(error), getattr(error, "details", None))

    assert repr(outcome(split=True)) == repr(outcome(split=False))


@PROPERTY
@given(st.lists(JSON, max_size=4), st.booleans())
def test_random_json_splits_into_what_the_stdlib_parses(items: list[Any], ndjson: bool) -> None:
    if ndjson:
        body = "\n".join(json.dumps(item) for item in items).encode()
        media = "application/x-ndjson"
    else:
        body, media = json.dumps(items).encode(), "application/json"
    try:
        expected: Any = parse_documents(body, media, 50)
    except Exception as error:
        expected = type(error)
    try:
        split = split_documents(body, media, 50).items
        actual: Any = [json.loads(bytes(i)) if isinstance(i, msgspec.Raw) else i for i in split]
    except Exception as error:
        actual = type(error)
    assert repr(actual) == repr(expected)


class KeyRecorder(dict[str, Any]):
    """A document that notes which keys a matcher reads (and whether it walks them all)."""

    def __init__(self, document: dict[str, Any], read: set[str]) -> None:
        super().__init__(document)
        self.read = read

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __iter__(self) -> Any:
        self.read.add("<every key>")
        return super().__iter__()


def test_matchers_read_only_the_sniff_keys() -> None:
    samples = [
        json.loads(path.read_text())
        for path in sorted(DATA.glob("*/*.json"))
        if not path.name.endswith(".expected.json")
    ]
    samples += shared_records("alerts/suricata_eve.jsonl.gz")[:3] + corpus()[:3]
    for adapter in ADAPTERS:
        read: set[str] = set()
        rule_read: set[str] = set()
        for sample in samples:
            document = KeyRecorder(sample, read)
            if isinstance(sample.get("rule"), dict):
                dict.__setitem__(document, "rule", KeyRecorder(sample["rule"], rule_read))
            adapter.matches(document)
        walks = "<every key>" in read
        assert read - {"<every key>"} <= SNIFF_KEYS, adapter.name
        assert not walks or (adapter.name == "ecs" and SNIFF_PREFIXES == ("kibana.alert",))
        # The fast path's view of `rule` carries these keys only.
        assert rule_read <= {"id", "title", "level", "description"}, adapter.name


def test_the_wire_struct_follows_the_contract_field_order() -> None:
    assert DetectionOut.__struct_fields__ == tuple(DetectionV1.model_fields)


def test_headers_are_the_cloudevents_headers_of_the_envelope() -> None:
    attributes = CloudEventAttributes(
        id=EVENT_ID,
        source="casestream/ingest",
        type="casestream.detection.v1",
        subject="d-1",
        tenantid=TENANT,
        time=NOW + timedelta(hours=1),
    )
    expected = [(name, value.encode()) for name, value in attributes.to_headers().items()]
    assert DetectionHeaders(TENANT, NOW + timedelta(hours=1)).of(EVENT_ID, "d-1") == expected


def test_event_ids_are_distinct_random_uuids() -> None:
    ids = new_event_ids(2_000)
    assert len(set(ids)) == 2_000
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_the_response_is_the_documented_shape() -> None:
    outcome = IngestOutcome(
        accepted=1,
        duplicates=1,
        rejected=1,
        items=[
            ItemOutcome(0, "a", ItemStatus.ACCEPTED),
            ItemOutcome(1, "b", ItemStatus.DUPLICATE, "duplicate: ..."),
            ItemOutcome(2, None, ItemStatus.REJECTED, "invalid_json: line 3"),
        ],
    )
    documented = IngestResponse.model_validate_json(outcome.to_json())
    assert json.loads(outcome.to_json()) == documented.model_dump(mode="json")
    assert outcome.to_details() == documented.model_dump(mode="json")
