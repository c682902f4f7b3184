"""Grouping does not depend on where batches are cut, nor on the order a key's detections
arrive in: a late detection joins the open case its event time belongs to, not only the
key's latest case (the slot). Issue 4 asks that a backfill group exactly as it would have
live.

Before, a key's slot was all alerting knew of the key's cases: a detection arriving after
later ones of its key opened a case of its own ("outside_window"). This is the 309th
case `make bench-alerting` sometimes reported (docs/benchmarks.md, session 8): on host
WORKSTATION5 an 11-alert case became a 9 and a 2 where a batch boundary fell."""

from __future__ import annotations

import random

from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.repository import OPEN_CASES_OF_KEYS_SQL
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


async def test_bursts_cut_and_shuffled_any_way_give_one_case_per_burst(
    sessions: SessionFactory, tenant: str
) -> None:
    """Bursts of a host's detections, each within the window (1 h) and two hours apart:
    one case per burst whatever the order and batch cuts of their arrival."""
    rng = random.Random(4)
    times = {
        f"{host}-{burst}-{n}": (host, burst * 180 + rng.uniform(0, 55))
        for host in ("h1", "h2")
        for burst in range(3)
        for n in range(5)
    }
    expected = sorted(
        sorted(i for i in times if i.startswith(f"{host}-{burst}-"))
        for host in ("h1", "h2")
        for burst in range(3)
    )
    for attempt in range(4):
        t = f"{tenant}-{attempt}"
        arrivals = [detection(t, i, host=h, minutes=m) for i, (h, m) in times.items()]
        rng.shuffle(arrivals)
        batches = []
        while arrivals:
            size = rng.randint(1, 7)
            batches.append(arrivals[:size])
            arrivals = arrivals[size:]
        assert await cases_after(sessions, t, batches) == expected, f"attempt {attempt}"


async def test_the_read_of_a_keys_open_cases_can_use_its_partial_index(
    sessions: SessionFactory, tenant: str
) -> None:
    await cases_after(sessions, tenant, [[detection(tenant, "a")]])
    async with transaction(sessions) as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await session.execute(
            text(f"EXPLAIN {OPEN_CASES_OF_KEYS_SQL.text}"),
            {
                "tenant": tenant,
                "keys": ["host=h1|rule=r1"],
                "lo": [detection(tenant, "x", minutes=-60).effective_time],
                "hi": [detection(tenant, "x", minutes=60).effective_time],
                "open": ["new"],
            },
        )
        assert "ix_cases_tenant_group_key_open" in "\n".join(plan.scalars())
