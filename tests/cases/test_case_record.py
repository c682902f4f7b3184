"""The case record's analyst fields over real HTTP: set through PATCH, each change audited
with old and new value (one audit event and one outbox row each), limits answered 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory
from tests.cases.test_cases_api import seed
from tests.casestore.test_case_store import events_and_outbox

RECORD = {
    "priority": 2,
    "confidence": 0.85,
    "classification": "true_positive",
    "escalation_group": "tier-2",
    "investigation_summary": "Beaconing to a known C2 from the finance laptop.",
    "conclusion": "Contained by isolating the host.",
    "requires_human_approval": True,
}


async def test_every_record_field_is_set_read_and_audited(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.HIGH])
    before = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert (before["classification"], before["requires_human_approval"]) == ("pending", False)
    assert (before["priority"], before["confidence"]) == (None, None)

    response = await client.patch(f"/api/v1/cases/{case_id}", json=RECORD)
    assert response.status_code == 200
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert {field: case[field] for field in RECORD} == RECORD

    changes = {
        e["payload"]["field"]: (e["type"], e["payload"]["old"], e["payload"]["new"])
        for e in case["timeline"]
        if "field" in e["payload"]
    }
    assert changes == {
        "priority": ("case.priority_changed", None, 2),
        "confidence": ("case.confidence_changed", None, 0.85),
        "classification": ("case.classified", "pending", "true_positive"),
        "escalation_group": ("case.escalation_group_changed", None, "tier-2"),
        "investigation_summary": (
            "case.investigation_summary_updated",
            None,
            RECORD["investigation_summary"],
        ),
        "conclusion": ("case.conclusion_updated", None, RECORD["conclusion"]),
        "requires_human_approval": ("case.approval_requirement_changed", False, True),
    }
    events, outbox = await events_and_outbox(sessions, case_id)
    assert len(events) == 1 + len(RECORD)
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    # Numbers and booleans in payloads must survive the JSONB round trip for the chain.
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, 1 + len(RECORD))


async def test_a_repeated_value_is_no_change_and_null_clears(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.LOW])
    await client.patch(f"/api/v1/cases/{case_id}", json={"confidence": 1, "priority": 3})
    again = await client.patch(f"/api/v1/cases/{case_id}", json={"confidence": 1.0})
    assert again.status_code == 200
    cleared = await client.patch(f"/api/v1/cases/{case_id}", json={"priority": None})
    assert cleared.json()["priority"] is None
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == [
        "case.opened",
        "case.priority_changed",
        "case.confidence_changed",
        "case.priority_changed",
    ]
    assert (events[-1].payload["old"], events[-1].payload["new"]) == (3, None)
    assert len(outbox) == 4
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert verdict["valid"] is True


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"priority": 0}, "greater than or equal to 1"),
        ({"priority": 5}, "less than or equal to 4"),
        ({"confidence": 1.01}, "less than or equal to 1"),
        ({"confidence": -0.1}, "greater than or equal to 0"),
        ({"classification": "maybe"}, "classification"),
        ({"classification": None}, "cannot be null: classification"),
        ({"requires_human_approval": None}, "cannot be null: requires_human_approval"),
        ({"investigation_summary": "x" * 8_193}, "at most 8192 characters"),
        ({"conclusion": "x" * 8_193}, "at most 8192 characters"),
        ({"escalation_group": "g" * 257}, "at most 256 characters"),
    ],
)
async def test_record_limits_are_named(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    tenant: str,
    patch: dict[str, Any],
    problem: str,
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.LOW])
    response = await client.patch(f"/api/v1/cases/{case_id}", json=patch)
    assert response.status_code == 422
    assert problem in response.text
    events, _ = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened"]


async def test_the_longest_narrative_is_accepted(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.LOW])
    response = await client.patch(f"/api/v1/cases/{case_id}", json={"conclusion": "é" * 8_192})
    assert response.status_code == 200
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert case["conclusion"] == "é" * 8_192


async def test_list_filters_by_classification(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    pending, benign, fp = await seed(sessions, tenant, [Severity.LOW] * 3)
    await client.patch(f"/api/v1/cases/{benign}", json={"classification": "benign"})
    await client.patch(f"/api/v1/cases/{fp}", json={"classification": "false_positive"})
    params = {"classification": ["benign", "false_positive"]}
    listed = (await client.get("/api/v1/cases", params=params)).json()["items"]
    assert {i["id"] for i in listed} == {str(benign), str(fp)}
    assert {i["classification"] for i in listed} == {"benign", "false_positive"}
    still = (await client.get("/api/v1/cases", params={"classification": "pending"})).json()
    assert [i["id"] for i in still["items"]] == [str(pending)]
