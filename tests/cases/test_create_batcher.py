"""The group-commit logic of CaseCreateBatcher on its own (pure coordination: the commit
function is an in-memory fake; tests/cases/test_case_create_batching.py runs the real one
over HTTP and Postgres)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from libs.common.errors import DomainError, InvalidInput
from libs.common.http import Principal
from services.cases.create_batcher import CaseCreateBatcher
from services.cases.creation import CreateRequest
from services.cases.schemas import CaseIn

CALLER = Principal("acme", "ana")


class FakeCommits:
    """Records each transaction's titles; a title "poison" makes its transaction fail,
    a title "refused" is refused alone. Answers carry the title back (as a string)."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.notified = 0
        self.running = self.most_at_once = 0

    async def __call__(self, requests: Sequence[CreateRequest]) -> list[Any]:
        titles = [r.body.title for r in requests]
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.01)  # the database round trip, during which others queue
        self.running -= 1
        if "poison" in titles:
            raise RuntimeError("the transaction failed")
        self.transactions.append(titles)
        return [
            InvalidInput("refused", title=title) if title == "refused" else title
            for title in titles
        ]

    def notify(self) -> None:
        self.notified += 1


async def create_concurrently(batcher: CaseCreateBatcher, titles: list[str]) -> list[Any]:
    """Each request's answer (what the fake returned, or the exception it raised)."""
    calls = (batcher.create(CALLER, CaseIn(title=t)) for t in titles)
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_requests_queued_during_a_commit_share_the_next_transaction() -> None:
    commits = FakeCommits()
    batcher = CaseCreateBatcher(commits, commits.notify, max_batch=4)

    answers = await create_concurrently(batcher, [f"t{k}" for k in range(9)])

    assert answers == [f"t{k}" for k in range(9)]
    # All nine queued before the first commit began: at most 4 per transaction, in order.
    assert commits.transactions == [["t0", "t1", "t2", "t3"], ["t4", "t5", "t6", "t7"], ["t8"]]
    assert commits.notified == 3


async def test_at_most_in_flight_transactions_run_at_once() -> None:
    commits = FakeCommits()
    batcher = CaseCreateBatcher(commits, commits.notify, max_batch=3, in_flight=2)

    answers = await create_concurrently(batcher, [f"t{k}" for k in range(12)])

    assert answers == [f"t{k}" for k in range(12)]
    assert commits.most_at_once == 2
    assert sorted(t for batch in commits.transactions for t in batch) == sorted(answers)
    assert all(len(batch) <= 3 for batch in commits.transactions)


async def test_a_refusal_lands_on_its_request_only() -> None:
    commits = FakeCommits()
    batcher = CaseCreateBatcher(commits, commits.notify, max_batch=10)

    answers = await create_concurrently(batcher, ["a", "b", "refused", "c"])

    assert answers[:2] == ["a", "b"]
    assert answers[3] == "c"
    assert isinstance(answers[2], DomainError)
    assert answers[2].details == {"title": "refused"}


async def test_a_failed_transaction_is_retried_one_request_at_a_time() -> None:
    commits = FakeCommits()
    batcher = CaseCreateBatcher(commits, commits.notify, max_batch=10)

    answers = await create_concurrently(batcher, ["a", "poison", "b"])

    assert answers[0] == "a"
    assert answers[2] == "b"
    assert isinstance(answers[1], RuntimeError)
    assert commits.transactions == [["a"], ["b"]]


async def test_a_request_cancelled_while_queued_is_not_written() -> None:
    commits = FakeCommits()
    batcher = CaseCreateBatcher(commits, commits.notify, max_batch=10)
    first = asyncio.create_task(batcher.create(CALLER, CaseIn(title="first")))
    await asyncio.sleep(0)  # its transaction has begun
    left = asyncio.create_task(batcher.create(CALLER, CaseIn(title="left")))
    stays = asyncio.create_task(batcher.create(CALLER, CaseIn(title="stays")))
    await asyncio.sleep(0)
    left.cancel()

    answers: list[Any] = [await first, await stays]
    assert answers == ["first", "stays"]
    with pytest.raises(asyncio.CancelledError):
        await left
    await batcher.stop()
    assert commits.transactions == [["first"], ["stays"]]
