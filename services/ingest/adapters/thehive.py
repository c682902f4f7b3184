"""TheHive 5 alerts (the `POST /api/v1/alert` body, or an alert as TheHive returns it)
and legacy `/api/alert` bodies with `artifacts` -> DetectionV1.

- detection_id: `type:source:sourceRef` (TheHive's own uniqueness key), else fingerprint.
- time: `date` (epoch ms), `_createdAt`.
- title / description: `title` / `description`.
- rule: TheHive alerts name no rule, so the title stands in (same title, same rule).
- source: `source`.
- severity/priority: `severity` 1 low/3, 2 medium/5, 3 high/7, 4 critical/9; else the
  `severityLabel` word; absent: medium (TheHive's default), no priority.
- host: the first `hostname`/`fqdn` observable.
- entities: `observables[]` (legacy: `artifacts[]`) by dataType; TheHive gives no roles.
- mitre: `procedures[].patternId`, Sigma-style `attack.*` tags.

`tlp`, `pap`, `tags`, `customFields`, `externalLink` have no DetectionV1 field and stay
in `raw`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType, Severity
from services.ingest.adapters.base import assemble, reject
from services.ingest.adapters.fields import (
    EntityBag,
    MitreSet,
    as_dict,
    as_int,
    as_list,
    first_text,
    first_time,
    severity_word,
    text,
)

SEVERITIES: dict[int, tuple[Severity, int]] = {
    1: (Severity.LOW, 3),
    2: (Severity.MEDIUM, 5),
    3: (Severity.HIGH, 7),
    4: (Severity.CRITICAL, 9),
}
DATA_TYPES = {
    "hostname": EntityType.HOST,
    "fqdn": EntityType.HOST,
    "ip": EntityType.IP,
    "domain": EntityType.DOMAIN,
    "url": EntityType.URL,
    "uri_path": EntityType.URL,
    "hash": EntityType.HASH,
    "filename": EntityType.FILE,
    "file": EntityType.FILE,
    "mail": EntityType.EMAIL,
    "mail_subject": EntityType.OTHER,
    "registry": EntityType.REGISTRY,
    "user-agent": EntityType.OTHER,
    "user": EntityType.USER,
    "user-account": EntityType.USER,
    "other": EntityType.OTHER,
}


class TheHiveAdapter:
    name = "thehive"

    def matches(self, document: dict[str, Any]) -> bool:
        return "sourceRef" in document

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        title = text(document.get("title"))
        if title is None:
            raise reject(self.name, "title missing")
        source = text(document.get("source")) or "thehive"
        key = [text(document.get(field)) for field in ("type", "source", "sourceRef")]
        severity, priority = _severity(document)
        observables = _observables(document)
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=":".join(part for part in key if part) if key[2] else None,
            source=source,
            title=title,
            description=text(document.get("description")),
            rule_id=title,
            rule_name=title,
            rule_level=first_text(document.get("severityLabel"), document.get("severity")),
            severity=severity,
            priority=priority,
            event_time=first_time(document.get("date"), document.get("_createdAt")),
            host=next(
                (
                    data
                    for data_type, data in observables
                    if DATA_TYPES.get(data_type) is EntityType.HOST
                ),
                None,
            ),
            mitre=_mitre(document),
            entities=_entities(observables),
        )


def _severity(document: dict[str, Any]) -> tuple[Severity, int | None]:
    known = SEVERITIES.get(as_int(document.get("severity")) or 0)
    if known:
        return known
    return severity_word(document.get("severityLabel")) or Severity.MEDIUM, None


def _observables(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(dataType, data) pairs; file observables carry an attachment, not data, and
    yield nothing to match on."""
    found = []
    items = as_list(document.get("observables")) or as_list(document.get("artifacts"))
    for item in items[:1_000]:
        item = as_dict(item)
        data_type, data = text(item.get("dataType")), text(item.get("data"))
        if data_type and data:
            found.append((data_type.lower(), data))
    return found


def _entities(observables: list[tuple[str, str]]) -> EntityBag:
    bag = EntityBag()
    for data_type, data in observables:
        bag.add(DATA_TYPES.get(data_type, EntityType.OTHER), data)
    return bag


def _mitre(document: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    for procedure in as_list(document.get("procedures"))[:100]:
        procedure = as_dict(procedure)
        mitre.technique(procedure.get("patternId"))
        mitre.tactic(procedure.get("tactic"))
    for tag in as_list(document.get("tags"))[:256]:
        mitre.tag(tag)
    return mitre


ADAPTER = TheHiveAdapter()
