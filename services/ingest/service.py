"""Ingest rules: validate each item, normalize it, publish it, and say what happened to it.

An item is reported `accepted` only once the broker acknowledged it (acks=all). Native
detections take the fast path of `native_wire` when it is sure to give the same
message; every other item, and every rejection, takes the pydantic path below."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from msgspec import Raw

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import new_event_ids
from libs.common.errors import BrokerUnavailable, InvalidInput
from libs.common.logging import get_logger
from services.ingest.adapters import AdapterError, FormatAdapter, adapter_named, detect_adapter
from services.ingest.bodies import TOO_DEEP, Documents, UnparseableLine
from services.ingest.duplicates import DuplicateWindow
from services.ingest.entity_rules import EntityExtractor
from services.ingest.native_wire import NativeWire, WireBatch
from services.ingest.publisher import DetectionHeaders, DetectionPublisher, OutgoingDetection
from services.ingest.schemas import IngestOutcome, ItemOutcome, ItemStatus

log = get_logger(__name__)
DUPLICATE_REASON = (
    "duplicate: this detection id was accepted within the dedup window; counted as a repeat"
)


def validate_item(
    index: int,
    document: Any,
    tenant_id: str,
    now: datetime,
    declared: FormatAdapter | None = None,
    extractor: EntityExtractor | None = None,
) -> DetectionV1 | ItemOutcome:
    """One document to a detection, or a rejection that names the problem. The client's
    declared format wins; without one, the document's structure picks the adapter."""
    if isinstance(document, UnparseableLine):
        return ItemOutcome(index, None, ItemStatus.REJECTED, document.reason)
    if not isinstance(document, dict):
        return ItemOutcome(
            index,
            None,
            ItemStatus.REJECTED,
            f"invalid_detection: expected a JSON object, got {type(document).__name__}",
        )
    try:
        adapter = declared or detect_adapter(document)
        detection = adapter.normalize(document, tenant_id, now)
    except AdapterError as error:
        return ItemOutcome(
            index, _claimed_id(document), ItemStatus.REJECTED, f"invalid_detection: {error.reason}"
        )
    return extractor.apply(detection) if extractor else detection


def encode_detection(detection: DetectionV1, limit: int) -> bytes | str:
    """The message value, or why it cannot be one (`unstorable`)."""
    payload = detection.model_dump_json().encode()
    return unstorable(payload, limit) or payload


# U+0000 as JSON writes it (an odd number of backslashes before u0000; an even number is
# an escaped backslash followed by the text "u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def unstorable(message: bytes, limit: int) -> str | None:
    """Why a normalized detection (its detections.v1 message) cannot go on, or None. The
    raw payload travels with the detection and the broker refuses messages past its size
    limit; and JSON can carry a NUL character where Postgres text and JSONB cannot, so
    alerting could never store it: refused here, where the sender hears why, rather than
    acknowledged and then dead-lettered downstream."""
    if len(message) > limit:
        return (
            f"detection_too_large: {len(message)} bytes once normalized, "
            f"the limit is {limit} bytes (max_detection_bytes)"
        )
    if b"\\u0000" in message and _NUL_ESCAPE.search(message):
        return "invalid_detection: a value holds a NUL character (\\u0000), which cannot be stored"
    return None


def declared_format(name: str | None) -> FormatAdapter | None:
    """The adapter a client named, or None to sniff; an unknown name is the client's error."""
    if not name:
        return None
    try:
        return adapter_named(name.strip().lower())
    except AdapterError as error:
        raise InvalidInput(error.reason, format=name[:64]) from error


class IngestService:
    def __init__(
        self,
        publisher: DetectionPublisher,
        extractor: EntityExtractor,
        duplicates: DuplicateWindow,
        max_detection_bytes: int,
    ) -> None:
        self._publisher = publisher
        self._extractor = extractor
        self._duplicates = duplicates
        self._max_detection_bytes = max_detection_bytes
        self._native = NativeWire(extractor)

    async def ingest(
        self, tenant_id: str, documents: Documents, declared: FormatAdapter | None = None
    ) -> IngestOutcome:
        now = datetime.now(UTC)
        batch = WireBatch(tenant_id, now)
        headers = DetectionHeaders(tenant_id, now)
        results: list[ItemOutcome] = []
        messages: list[OutgoingDetection] = []
        published: list[tuple[int, str]] = []  # (index, detection id) of each message
        event_ids = new_event_ids(len(documents.items))
        for index, document in enumerate(documents.items):
            event_id = event_ids[index]
            if isinstance(document, Raw):
                wire = self._native.encode(
                    document, batch, event_id, declared, documents.prefixed_keys
                )
                if wire is not None:
                    refusal = unstorable(wire.value, self._max_detection_bytes)
                    if refusal:
                        results.append(_rejected(index, wire.detection_id, refusal))
                    else:
                        messages.append(
                            OutgoingDetection(
                                wire.partition_key,
                                wire.value,
                                headers.of(event_id, wire.detection_id),
                            )
                        )
                        published.append((index, wire.detection_id))
                    continue
                document = _document(bytes(document))  # what the pydantic path always read
            outcome = validate_item(index, document, tenant_id, now, declared, self._extractor)
            if not isinstance(outcome, DetectionV1):
                results.append(outcome)
                continue
            outcome.occurrence_id = event_id
            payload = encode_detection(outcome, self._max_detection_bytes)
            if isinstance(payload, str):
                results.append(_rejected(index, outcome.detection_id, payload))
                continue
            messages.append(
                OutgoingDetection(
                    outcome.partition_key(), payload, headers.of(event_id, outcome.detection_id)
                )
            )
            published.append((index, outcome.detection_id))
        ids = [detection_id for _, detection_id in published]
        fresh = await self._duplicates.claim(tenant_id, ids)
        failures = await self._publisher.publish(messages)
        await self._duplicates.release(
            tenant_id,
            [i for i, new, failed in zip(ids, fresh, failures, strict=True) if new and failed],
        )
        for (index, detection_id), new, failure in zip(published, fresh, failures, strict=True):
            results.append(_published_result(index, detection_id, new, failure))
        results.sort(key=lambda result: result.index)
        response = _response(results)
        if any(failures):
            raise BrokerUnavailable(
                "the event broker did not acknowledge every detection; "
                "items not accepted may be retried",
                **response.to_details(),
            )
        if not response.accepted and not response.duplicates:
            raise InvalidInput("no detection in the request was valid", **response.to_details())
        log.info(
            "ingest.accepted",
            tenant_id=tenant_id,
            accepted=response.accepted,
            duplicates=response.duplicates,
            rejected=response.rejected,
        )
        return response


def _published_result(index: int, detection_id: str, new: bool, failure: str | None) -> ItemOutcome:
    if failure:
        return _rejected(index, detection_id, f"broker_unavailable: {failure}")
    if new:
        return ItemOutcome(index, detection_id, ItemStatus.ACCEPTED)
    return ItemOutcome(index, detection_id, ItemStatus.DUPLICATE, DUPLICATE_REASON)


def _rejected(index: int, detection_id: str, reason: str) -> ItemOutcome:
    return ItemOutcome(index, detection_id, ItemStatus.REJECTED, reason)


def _response(results: list[ItemOutcome]) -> IngestOutcome:
    # Counted by the statuses' text: hashing an enum member runs Python code.
    counts = Counter(result.status.value for result in results)
    return IngestOutcome(
        accepted=counts[ItemStatus.ACCEPTED.value],
        duplicates=counts[ItemStatus.DUPLICATE.value],
        rejected=counts[ItemStatus.REJECTED.value],
        items=results,
    )


def _claimed_id(document: dict[str, Any]) -> str | None:
    value = document.get("detection_id")
    return value[:256] if isinstance(value, str) else None


def _document(element: bytes) -> Any:
    """One element of a JSON array body (already split, so known to be JSON) as Python
    reads it, or a rejection when it nests deeper than the parser recurses."""
    try:
        return json.loads(element)
    except RecursionError:
        return UnparseableLine(f"invalid_json: {TOO_DEEP}")
