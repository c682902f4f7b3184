"""The detections consumer: one batch in flight per assigned partition.

FastStream's batch subscriber hands the handler one batch at a time, and a batch nearly
always holds one partition's records. While that batch's transaction waited on
PostgreSQL, the process had nothing else to do: a third of its time in the benchmark.
Here every assigned partition has its own worker, and all of them share one aiokafka
consumer (one group member, so no more rebalances than before). One partition's batch is
decoded and planned in Python while PostgreSQL works on another's.

What does not change:
- Records of one partition are processed in order, one batch at a time.
- A partition's offsets are committed only after its batch's transaction committed.
- A batch that fails is read again from its first record after a pause.
- Batches of different partitions in concurrent transactions are what two alerting
  instances already do: their key locks are taken in one order (tests/alerting,
  "two instances"). A partition moved by a rebalance may be processed once more by its
  new owner; the stored result is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from libs.common.logging import get_logger

log = get_logger(__name__)

# The records of one partition, in offset order; True when they were processed and
# their offsets may be committed, False when they are to be read again.
BatchHandler = Callable[[list[Any]], Awaitable[bool]]

# How long a revoked partition's worker may take to finish its batch before the
# rebalance goes on without it (its new owner then processes the batch again).
REVOKE_WAIT_SECONDS = 10.0


class PartitionWorkers(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        handle: BatchHandler,
        *,
        max_records: int,
        timeout_ms: int,
        retry_pause_seconds: float,
    ) -> None:
        self._consumer = consumer
        self._handle = handle
        self._max_records = max_records
        self._timeout_ms = timeout_ms
        self._retry_pause = retry_pause_seconds
        self._workers: dict[TopicPartition, asyncio.Task[None]] = {}
        self._stopping: set[TopicPartition] = set()
        self._closed = False

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        if self._closed:
            return
        for partition in sorted(assigned):
            if partition not in self._workers:
                self._workers[partition] = asyncio.create_task(
                    self._work(partition), name=f"alerting-{partition.topic}-{partition.partition}"
                )
        log.info(
            "alerting.partitions_assigned",
            partitions=sorted(p.partition for p in assigned),
            pid=os.getpid(),  # one of the instance's processes (alerting.processes)
        )

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.stop(revoked)

    async def stop(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Let the workers of `partitions` (all by default) finish the batch in hand, and
        commit it, then end them. Without `partitions`, for good: a later assignment starts
        none."""
        if partitions is None:
            self._closed = True
        chosen = list(self._workers) if partitions is None else list(partitions)
        tasks = [self._workers.pop(p) for p in chosen if p in self._workers]
        self._stopping.update(chosen)
        try:
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=REVOKE_WAIT_SECONDS)
                for task in late:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            self._stopping.difference_update(chosen)

    async def _work(self, partition: TopicPartition) -> None:
        while partition not in self._stopping:
            try:
                fetched = await self._consumer.getmany(
                    partition, timeout_ms=self._timeout_ms, max_records=self._max_records
                )
            except Exception:  # a worker that died would leave its partition unread
                log.exception("alerting.fetch_failed", partition=partition.partition)
                await asyncio.sleep(self._retry_pause)
                continue
            records = fetched.get(partition)
            if not records:
                continue
            if await self._handle(records):
                await self._commit(partition, records[-1].offset + 1)
            else:
                # Nothing was committed: the whole batch is read again after a pause.
                with contextlib.suppress(Exception):
                    self._consumer.seek(partition, records[0].offset)
                await asyncio.sleep(self._retry_pause)

    async def _commit(self, partition: TopicPartition, offset: int) -> None:
        try:
            await self._consumer.commit({partition: offset})
        except Exception as error:
            # Most often the partition moved in a rebalance. Whatever the cause, the batch
            # is stored: whoever reads it again finds every detection already there.
            log.warning("alerting.commit_failed", partition=partition.partition, error=str(error))
