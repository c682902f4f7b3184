"""Ingest rules: validate each item, normalize it, publish it, and say what happened to it.

An item is reported `accepted` only once the broker acknowledged it (acks=all)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1
from libs.common.errors import BrokerUnavailable, InvalidInput
from libs.common.logging import get_logger
from services.ingest.adapters import AdapterError, FormatAdapter, adapter_named, detect_adapter
from services.ingest.bodies import UnparseableLine
from services.ingest.duplicates import DuplicateWindow
from services.ingest.entity_rules import EntityExtractor
from services.ingest.publisher import DetectionPublisher, EncodedDetection
from services.ingest.schemas import IngestResponse, ItemResult, ItemStatus

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
) -> DetectionV1 | ItemResult:
    """One document to a detection, or a rejection that names the problem. The client's
    declared format wins; without one, the document's structure picks the adapter."""
    if isinstance(document, UnparseableLine):
        return ItemResult(index=index, status=ItemStatus.REJECTED, reason=document.reason)
    if not isinstance(document, dict):
        return ItemResult(
            index=index,
            status=ItemStatus.REJECTED,
            reason=f"invalid_detection: expected a JSON object, got {type(document).__name__}",
        )
    try:
        adapter = declared or detect_adapter(document)
        detection = adapter.normalize(document, tenant_id, now)
    except AdapterError as error:
        return ItemResult(
            index=index,
            detection_id=_claimed_id(document),
            status=ItemStatus.REJECTED,
            reason=f"invalid_detection: {error.reason}",
        )
    return extractor.apply(detection) if extractor else detection


def encode_detection(detection: DetectionV1, limit: int) -> bytes | str:
    """The message value, or why it cannot be one: the raw payload travels with the
    detection, and the broker refuses messages past its size limit."""
    payload = detection.model_dump_json().encode()
    if len(payload) > limit:
        return (
            f"detection_too_large: {len(payload)} bytes once normalized, "
            f"the limit is {limit} bytes (max_detection_bytes)"
        )
    return payload


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

    async def ingest(
        self, tenant_id: str, documents: list[Any], declared: FormatAdapter | None = None
    ) -> IngestResponse:
        now = datetime.now(UTC)
        results: list[ItemResult] = []
        valid: list[tuple[int, EncodedDetection]] = []
        for index, document in enumerate(documents):
            outcome = validate_item(index, document, tenant_id, now, declared, self._extractor)
            if not isinstance(outcome, DetectionV1):
                results.append(outcome)
                continue
            outcome.occurrence_id = str(uuid.uuid4())
            payload = encode_detection(outcome, self._max_detection_bytes)
            if isinstance(payload, str):
                results.append(_rejected(index, outcome.detection_id, payload))
            else:
                valid.append((index, (outcome, payload)))
        detections = [detection for _, (detection, _) in valid]
        fresh = await self._duplicates.claim(tenant_id, [d.detection_id for d in detections])
        failures = await self._publisher.publish([encoded for _, encoded in valid])
        await self._duplicates.release(
            tenant_id,
            [
                d.detection_id
                for d, new, failed in zip(detections, fresh, failures, strict=True)
                if new and failed
            ],
        )
        for (index, (detection, _)), new, failure in zip(valid, fresh, failures, strict=True):
            results.append(_published_result(index, detection.detection_id, new, failure))
        results.sort(key=lambda result: result.index)
        response = _response(results)
        if any(failures):
            raise BrokerUnavailable(
                "the event broker did not acknowledge every detection; "
                "items not accepted may be retried",
                **response.model_dump(),
            )
        if not response.accepted and not response.duplicates:
            raise InvalidInput("no detection in the request was valid", **response.model_dump())
        log.info(
            "ingest.accepted",
            tenant_id=tenant_id,
            accepted=response.accepted,
            duplicates=response.duplicates,
            rejected=response.rejected,
        )
        return response


def _published_result(index: int, detection_id: str, new: bool, failure: str | None) -> ItemResult:
    if failure:
        status, reason = ItemStatus.REJECTED, f"broker_unavailable: {failure}"
    elif new:
        status, reason = ItemStatus.ACCEPTED, None
    else:
        status, reason = ItemStatus.DUPLICATE, DUPLICATE_REASON
    return ItemResult(index=index, detection_id=detection_id, status=status, reason=reason)


def _rejected(index: int, detection_id: str, reason: str) -> ItemResult:
    return ItemResult(
        index=index, detection_id=detection_id, status=ItemStatus.REJECTED, reason=reason
    )


def _response(results: list[ItemResult]) -> IngestResponse:
    counts = Counter(result.status for result in results)
    return IngestResponse(
        accepted=counts[ItemStatus.ACCEPTED],
        duplicates=counts[ItemStatus.DUPLICATE],
        rejected=counts[ItemStatus.REJECTED],
        items=results,
    )


def _claimed_id(document: dict[str, Any]) -> str | None:
    value = document.get("detection_id")
    return value[:256] if isinstance(value, str) else None
