"""Pure grouping rules: which detections share a case under a policy: strategies, sliding
and fixed windows, the per-case cap, and the severity mapping."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1, MitreV1, Severity
from libs.common.policies.alerting import (
    AlertingPolicy,
    DedupPolicy,
    GroupingPolicy,
    SeverityThresholds,
    Strategy,
    WindowKind,
)
from libs.common.policies.grouping import OpenSlot, Reason, group_key, plan_segments
from tests.support.detections import T0, detection

WINDOW = GroupingPolicy(strategy=Strategy.HOST_RULE, window_seconds=3600)


def ids(segments: list) -> list[tuple[bool, list[str]]]:  # type: ignore[type-arg]
    return [(s.case_id is not None, [d.detection_id for d in s.detections]) for s in segments]


def test_a_gap_longer_than_the_window_starts_a_new_case() -> None:
    batch = [
        detection("t", "a", minutes=0),
        detection("t", "b", minutes=50),
        detection("t", "c", minutes=170),
    ]
    assert ids(plan_segments(None, batch, WINDOW)) == [(False, ["a", "b"]), (False, ["c"])]


def test_the_window_slides_with_each_detection() -> None:
    batch = [detection("t", str(i), minutes=i * 50) for i in range(5)]  # 200 min in all
    assert ids(plan_segments(None, batch, WINDOW)) == [(False, ["0", "1", "2", "3", "4"])]


def test_detections_join_the_open_slot_within_the_window_in_any_order() -> None:
    slot = OpenSlot("k", uuid.uuid4(), "in_progress", T0, T0 + timedelta(minutes=10))
    batch = [detection("t", "late", minutes=60), detection("t", "early", minutes=-55)]
    assert ids(plan_segments(slot, batch, WINDOW)) == [(True, ["early", "late"])]


def test_a_closed_case_is_not_grown() -> None:
    slot = OpenSlot("k", uuid.uuid4(), "closed", T0, T0)
    assert ids(plan_segments(slot, [detection("t", "a", minutes=1)], WINDOW)) == [(False, ["a"])]


def test_a_fixed_window_cuts_at_its_boundary_however_close_the_detections() -> None:
    fixed = GroupingPolicy(window_seconds=3600, window_kind=WindowKind.FIXED)
    # T0 is 12:00 on the hour: 12:50 and 13:05 are 15 minutes apart but in two windows.
    batch = [detection("t", "a", minutes=0), detection("t", "b", minutes=50)]
    batch.append(detection("t", "c", minutes=65))
    assert ids(plan_segments(None, batch, fixed)) == [(False, ["a", "b"]), (False, ["c"])]
    # The same detections slide into one case.
    assert ids(plan_segments(None, batch, WINDOW)) == [(False, ["a", "b", "c"])]


def test_a_full_case_is_continued_by_a_linked_case() -> None:
    capped = GroupingPolicy(window_seconds=3600, max_alerts_per_case=3)
    slot = OpenSlot("k", uuid.uuid4(), "new", T0, T0, alert_count=2)
    batch = [detection("t", str(i), minutes=i) for i in range(5)]
    segments = plan_segments(slot, batch, capped)
    assert ids(segments) == [(True, ["0"]), (False, ["1", "2", "3"]), (False, ["4"])]
    assert [s.reason for s in segments[1:]] == [Reason.CASE_FULL, Reason.CASE_FULL]
    assert segments[1].continues == slot.case_id
    assert segments[2].continues == segments[1].new_case_id


def with_entities(
    name: str, *entities: tuple[EntityType, str], techniques: tuple[str, ...] = ()
) -> DetectionV1:
    base = detection("t", name, host="ws-1")
    return base.model_copy(
        update={
            "entities": [EntityV1(type=kind, value=value) for kind, value in entities],
            "mitre": MitreV1(tactics=["execution"], techniques=list(techniques)),
        }
    )


def test_each_strategy_keys_on_what_it_names() -> None:
    d = with_entities(
        "x", (EntityType.USER, "alice"), (EntityType.IP, "10.0.0.1"), techniques=("T1059",)
    )
    by_user = GroupingPolicy(strategy=Strategy.ENTITY, entity_types=(EntityType.USER,))
    assert group_key(d, by_user).key == "entity:user=alice"
    by_ip_first = GroupingPolicy(strategy=Strategy.ENTITY, entity_types=(EntityType.IP, "user"))
    assert group_key(d, by_ip_first).values == {"ip": "10.0.0.1"}
    assert group_key(d, GroupingPolicy(strategy=Strategy.TECHNIQUE)).key == "technique=T1059"
    category = group_key(d, GroupingPolicy(strategy=Strategy.CATEGORY_SENSOR))
    assert category.key == "category=execution|host=ws-1"
    assert group_key(d, GroupingPolicy(strategy=Strategy.HOST_RULE)).key == "host=ws-1|rule=r1"
    assert group_key(d, GroupingPolicy()).key == "entity:host=ws-1"  # the default


def test_a_strategy_with_nothing_to_key_on_falls_back_to_host_and_rule() -> None:
    d = with_entities("x")  # no user entity, no technique
    for policy in (
        GroupingPolicy(strategy=Strategy.ENTITY, entity_types=(EntityType.USER,)),
        GroupingPolicy(strategy=Strategy.TECHNIQUE),
    ):
        group = group_key(d, policy)
        assert (group.key, group.fallback) == ("host=ws-1|rule=r1", True)


@pytest.mark.parametrize(
    ("priority", "source", "expected"),
    [
        (10, Severity.LOW, Severity.CRITICAL),
        (8, Severity.LOW, Severity.CRITICAL),
        (7, Severity.CRITICAL, Severity.HIGH),
        (5, Severity.LOW, Severity.HIGH),
        (3, Severity.LOW, Severity.MEDIUM),
        (2, Severity.HIGH, Severity.LOW),
        (0, Severity.INFO, Severity.LOW),  # never info
        (None, Severity.HIGH, Severity.HIGH),  # no priority: the source's severity
        (None, Severity.INFO, Severity.LOW),
    ],
)
def test_priority_maps_to_severity_by_the_default_thresholds(
    priority: int | None, source: Severity, expected: Severity
) -> None:
    d = detection("t", "x", severity=source).model_copy(update={"priority": priority})
    assert AlertingPolicy().severity.severity_for(d) is expected


def test_thresholds_are_per_tenant_and_checked() -> None:
    strict = SeverityThresholds(critical=10, high=9, medium=7)
    d = detection("t", "x").model_copy(update={"priority": 8})
    assert strict.severity_for(d) is Severity.MEDIUM
    with pytest.raises(ValidationError, match="critical >= high >= medium"):
        SeverityThresholds(critical=3, high=5)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AlertingPolicy.model_validate({"grouping": {"windw_seconds": 60}})
    with pytest.raises(ValidationError, match="greater than or equal to 60"):
        GroupingPolicy(window_seconds=10)
    with pytest.raises(ValidationError, match=r"unknown fingerprint fields \['rule.idd'\]"):
        DedupPolicy(fingerprint_fields=("rule.idd", "entity.user"))
