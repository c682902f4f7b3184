"""Group commit of manual case creates.

A create costs a handful of statements, and each statement costs far more of the cases
process' CPU (SQLAlchemy, asyncpg, the event loop) than its rows do. So concurrent
`POST /api/v1/cases` requests wait in one queue, and a committer task commits whatever
has queued in one transaction (at most `max_batch`), while the next requests queue up
behind it. A lone request is committed at once: nothing waits for company. Up to
`in_flight` committers run at once, so one batch's Python work (checks before, answers
after) overlaps another's time in Postgres; batches of one tenant still take its
case-number lock one after the other, so numbers stay unique and in commit order.

Each request still answers only after the transaction holding its case committed, so a
201 means durable, as before. A request refused by its own input (template, custom
fields) is refused alone; if the batch's transaction itself fails, its requests are
retried one transaction each, so a failure lands only on the request that causes it.
A client that goes away after its request was taken into a transaction may still get
its case (as a client whose connection breaks after the commit always could)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from libs.common.db.engine import SessionFactory, transaction
from libs.common.errors import DomainError
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases.creation import CreateRequest
from services.cases.schemas import CaseDetail, CaseIn
from services.cases.service import CaseService

log = get_logger(__name__)

# Opens the requests' cases in one transaction and commits it: each request's detail or
# the error that refused it alone. Raises when the transaction as a whole fails.
CommitCreates = Callable[[Sequence[CreateRequest]], Awaitable[list[CaseDetail | DomainError]]]


def committed_creates(sessions: SessionFactory, service: CaseService) -> CommitCreates:
    async def commit(requests: Sequence[CreateRequest]) -> list[CaseDetail | DomainError]:
        async with transaction(sessions) as session:
            return await service.create_cases(session, requests)

    return commit


@dataclass
class _Waiting:
    request: CreateRequest
    answer: asyncio.Future[CaseDetail] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CaseCreateBatcher:
    def __init__(
        self,
        commit: CommitCreates,
        on_committed: Callable[[], None],
        max_batch: int,
        in_flight: int = 1,
    ) -> None:
        self._commit_creates = commit
        self._on_committed = on_committed
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._queue: list[_Waiting] = []
        self._committers: set[asyncio.Task[None]] = set()

    async def create(self, caller: Principal, body: CaseIn) -> CaseDetail:
        waiting = _Waiting(CreateRequest(caller, body))
        self._queue.append(waiting)
        if len(self._committers) < self._in_flight:
            committer = asyncio.create_task(self._commit_queued())
            self._committers.add(committer)
            committer.add_done_callback(self._committers.discard)
        return await waiting.answer

    async def stop(self) -> None:
        """Let the batches in flight finish (their requests are waiting for answers)."""
        if self._committers:
            await asyncio.wait(set(self._committers))

    async def _commit_queued(self) -> None:
        while self._queue:
            taken = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            # A request cancelled while queued (its client left) is not written.
            batch = [waiting for waiting in taken if not waiting.answer.done()]
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = await self._commit_creates([waiting.request for waiting in batch])
        except Exception as error:
            if len(batch) == 1:
                _answer(batch[0], error)
                return
            log.warning("cases.create_batch_failed", size=len(batch), error=type(error).__name__)
            for waiting in batch:
                await self._commit([waiting])
            return
        self._on_committed()
        for waiting, outcome in zip(batch, outcomes, strict=True):
            _answer(waiting, outcome)


def _answer(waiting: _Waiting, outcome: CaseDetail | Exception) -> None:
    if waiting.answer.done():  # its client went away meanwhile
        return
    if isinstance(outcome, Exception):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)
