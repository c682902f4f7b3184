"""Ingest rules: validate each item, normalize it, publish it, and say what happened to it.

An item is reported `accepted` only once the broker acknowledged it (acks=all)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1
from libs.common.errors import BrokerUnavailable, InvalidInput
from libs.common.logging import get_logger
from services.ingest.adapters import AdapterError, FormatAdapter, adapter_named, detect_adapter
from services.ingest.bodies import UnparseableLine
from services.ingest.entity_rules import EntityExtractor
from services.ingest.publisher import DetectionPublisher
from services.ingest.schemas import IngestResponse, ItemResult, ItemStatus

log = get_logger(__name__)


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


def declared_format(name: str | None) -> FormatAdapter | None:
    """The adapter a client named, or None to sniff; an unknown name is the client's error."""
    if not name:
        return None
    try:
        return adapter_named(name.strip().lower())
    except AdapterError as error:
        raise InvalidInput(error.reason, format=name[:64]) from error


class IngestService:
    def __init__(self, publisher: DetectionPublisher, extractor: EntityExtractor) -> None:
        self._publisher = publisher
        self._extractor = extractor

    async def ingest(
        self, tenant_id: str, documents: list[Any], declared: FormatAdapter | None = None
    ) -> IngestResponse:
        now = datetime.now(UTC)
        results: list[ItemResult] = []
        valid: list[tuple[int, DetectionV1]] = []
        for index, document in enumerate(documents):
            outcome = validate_item(index, document, tenant_id, now, declared, self._extractor)
            if isinstance(outcome, DetectionV1):
                valid.append((index, outcome))
            else:
                results.append(outcome)
        failures = await self._publisher.publish([detection for _, detection in valid])
        for (index, detection), failure in zip(valid, failures, strict=True):
            results.append(
                ItemResult(
                    index=index,
                    detection_id=detection.detection_id,
                    status=ItemStatus.REJECTED if failure else ItemStatus.ACCEPTED,
                    reason=f"broker_unavailable: {failure}" if failure else None,
                )
            )
        results.sort(key=lambda result: result.index)
        response = IngestResponse(
            accepted=sum(result.status is ItemStatus.ACCEPTED for result in results),
            rejected=sum(result.status is ItemStatus.REJECTED for result in results),
            items=results,
        )
        if any(failures):
            raise BrokerUnavailable(
                "the event broker did not acknowledge every detection; "
                "items not accepted may be retried",
                **response.model_dump(),
            )
        if not response.accepted:
            raise InvalidInput("no detection in the request was valid", **response.model_dump())
        log.info(
            "ingest.accepted",
            tenant_id=tenant_id,
            accepted=response.accepted,
            rejected=response.rejected,
        )
        return response


def _claimed_id(document: dict[str, Any]) -> str | None:
    value = document.get("detection_id")
    return value[:256] if isinstance(value, str) else None
