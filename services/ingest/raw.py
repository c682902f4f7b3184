"""Ingest from `detections.raw.v1`: the Kafka way in, with the same validation as HTTP.

Producers name the tenant in a `ce_tenantid` header (this topic is for trusted producers
inside the cluster, guarded by Kafka ACLs). A record that cannot become a detection goes
to `detections.dlq.v1` with its original bytes and the reason; the partition moves on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import decode_headers
from libs.common.errors import BrokerUnavailable
from libs.common.kafka import dead_letter_record
from services.ingest.adapters import AdapterError, FormatAdapter, adapter_named
from services.ingest.bodies import TOO_DEEP, unparsed_object
from services.ingest.entity_rules import EntityExtractor
from services.ingest.native_wire import NativeWire, WireBatch
from services.ingest.publisher import DetectionHeaders, DetectionPublisher, OutgoingDetection
from services.ingest.service import encode_detection, unstorable, validate_item

TENANT_HEADERS = ("ce_tenantid", "tenant")


@dataclass
class RawBatchOutcome:
    published: int = 0
    dead_lettered: int = 0


class RawTopicIngest:
    def __init__(
        self,
        publisher: DetectionPublisher,
        broker: KafkaBroker,
        extractor: EntityExtractor,
        max_detection_bytes: int,
    ) -> None:
        self._publisher = publisher
        self._broker = broker
        self._extractor = extractor
        self._max_detection_bytes = max_detection_bytes
        self._native = NativeWire(extractor)

    async def ingest_records(self, records: tuple[Any, ...]) -> RawBatchOutcome:
        """Dead-letter what is unusable, publish the rest; raises BrokerUnavailable if the
        broker did not acknowledge every detection (the caller then retries the batch)."""
        now = datetime.now(UTC)
        outcome = RawBatchOutcome()
        valid: list[OutgoingDetection] = []
        per_tenant: dict[str, tuple[WireBatch, DetectionHeaders]] = {}
        for record in records:
            headers = decode_headers(record.headers)
            # The record's place in the topic: a redelivery of it is the same occurrence.
            occurrence_id = f"{record.topic}/{record.partition}/{record.offset}"
            result = self._convert(record.value or b"", headers, now, occurrence_id, per_tenant)
            if isinstance(result, OutgoingDetection):
                valid.append(result)
                continue
            await dead_letter_record(self._broker, record, result)
            outcome.dead_lettered += 1
        failures = await self._publisher.publish(valid)
        if any(failures):
            raise BrokerUnavailable("detections.v1 did not acknowledge the batch")
        outcome.published = len(valid)
        return outcome

    def _convert(
        self,
        value: bytes,
        headers: dict[str, str],
        now: datetime,
        occurrence_id: str,
        per_tenant: dict[str, tuple[WireBatch, DetectionHeaders]],
    ) -> OutgoingDetection | str:
        tenant_id = next((headers[h] for h in TENANT_HEADERS if headers.get(h)), None)
        if tenant_id is None:
            return "missing_tenant: set the ce_tenantid header"
        if tenant_id not in per_tenant:
            per_tenant[tenant_id] = (WireBatch(tenant_id, now), DetectionHeaders(tenant_id, now))
        batch, event_headers = per_tenant[tenant_id]
        declared: FormatAdapter | None = None
        format_error: str | None = None
        try:
            declared = adapter_named(headers["format"]) if headers.get("format") else None
        except AdapterError as error:
            format_error = f"invalid_format: {error.reason}"
        documents = None if format_error else unparsed_object(value)
        if documents is not None:
            fast = self._native.encode(
                documents.items[0], batch, occurrence_id, declared, documents.prefixed_keys
            )
            if fast is not None:
                return unstorable(fast.value, self._max_detection_bytes) or OutgoingDetection(
                    fast.partition_key,
                    fast.value,
                    event_headers.of(occurrence_id, fast.detection_id),
                )
        try:
            document = json.loads(value)
        except (ValueError, UnicodeDecodeError) as error:  # ValueError: e.g. huge integers
            return f"invalid_json: {error}"
        except RecursionError:
            return f"invalid_json: {TOO_DEEP}"
        if format_error:
            return format_error
        result = validate_item(0, document, tenant_id, now, declared, self._extractor)
        if not isinstance(result, DetectionV1):
            return result.reason or "invalid_detection"
        result.occurrence_id = occurrence_id
        payload = encode_detection(result, self._max_detection_bytes)
        if isinstance(payload, str):
            return payload
        return OutgoingDetection(
            result.partition_key(), payload, event_headers.of(occurrence_id, result.detection_id)
        )
