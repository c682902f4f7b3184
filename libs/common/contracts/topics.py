"""The topic registry: every topic, its key, its partition count and its message model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter

from libs.common.contracts.alerts import AlertsChangedV1, AlertV1, AlertV2
from libs.common.contracts.cases import CaseEventV1
from libs.common.contracts.detections import DetectionV1


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    description: str
    # None: the payload is foreign (raw SIEM output, dead letters keep original bytes).
    schema: Any | None


DETECTIONS_RAW = Topic(
    "detections.raw.v1",
    "tenant:host (if the producer knows it)",
    "Raw detections in any supported SIEM format, from any producer.",
    None,
)
DETECTIONS = Topic(
    "detections.v1", "tenant:host", "Normalized detections from ingest.", DetectionV1
)
DETECTIONS_DLQ = Topic(
    "detections.dlq.v1",
    "as received",
    "Rejected input: original bytes; reason, source topic, partition, offset in headers.",
    None,
)
ALERTS = Topic(
    "alerts.v1",
    "tenant:alert_id",
    "Deprecated for alerts.v2 (docs/alert-topics.md): alerts with a case, as stored by alerting.",
    AlertV1,
)
ALERTS_V2 = Topic(
    "alerts.v2",
    "tenant:alert_id",
    "Every alert as stored by alerting, with its case (if any) and its grouping decision.",
    AlertV2,
)
ALERTS_CHANGED = Topic(
    "alerts.changed.v1",
    "tenant",
    "Ids of alerts stored or counted by alerting (only while the alert store is OpenSearch).",
    AlertsChangedV1,
)
CASE_EVENTS = Topic(
    "cases.events.v1", "case_id", "Every case change, ordered per case.", CaseEventV1
)

ALL_TOPICS: tuple[Topic, ...] = (
    DETECTIONS_RAW,
    DETECTIONS,
    DETECTIONS_DLQ,
    ALERTS,
    ALERTS_V2,
    ALERTS_CHANGED,
    CASE_EVENTS,
)


def json_schema(topic: Topic) -> dict[str, Any] | None:
    if topic.schema is None:
        return None
    if isinstance(topic.schema, type) and issubclass(topic.schema, BaseModel):
        return topic.schema.model_json_schema()
    return TypeAdapter(topic.schema).json_schema()
