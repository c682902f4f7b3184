"""The chain strategy's pure rules: which open case a detection joins by a shared matched
event, whom it follows inside a batch, and what happens without either."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1
from libs.common.policies.alerting import ChainFallback, GroupingPolicy, Strategy, WindowKind
from libs.common.policies.chaining import ChainCandidate, ChainPlan, plan_chains
from libs.common.policies.grouping import group_key
from tests.support.detections import T0, detection

CHAIN = GroupingPolicy(
    strategy=Strategy.CHAIN, chain_fallback=ChainFallback.HOST_RULE, window_seconds=3600
)


def matched(
    name: str, *events: str, host: str = "h1", rule: str = "r1", minutes: float = 0
) -> DetectionV1:
    base = detection("t", name, host=host, rule=rule, minutes=minutes)
    return base.model_copy(update={"matched_event_ids": list(events)})


def holding(event: str, number: int, minutes: float = 0, alert_count: int = 1) -> ChainCandidate:
    """An open case numbered `number` holding one alert over `event`, at T0 + minutes."""
    at = T0 + timedelta(minutes=minutes)
    case_id = uuid.UUID(int=number)
    return ChainCandidate(event, uuid.uuid4(), case_id, number, at, at, alert_count)


def plan(
    detections: list[DetectionV1],
    candidates: list[ChainCandidate] = (),  # type: ignore[assignment]
    policy: GroupingPolicy = CHAIN,
) -> ChainPlan:
    return plan_chains(detections, candidates, policy, lambda d: group_key(d, policy))


def joined(result: ChainPlan) -> dict[int, list[str]]:
    return {c.int: [d.detection_id for d in ds] for c, ds in result.joins.items()}


def test_a_detection_joins_the_open_case_holding_its_event_whatever_its_key() -> None:
    result = plan([matched("d", "e2", "e1", host="other", rule="r9")], [holding("e1", 7)])
    assert joined(result) == {7: ["d"]}
    link = result.links["d"]
    assert (link.case_id, link.shared_event_ids) == (uuid.UUID(int=7), ["e1"])
    assert result.keys == {}


def test_with_several_cases_the_oldest_is_joined_and_the_others_named() -> None:
    result = plan([matched("d", "e1", "e2")], [holding("e2", 9), holding("e1", 4)])
    assert joined(result) == {4: ["d"]}
    assert result.links["d"].other_case_ids == [uuid.UUID(int=9)]


def test_no_shared_event_falls_back_to_the_configured_key() -> None:
    result = plan([matched("d", "e5"), matched("n")], [holding("e1", 3)])
    assert joined(result) == {}
    assert result.keys["d"].key == "host=h1|rule=r1"
    assert result.keys["d"].fallback
    by_entity = CHAIN.model_copy(update={"chain_fallback": ChainFallback.ENTITY})
    assert plan([matched("d", "e5")], policy=by_entity).keys["d"].key == "entity:host=h1"
    own = CHAIN.model_copy(update={"chain_fallback": ChainFallback.NEW_CASE})
    assert plan([matched("d", "e5")], policy=own).keys["d"].key == "chain:detection=d"


def test_a_case_outside_the_window_or_full_is_not_joined() -> None:
    late = matched("late", "e1", minutes=61)
    assert joined(plan([late], [holding("e1", 1)])) == {}
    assert joined(plan([matched("d", "e1")], [holding("e1", 1, alert_count=1_000)])) == {}
    fixed = CHAIN.model_copy(update={"window_kind": WindowKind.FIXED})
    # T0 is 12:00: 12:59 is in the case's hour, 13:01 is not, however close.
    assert joined(plan([matched("d", "e1", minutes=59)], [holding("e1", 1)], fixed)) == {1: ["d"]}
    assert joined(plan([matched("d", "e1", minutes=61)], [holding("e1", 1, 59)], fixed)) == {}


def test_inside_a_batch_a_detection_follows_the_earlier_one_sharing_its_event() -> None:
    first = matched("a", "e1", rule="r1", minutes=0)
    second = matched("b", "e1", "e2", rule="r2", minutes=1)
    third = matched("c", "e2", rule="r3", minutes=2)  # shares only with the follower
    result = plan([third, second, first])
    assert {d: k.key for d, k in result.keys.items()} == {
        "a": "host=h1|rule=r1",
        "b": "host=h1|rule=r1",
        "c": "host=h1|rule=r1",
    }
    assert result.links["b"].detection_ids == ["a"]
    assert result.links["c"].detection_ids == ["b"]  # its event came with b, under a's key


def test_a_join_carries_the_detections_events_to_later_ones_of_the_batch() -> None:
    result = plan(
        [matched("a", "e1", "e2", minutes=0), matched("b", "e2", rule="r2", minutes=5)],
        [holding("e1", 2)],
    )
    assert joined(result) == {2: ["a", "b"]}
    assert result.links["b"].detection_ids == ["a"]


def test_the_joined_case_span_grows_with_the_batch() -> None:
    # 50 then 100 minutes: each within an hour of the case as grown by the one before.
    batch = [matched("a", "e1", minutes=50), matched("b", "e1", minutes=100)]
    assert joined(plan(batch, [holding("e1", 1)])) == {1: ["a", "b"]}


def test_the_entity_fallback_needs_entity_types() -> None:
    with pytest.raises(ValidationError, match="at least one entity type"):
        GroupingPolicy(strategy=Strategy.CHAIN, entity_types=())
    GroupingPolicy(strategy=Strategy.CHAIN, entity_types=(), chain_fallback=ChainFallback.NEW_CASE)
