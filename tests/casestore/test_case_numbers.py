"""Case numbers taken in a transaction of their own (alerting's, casestore/numbers.py):
a batch opening cases no longer waits for another batch of the tenant that is still
open; numbers never repeat; a batch that rolls back leaves a gap. Without it (the cases
API), the second batch waits for the first to commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from libs.common.casestore.numbers import SeparateCaseNumbers
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.service import GroupingService
from tests.support.detections import detection, host_rule_policy


def grouping(sessions: SessionFactory, separate: bool) -> GroupingService:
    numbers = SeparateCaseNumbers(sessions) if separate else None
    return GroupingService(
        CaseStore("casestream/alerting-test", numbers=numbers), host_rule_policy()
    )


async def numbers_by_host(sessions: SessionFactory, tenant: str) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT host, number FROM cases WHERE tenant_id = :t"), {"t": tenant}
        )
        return {host: number for host, number in rows.all()}


async def open_one_while_another_is_open(
    sessions: SessionFactory, tenant: str, service: GroupingService
) -> None:
    async with transaction(sessions) as first:
        await service.process(first, [detection(tenant, "a1", host="h1")])
        async with transaction(sessions) as second:
            await asyncio.wait_for(
                service.process(second, [detection(tenant, "b1", host="h2")]), timeout=5
            )


async def test_a_batch_opens_cases_while_another_batch_of_its_tenant_is_open(
    sessions: SessionFactory, tenant: str
) -> None:
    await open_one_while_another_is_open(sessions, tenant, grouping(sessions, separate=True))
    assert await numbers_by_host(sessions, tenant) == {"h1": 1, "h2": 2}


async def test_numbers_taken_in_the_transaction_make_the_second_batch_wait(
    sessions: SessionFactory, tenant: str
) -> None:
    with pytest.raises(TimeoutError):
        await open_one_while_another_is_open(sessions, tenant, grouping(sessions, separate=False))


async def test_a_rolled_back_batch_leaves_a_gap_and_numbers_never_repeat(
    sessions: SessionFactory, tenant: str
) -> None:
    service = grouping(sessions, separate=True)
    async with transaction(sessions) as session:
        await service.process(session, [detection(tenant, "a1", host="h1")])
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await service.process(session, [detection(tenant, "b1", host="h2")])
            raise RuntimeError("the batch fails after its case took number 2")
    async with transaction(sessions) as session:
        await service.process(session, [detection(tenant, "c1", host="h3")])
    assert await numbers_by_host(sessions, tenant) == {"h1": 1, "h3": 3}
