"""Kafka transport of the alert indexer (only while the alert store is OpenSearch): read
alerts.changed.v1 and cases.events.v1 in batches, write the alerts they name from Postgres
to OpenSearch, then commit the offsets. Its own consumer group, so grouping never waits
for OpenSearch: when OpenSearch is slow or down, alerts reach it late, not never."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from libs.common.alertstore.changes import PendingChanges
from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.model import RETRIABLE_STATUSES
from libs.common.contracts.alerts import AlertsChangedV1
from libs.common.contracts.topics import ALERTS_CHANGED, CASE_EVENTS
from libs.common.kafka import at_least_once
from libs.common.logging import get_logger
from libs.common.settings import KafkaSettings
from services.alerting.settings import AlertIndexerSection

log = get_logger(__name__)


def read_changes(records: tuple[Any, ...]) -> PendingChanges:
    """What the records ask to write again. A record that cannot be read is logged and
    skipped: these are our own events, and one bad record must not stop the indexer."""
    changes = PendingChanges()
    for record in records:
        try:
            if record.topic == ALERTS_CHANGED.name:
                changes.add_alerts_changed(AlertsChangedV1.model_validate_json(record.value))
            else:
                changes.add_case_event(json.loads(record.value))
        except (ValidationError, ValueError, KeyError, TypeError) as error:
            log.error(
                "alert_indexer.unreadable_record",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=str(error)[:500],
            )
    return changes


def register_alert_indexer(
    broker: KafkaBroker, kafka: KafkaSettings, settings: AlertIndexerSection, indexer: AlertIndexer
) -> None:
    @broker.subscriber(
        ALERTS_CHANGED.name,
        CASE_EVENTS.name,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        **at_least_once(kafka),
    )
    async def on_alert_changes(msg: KafkaMessage) -> None:
        records: tuple[Any, ...] = msg.raw_message
        with structlog.contextvars.bound_contextvars(
            topics=sorted({record.topic for record in records}),
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
        ):
            try:
                outcome = await indexer.apply(read_changes(records))
            except Exception:
                outcome = None
                log.exception("alert_indexer.batch_failed", size=len(records))
            passing = outcome is None or any(f.status in RETRIABLE_STATUSES for f in outcome.failed)
            if passing:
                # Nothing committed: the batch is read again after the pause.
                await msg.nack()
                await asyncio.sleep(settings.retry_pause_seconds)
                return
            assert outcome is not None
            if outcome.failed:
                # Refused for good (a mapping error): sending again cannot help. The
                # alerts stay in Postgres; a reindex writes them once the cause is fixed.
                log.error(
                    "alert_indexer.refused",
                    alert_ids=[f.alert_id for f in outcome.failed][:100],
                    reason=outcome.failed[0].reason[:500],
                )
            await msg.ack()
