"""A known defect, recorded so it cannot be forgotten: grouping depends on where batches
are cut when a key's detections arrive out of event-time order.

A key's slot remembers only its latest case. A detection arriving in a later batch whose
event time belongs to an earlier, still open case of the same key, but not to the
latest one, opens a new case ("outside_window"). Cut the same detections into one batch
and they join that earlier case. This is the 309th case `make bench-alerting` sometimes
reports (docs/benchmarks.md, session 8): on host WORKSTATION5 an 11-alert case became a
9 and a 2 when a batch boundary fell between them. Issue 4 asks that a backfill group
exactly as it would have live.

Strict: when grouping becomes independent of batch cuts this test fails as an unexpected
pass, and the marker comes off."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.service import GroupingService
from tests.support.detections import detection, host_rule_policy

SERVICE = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy(3600))


async def cases_after(
    sessions: SessionFactory, tenant: str, batches: list[list[DetectionV1]]
) -> list[list[str]]:
    for batch in batches:
        async with transaction(sessions) as session:
            await SERVICE.process(session, batch)
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT array_agg(detection_id ORDER BY detection_id) FROM alerts"
                " WHERE tenant_id = :t GROUP BY case_id ORDER BY 1"
            ),
            {"t": tenant},
        )
        return [list(ids) for (ids,) in rows]


@pytest.mark.xfail(strict=True, reason="the slot keeps one case per key (see module doc)")
async def test_where_batches_are_cut_does_not_change_the_cases(
    sessions: SessionFactory, tenant: str
) -> None:
    def corpus(t: str) -> tuple[list[DetectionV1], list[DetectionV1]]:
        early = [detection(t, f"a{n}", minutes=0) for n in (1, 2)]
        early.append(detection(t, "b1", minutes=300))  # same key, hours later
        late = [detection(t, f"a{n}", minutes=0.05) for n in (3, 4, 5)]  # 3 s after a1
        return early, late

    early, late = corpus(tenant)
    in_one = await cases_after(sessions, tenant, [early + late])
    assert in_one == [["a1", "a2", "a3", "a4", "a5"], ["b1"]]
    other = f"{tenant}-cut"
    early, late = corpus(other)
    assert await cases_after(sessions, other, [early, late]) == in_one
