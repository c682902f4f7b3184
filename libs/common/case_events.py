"""Subscribing to `cases.events.v1`: parse, bind log context, run the handler, then ack.

Used by every consumer of case events so they all get the same at-least-once behaviour:
the offset is committed only after the handler finished; a handler failure rewinds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from libs.common.contracts.cases import CaseEventV1, parse_case_event
from libs.common.contracts.topics import CASE_EVENTS
from libs.common.kafka import at_least_once
from libs.common.logging import get_logger
from libs.common.settings import KafkaSettings

log = get_logger(__name__)
RETRY_PAUSE_SECONDS = 1.0

CaseEventHandler = Callable[[CaseEventV1], Awaitable[None]]


def subscribe_case_events(
    broker: KafkaBroker, kafka: KafkaSettings, group_id: str, handle: CaseEventHandler
) -> None:
    @broker.subscriber(CASE_EVENTS.name, group_id=group_id, **at_least_once(kafka))
    async def on_case_event(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        with structlog.contextvars.bound_contextvars(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        ):
            try:
                event = parse_case_event(record.value or b"")
            except ValidationError as error:
                # Our own contract was broken upstream: log loudly, never block the partition.
                log.error("case_event.unreadable", error=str(error)[:500])
                await msg.ack()
                return
            with structlog.contextvars.bound_contextvars(
                event_id=str(event.event_id),
                tenant_id=event.tenant_id,
                event_type=event.type,
            ):
                try:
                    await handle(event)
                except Exception:
                    log.exception("case_event.handler_failed")
                    await msg.nack()
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                    return
                await msg.ack()
