"""Rule files: what a tenant writes, what loading refuses and how it says so, and which
detections a rule sees as which entity."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.common.contracts.detections import EntityV1, MitreV1, Severity
from services.alerting.correlation.__main__ import main as check_main
from services.alerting.correlation.evaluation import observe
from services.alerting.correlation.loading import (
    InvalidCorrelationRules,
    load_rule_sets,
    parse_rule_set,
)
from services.alerting.correlation.rules import EventCountRule, JoinRule
from services.alerting.correlation.settings import CorrelationSettings
from tests.support.detections import detection

EXAMPLE = """
rules:
  - id: password-spray
    name: Password spray against one account
    type: event_count
    severity: high
    entity: user
    match: {mitre_technique: T1110}
    threshold: 5
    window: 10m
  - id: recon-then-exec
    name: Discovery, then execution, then persistence
    type: temporal_ordered
    severity: critical
    entity: host
    steps:
      - {rule_id: [recon-1, recon-2]}
      - {mitre_technique: T1059}
      - {severity_at_least: high, fields: [{path: raw.category, equals: persistence}]}
    window: 2h
  - id: same-session
    name: Phishing click and download in one session
    type: join
    severity: medium
    left: {rule_name: Phishing link clicked}
    right: {rule_id: download}
    by: raw.session_id
    window: 30m
  - id: logon-spike
    name: Unusual number of logons
    type: baseline_deviation
    severity: medium
    entity: user
    entity_role: actor
    match: {rule_id: logon}
    bucket: 1h
    history: 24
    k: 3
  - id: backup-unfinished
    name: Backup started but never finished
    type: missing_event
    severity: low
    entity: host
    first: {rule_id: backup-start}
    followed_by: {rule_id: backup-end}
    window: 6h
    grace: 15m
"""


def test_the_example_rule_file_loads_every_type() -> None:
    rules = parse_rule_set(EXAMPLE, "acme.yaml").rules
    assert [r.type for r in rules] == [
        "event_count",
        "temporal_ordered",
        "join",
        "baseline_deviation",
        "missing_event",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules: [{id: spray, name: n, type: event_count, severity: high, entity: user,"
            " match: {rule_id: r}, threshold: 1, window: 10m}]",
            "rule 'spray' (#1), threshold: Input should be greater than or equal to 2",
        ),
        (
            "rules: [{id: spray, name: n, type: event_count, severity: high, entity: user,"
            " match: {}, threshold: 3, window: 10m}]",
            "rule 'spray' (#1), match: a match needs at least one condition",
        ),
        (
            "rules: [{id: w, name: n, type: event_count, severity: high, entity: user,"
            " match: {rule_id: r}, threshold: 3, window: ten minutes}]",
            "rule 'w' (#1), window: 'ten minutes' is not a duration",
        ),
        (
            "rules: [{id: j, name: n, type: join, severity: low, left: {rule_id: a},"
            " right: {rule_id: b}, by: hostname, window: 1h}]",
            "rule 'j' (#1), by: unknown field path 'hostname'",
        ),
        ("rules: [{id: t, name: n, severity: low}]", "rule 't' (#1): needs a `type`"),
        (
            "rules: [{id: x, name: n, type: event_count, severity: high, entity: user,"
            " match: {rule_id: r}, threshold: 3, window: 1h, treshold: 4}]",
            "rule 'x' (#1), treshold: Extra inputs are not permitted",
        ),
        ("rules: [{id: a, name: n, type: join}, {}]", "rule #2: needs a `type`"),
        ("rules: !!python/object:os.system {}", "not valid YAML"),
        ("[1, 2]", "expected a mapping with a `rules` list"),
    ],
)
def test_invalid_rules_are_refused_naming_the_rule_and_the_problem(
    text: str, expected: str
) -> None:
    with pytest.raises(InvalidCorrelationRules) as refused:
        parse_rule_set(text, "acme.yaml")
    assert refused.value.message.startswith("acme.yaml: ")
    assert expected in refused.value.message


def test_rules_come_from_a_directory_and_per_tenant_files(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "acme.yaml").write_text(EXAMPLE)
    (tmp_path / "dir" / "globex.yml").write_text("rules: []")
    (tmp_path / "dir" / "notes.txt").write_text("not rules")
    (tmp_path / "initech.yaml").write_text(EXAMPLE)
    rule_sets = load_rule_sets(
        CorrelationSettings(
            rules_dir=tmp_path / "dir",
            rules_files={"initech": tmp_path / "initech.yaml", "globex": tmp_path / "initech.yaml"},
        )
    )
    assert {t: len(r.rules) for t, r in rule_sets.items()} == {
        "acme": 5,
        "globex": 5,
        "initech": 5,
    }


def test_one_bad_file_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text("rules: [{id: x}]")
    with pytest.raises(InvalidCorrelationRules, match=r"acme\.yaml: rule 'x'"):
        load_rule_sets(CorrelationSettings(rules_dir=tmp_path))


def test_a_rule_sees_each_entity_of_its_type_once() -> None:
    rule = parse_rule_set(EXAMPLE, "acme.yaml").rules[0]
    assert isinstance(rule, EventCountRule)
    spray = detection("t", "d1").model_copy(
        update={
            "mitre": MitreV1(techniques=["T1110.003"]),
            "entities": [
                EntityV1(type="user", value="alice", role="target"),
                EntityV1(type="user", value="bob", role="actor"),
                EntityV1(type="user", value="alice", role="actor"),
                EntityV1(type="ip", value="10.0.0.1"),
            ],
        }
    )
    assert sorted(observe(rule, spray)) == ["alice", "bob"]
    assert observe(rule, detection("t", "d2")) == {}  # no T1110


def test_entity_role_host_field_and_field_conditions() -> None:
    rules = parse_rule_set(EXAMPLE, "acme.yaml").rules
    spike, ordered = rules[3], rules[1]
    logon = detection("t", "d1", rule="logon").model_copy(
        update={
            "entities": [
                EntityV1(type="user", value="alice", role="target"),
                EntityV1(type="user", value="bob", role="actor"),
            ]
        }
    )
    assert list(observe(spike, logon)) == ["bob"]
    persistence = detection("t", "d2", host="ws1", severity=Severity.HIGH).model_copy(
        update={"raw": {"category": "persistence"}}
    )
    assert {k: [o.step for o in v] for k, v in observe(ordered, persistence).items()} == {
        "ws1": [2]
    }
    low = persistence.model_copy(update={"severity": Severity.LOW})
    assert observe(ordered, low) == {}


def test_join_keys_on_the_shared_field_value() -> None:
    rule = parse_rule_set(EXAMPLE, "acme.yaml").rules[2]
    assert isinstance(rule, JoinRule)
    download = detection("t", "d1", rule="download").model_copy(
        update={"raw": {"session_id": 4711}}
    )
    assert {k: [o.step for o in v] for k, v in observe(rule, download).items()} == {"4711": [1]}
    assert observe(rule, detection("t", "d2", rule="download")) == {}  # no session: no key


def test_the_check_command_lists_rules_or_names_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "acme.yaml", tmp_path / "globex.yaml"
    good.write_text(EXAMPLE)
    bad.write_text("rules: [{id: x, type: join}]")
    assert check_main(["check", str(good)]) == 0
    assert "password-spray (event_count)" in capsys.readouterr().out
    assert check_main(["check", str(good), str(bad)]) == 1
    errors = capsys.readouterr().err
    assert "globex.yaml: rule 'x' (#1), " in errors
    assert "rule 'x' (#1), name: Field required" in errors
