"""Configured JSONPath entity rules: loading them, and what they add to real detections.

Pure logic: no broker, no database. Shared records are read from ../shared/data at test
time, as the adapter tests do."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from libs.common.contracts.detections import DetectionV1, EntityType
from libs.common.settings import CommonSettings
from services.ingest.adapters import adapter_named
from services.ingest.entity_rules import (
    LIBRARY_NODE_LIMIT,
    RULE_ENTITY_LIMIT,
    EntityExtractor,
    EntityRule,
    EntityRuleConfig,
    _CompiledRule,
)
from tests.ingest.adapters.golden import shared_records

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CONFIG = TypeAdapter(EntityRuleConfig)


@cache
def suricata_smtp() -> DetectionV1:
    # Record 293: SMTP between two internal hosts; the adapter found both IPs and emails.
    record = shared_records("alerts/suricata_eve.jsonl.gz")[293]
    return adapter_named("suricata").normalize(record, "t", NOW)


@cache
def native_process() -> DetectionV1:
    # Record 1: a Sysmon process creation with user, parent image and hashes.
    record = shared_records("detections/sigma_regression.jsonl.gz")[1]
    return adapter_named("native").normalize(record, "t", NOW)


def rules(config: dict[str, Any]) -> EntityExtractor:
    return EntityExtractor(CONFIG.validate_python(config))


def added(before: DetectionV1, after: DetectionV1) -> list[tuple[str, str, str | None]]:
    assert after.entities[: len(before.entities)] == before.entities
    return [(e.type.value, e.value, e.role) for e in after.entities[len(before.entities) :]]


def synthetic(raw: dict[str, Any], source: str = "lab", format_name: str = "native") -> DetectionV1:
    return native_process().model_copy(
        update={"raw": raw, "source": source, "format": format_name, "entities": []}
    )


class IngestWithRules(BaseModel):
    entity_rules: EntityRuleConfig = Field(default_factory=dict)


class RulesSettings(CommonSettings):
    # What the `ingest.entity_rules` settings field will look like.
    ingest: IngestWithRules = IngestWithRules()


def test_settings_read_rules_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    rules_json = json.dumps(
        {
            "splunk-prod": [
                {"path": "$.result.src_user", "type": "user", "role": "actor"},
                {"path": "$.result.dest_hosts[*]", "type": "host"},
            ]
        }
    )
    monkeypatch.setenv("CASESTREAM__INGEST__ENTITY_RULES", rules_json)
    loaded = RulesSettings().ingest.entity_rules
    assert loaded == {
        "splunk-prod": [
            EntityRule(path="$.result.src_user", type=EntityType.USER, role="actor"),
            EntityRule(path="$.result.dest_hosts[*]", type=EntityType.HOST),
        ]
    }


def test_an_invalid_path_fails_settings_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"splunk-prod": [{"path": "$.result[", "type": "user"}]}
    monkeypatch.setenv("CASESTREAM__INGEST__ENTITY_RULES", json.dumps(bad))
    with pytest.raises(ValidationError) as caught:
        RulesSettings()
    [error] = caught.value.errors()
    assert error["loc"] == ("ingest", "entity_rules", "splunk-prod", 0, "path")
    assert "invalid JSONPath '$.result['" in error["msg"]


@pytest.mark.parametrize(
    "path",
    [
        "result.src_user",  # RFC 9535 requires the leading `$`
        "$.a | $.b",  # the library's union extension, off in strict mode
        "$.a[?@.b ==]",
        " $.a",
    ],
)
def test_paths_outside_rfc_9535_are_rejected(path: str) -> None:
    with pytest.raises(ValidationError, match="invalid JSONPath"):
        EntityRule(path=path, type=EntityType.HOST)


def test_unknown_entity_type_and_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        CONFIG.validate_python({"x": [{"path": "$.a", "type": "hostname"}]})
    assert caught.value.errors()[0]["loc"] == ("x", 0, "type")
    assert "'host'" in caught.value.errors()[0]["msg"]
    with pytest.raises(ValidationError, match="kind"):
        CONFIG.validate_python({"x": [{"path": "$.a", "type": "host", "kind": "actor"}]})


def test_suricata_rules_add_what_the_adapter_did_not_map() -> None:
    detection = suricata_smtp()
    extractor = rules(
        {
            "suricata": [
                {"path": "$.smtp.helo", "type": "host", "role": "src"},
                {"path": "$.dest_port", "type": "other", "role": "port"},
                {"path": "$.src_ip", "type": "ip", "role": "attacker"},  # adapter has it
            ]
        }
    )
    result = extractor.apply(detection)
    assert added(detection, result) == [
        ("host", "debian.localdomain", "src"),
        ("other", "25", "port"),
    ]
    # The adapter's entity and role stand; the rule did not add a second one.
    assert [(e.value, e.role) for e in result.entities if e.type is EntityType.IP] == [
        ("10.206.220.211", "src"),
        ("10.10.1.6", "dst"),
    ]
    result.model_dump_json()


def test_native_rules_by_format_and_by_source_most_specific_first() -> None:
    detection = native_process()
    assert (detection.source, detection.format) == ("sigma", "native")
    extractor = rules(
        {
            "native": [
                {"path": "$.raw.ParentImage", "type": "process", "role": "parent"},
                {"path": "$.raw.User", "type": "user", "role": "from-format"},
            ],
            "sigma": [{"path": "$.raw.User", "type": "user", "role": "actor"}],
            "*": [{"path": "$.host.short", "type": "host"}],
            "splunk-prod": [{"path": "$.raw.Company", "type": "other"}],
        }
    )
    assert added(detection, extractor.apply(detection)) == [
        ("user", "AR-WIN-1\\Administrator", "actor"),
        ("process", "C:\\Windows\\System32\\cmd.exe", "parent"),
        # host "ar-win-1" is the adapter's already: nothing from "*".
    ]


def test_wildcards_arrays_and_descendants() -> None:
    raw = {
        "result": {
            "dest_hosts": ["web-1", "web-2", "web-1"],
            "single": "db-1",
            "mixed": ["a", {"nested": "object"}, ["deeper"], None, 7],
        },
        "events": [
            {"id": 1, "user": {"name": "alice"}},
            {"id": 2, "user": {"name": "bob"}},
            {"id": 3, "user": {}},
        ],
    }
    extractor = rules(
        {
            "lab": [
                {"path": "$.result.dest_hosts[*]", "type": "host"},
                {"path": "$.result.single", "type": "host"},
                {"path": "$.result.mixed", "type": "other"},  # a list matched whole
                {"path": "$.events[*].user.name", "type": "user"},
                {"path": "$..name", "type": "other", "role": "any-name"},
                {"path": "$.events[?@.user.name == 'bob'].id", "type": "other", "role": "bob"},
                {"path": "$.events", "type": "other", "role": "objects"},  # skipped
                {"path": "$.missing[*]", "type": "host"},
            ]
        }
    )
    detection = synthetic(raw)
    assert added(detection, extractor.apply(detection)) == [
        ("host", "web-1", None),
        ("host", "web-2", None),
        ("host", "db-1", None),
        ("other", "a", None),
        ("other", "7", None),
        ("user", "alice", None),
        ("user", "bob", None),
        ("other", "alice", "any-name"),
        ("other", "bob", "any-name"),
        ("other", "2", "bob"),
    ]


def test_numbers_become_text_and_blank_or_odd_values_are_skipped() -> None:
    raw = {
        "v": [443, 2.5, -1, True, False, None, "", "   ", " padded ", float("nan"), 10**5000],
        "long": "x" * 5_000,
        "ips": ["10.0.0.1", "unknown", "-", "::0001", 3232235521],
    }
    extractor = rules(
        {
            "lab": [
                {"path": "$.v[*]", "type": "other"},
                {"path": "$.long", "type": "url"},
                {"path": "$.ips[*]", "type": "ip"},
            ]
        }
    )
    detection = synthetic(raw)
    result = added(detection, extractor.apply(detection))
    assert result[:4] == [
        ("other", "443", None),
        ("other", "2.5", None),
        ("other", "-1", None),
        ("other", "padded", None),
    ]
    assert result[4] == ("url", "x" * 2_048, None)
    # IPs in the adapters' canonical form; words and integers are not addresses to them.
    assert result[5:] == [("ip", "10.0.0.1", None), ("ip", "::1", None)]


def test_each_rule_adds_at_most_its_limit() -> None:
    raw = {
        "many": [f"host-{index}" for index in range(5 * RULE_ENTITY_LIMIT)],
        "repeated": ["same"] * 50_000 + ["late"],
        "other": "still-added",
    }
    extractor = rules(
        {
            "lab": [
                {"path": "$.many[*]", "type": "host"},
                {"path": "$.repeated[*]", "type": "user"},
                {"path": "$.other", "type": "host"},
            ]
        }
    )
    detection = synthetic(raw)
    result = added(detection, extractor.apply(detection))
    hosts = [value for kind, value, _ in result if kind == "host"]
    assert hosts == [f"host-{index}" for index in range(RULE_ENTITY_LIMIT)] + ["still-added"]
    # A rule looks at a bounded number of values, so 50,000 repeats hide "late".
    assert [value for kind, value, _ in result if kind == "user"] == ["same"]


def test_without_matching_rules_the_detection_passes_through_unchanged() -> None:
    detection = native_process()
    assert EntityExtractor().apply(detection) is detection
    assert EntityExtractor({}).apply(detection) == detection
    elsewhere = rules({"splunk-prod": [{"path": "$.raw.User", "type": "user"}]})
    assert elsewhere.apply(detection) is detection
    nothing_new = rules({"sigma": [{"path": "$.host.name", "type": "host"}]})
    assert nothing_new.apply(detection) == detection


def test_descent_past_the_depth_limit_keeps_the_detection() -> None:
    deep: dict[str, Any] = {"name": "leaf"}
    for _ in range(300):
        deep = {"name": "level", "child": deep}
    extractor = rules({"lab": [{"path": "$..name", "type": "other"}]})
    detection = synthetic(deep)
    # The library stops `..` at depth 100; what it found before that is kept.
    assert added(detection, extractor.apply(detection)) == [("other", "level", None)]


def test_large_documents_skip_only_the_rules_the_library_must_walk() -> None:
    raw = {"events": [{"name": f"n{index}"} for index in range(LIBRARY_NODE_LIMIT)], "u": "alice"}
    extractor = rules(
        {
            "lab": [
                {"path": "$..name", "type": "other"},  # would visit every node
                {"path": "$.events[?@.name == 'n5'].name", "type": "other"},
                {"path": "$.events[1].name", "type": "host"},
                {"path": "$.u", "type": "user"},
            ]
        }
    )
    detection = synthetic(raw)
    assert added(detection, extractor.apply(detection)) == [
        ("host", "n1", None),
        ("user", "alice", None),
    ]


FUZZ_RULES = rules(
    {
        "*": [
            {"path": "$..*", "type": "other"},
            {"path": "$..name", "type": "user", "role": "actor"},
            {"path": "$.a[*].b", "type": "host"},
            {"path": "$[?@.a > 1 || @.b == 'x']", "type": "other"},
            {"path": "$..[?match(@, '1.*') || length(@) > 2]", "type": "ip"},
            {"path": "$.a[-1:0:-2]", "type": "url"},
            {"path": "$..[?count(@.*) == 1 && value(@..*) != null]", "type": "file"},
        ]
    }
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "10.0.0.1", "::1", "x" * 3_000, "name", "1e999"])
)
# Mostly the names the rules look for, so that filters and paths do match something.
KEYS = st.sampled_from(["a", "b", "name"]) | st.text(max_size=8)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=30,
)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.dictionaries(KEYS, JSON, max_size=8))
def test_any_json_in_raw_never_raises(raw: dict[str, Any]) -> None:
    detection = synthetic(raw)
    result = FUZZ_RULES.apply(detection)
    assert len(result.entities) <= 7 * RULE_ENTITY_LIMIT
    keys = [(entity.type, entity.value) for entity in result.entities]
    assert len(keys) == len(set(keys))
    assert all(0 < len(entity.value) <= 2_048 for entity in result.entities)
    DetectionV1.model_validate_json(result.model_dump_json())


# Paths the extractor walks itself rather than through the library (names, indexes and
# wildcards only), next to the library's own answer for the same path.
PLAIN_PATHS = [
    "$",
    "$.a",
    "$.a.b",
    "$.a[0]",
    "$.a[-1].name",
    "$.*",
    "$.a[*]",
    "$.*.*[1]",
    "$['a'][*]['b']",
]


@FUZZ
@given(st.dictionaries(KEYS, JSON, max_size=8), st.sampled_from(PLAIN_PATHS))
def test_plain_paths_match_as_the_library_does(raw: dict[str, Any], path: str) -> None:
    rule = _CompiledRule(EntityRule(path=path, type=EntityType.OTHER))
    assert rule.steps is not None
    assert list(rule.matches(raw)) == rule.path.findall(raw)
