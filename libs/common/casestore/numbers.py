"""Case numbers taken in a short transaction of their own, for a writer that opens cases
in long transactions that run concurrently (alerting's partition workers).

Taken inside the writer's transaction (the default, `allocate_case_numbers`), the
tenant's counter row stays locked until that transaction commits, and every other
transaction opening a case in the tenant queues behind it: in bench-alerting, with three
batches in flight, the statements taking numbers waited 5.3 s in one six-second drain.
Taken here, the row is locked for one statement.

The price: numbers still never repeat, but a batch that rolls back after taking its
numbers leaves a gap. And the counter is no longer the first lock such a writer takes,
so a writer that holds the counter in its own transaction (the cases API's split) and
then waits for a row the batch holds would wait for a transaction that waits for it,
across two connections PostgreSQL cannot see as one: `lock_timeout` ends that wait, the
batch rolls back and is read again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import text

from libs.common.casestore import repository
from libs.common.db.engine import SessionFactory, transaction

# (tenant, how many) -> the first of that many consecutive numbers.
CaseNumbers = Callable[[str, int], Awaitable[int]]


class SeparateCaseNumbers:
    def __init__(self, sessions: SessionFactory, lock_timeout_ms: int = 2_000) -> None:
        self._sessions = sessions
        self._lock_timeout = f"{lock_timeout_ms}ms"

    async def __call__(self, tenant_id: str, count: int) -> int:
        async with transaction(self._sessions) as session:
            await session.execute(
                text("SELECT set_config('lock_timeout', :timeout, true)"),
                {"timeout": self._lock_timeout},
            )
            first, _ = await repository.allocate_case_numbers(session, tenant_id, count)
        return first
