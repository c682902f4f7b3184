"""How alerting judges a tenant's detections in one batch: the policy's severity mapping
and case-creation rule, adjusted by analysts' active entity verdicts. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from libs.common.contracts.detections import DetectionV1, Severity
from libs.common.policies.alerting import AlertingPolicy
from libs.common.policies.dedup import fingerprint
from libs.common.policies.grouping import Reason
from libs.common.verdicts.model import BatchEntities, EntityKey, Verdict, verdicts_on
from services.alerting.correlation.alerts import is_correlation


@dataclass(frozen=True)
class Assessment:
    policy: AlertingPolicy
    verdicts: dict[EntityKey, Verdict] = field(default_factory=dict)
    entities: BatchEntities = field(default_factory=BatchEntities)

    def severity(self, detection: DetectionV1) -> Severity:
        """A detection naming an entity judged malicious is critical, whatever it says."""
        if Verdict.MALICIOUS in verdicts_on(self.entities.of(detection), self.verdicts):
            return Severity.CRITICAL
        return self.policy.severity.severity_for(detection)

    def may_open(self, detection: DetectionV1) -> Reason | None:
        """None if the detection may open a case. An entity judged benign keeps it from
        opening one, unless it also names one judged malicious."""
        found = verdicts_on(self.entities.of(detection), self.verdicts)
        if Verdict.BENIGN in found and Verdict.MALICIOUS not in found:
            return Reason.BENIGN_ENTITY
        refusal = self.policy.case_creation.may_open(detection, self.severity(detection))
        return Reason(refusal) if refusal else None

    def fingerprint(self, detection: DetectionV1) -> str | None:
        """The dedup fingerprint under the policy (correlation alerts have their own ids)."""
        if is_correlation(detection):
            return None
        return fingerprint(detection, self.policy.dedup.fingerprint_fields)

    def provenance(self, detection: DetectionV1) -> dict[str, Any]:
        """The verdicts that applied, for the alert's `why` (empty when none)."""
        found = verdicts_on(self.entities.of(detection), self.verdicts)
        return {"verdicts": {v.value: keys for v, keys in found.items()}} if found else {}
