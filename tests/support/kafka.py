"""Read what services put on a topic, from the beginning, with a fresh consumer group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

Record = Any  # aiokafka's ConsumerRecord


async def read_until(
    bootstrap_servers: str,
    topic: str,
    wanted: Callable[[Record], bool],
    count: int,
    within_seconds: float = 30,
) -> list[Record]:
    """The first `count` records of `topic` that `wanted` accepts; fails after the deadline."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"test-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Record] = []
    try:
        async with asyncio.timeout(within_seconds):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found += [record for record in records if wanted(record)]
    finally:
        await consumer.stop()
    return found[:count]


def header(record: Record, name: str) -> bytes | None:
    return dict(record.headers).get(name)


async def read_settled(
    bootstrap_servers: str,
    topics: list[str],
    wanted: Callable[[Record], bool],
    count: int,
    within_seconds: float = 30,
    settle_seconds: float = 2,
) -> list[Record]:
    """The records of `topics` that `wanted` accepts: `count` of them (fails after the
    deadline), then whatever more comes within `settle_seconds`, to show that none does.
    One consumer for all the topics: a group join costs seconds on Tansu."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=f"test-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Record] = []

    async def more() -> None:
        for records in (await consumer.getmany(timeout_ms=300)).values():
            found.extend(record for record in records if wanted(record))

    try:
        async with asyncio.timeout(within_seconds):
            while len(found) < count:
                await more()
        loop = asyncio.get_running_loop()
        settled = loop.time() + settle_seconds
        while loop.time() < settled:
            await more()
    finally:
        await consumer.stop()
    return found
