"""Native Casestream detections (the `../shared/data/detections` shape): the existing
`normalize_native` behind the adapter interface.

Severity: `rule.level` word (informational/low/medium/high/critical; unknown → medium);
no priority. Host: `host.name`. Id: `detection_id`, else the content fingerprint.
Time: `timestamp`. Entities, MITRE: as `services.ingest.normalize` maps them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1
from services.ingest.adapters.base import describe_validation_error, reject
from services.ingest.normalize import normalize_native
from services.ingest.schemas import NativeDetection


class NativeAdapter:
    name = "native"

    def matches(self, document: dict[str, Any]) -> bool:
        rule = document.get("rule")
        return isinstance(rule, dict) and "title" in rule

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        try:
            item = NativeDetection.model_validate(document)
            return normalize_native(item, document, tenant_id, now)
        except ValidationError as error:
            raise reject(self.name, describe_validation_error(error)) from error


ADAPTER = NativeAdapter()
