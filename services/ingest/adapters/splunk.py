"""Splunk webhook alert action payloads (`{"result": {...}, "sid", "results_link",
"search_name", "owner", "app"}`, result being the first row of the triggering search)
-> DetectionV1. Result fields are read by their CIM names.

- detection_id: `sid:<hash of result>`, one id per trigger and per row in "for each
  result" mode (where Splunk sends the same sid once per row); no sid: fingerprint.
- time: `result._time` (epoch seconds or ISO); the payload has no trigger time.
- title and rule: `search_name` (the saved search is the rule); Splunk sends `null` for
  unnamed searches, which become "Splunk alert (unnamed search)".
- source: "splunk".
- severity: `result.severity` or `result.urgency` word (CIM informational..critical),
  else medium; priority: `result.risk_score` 0-100 / 10 when present.
- host: `result.dest_host|dest_nt_host|dest` (CIM: the affected asset), then
  `result.host`, which for network logs is the device that logged the event.
- entities: src/dest (IP or host), user/src_user/dest_user, url, dest_domain, query,
  file_hash, file_path/file_name, process/parent_process, sender/recipient; multivalue
  fields unrolled.
- mitre: `result.mitre_technique_id`, `result.annotations.mitre_attack`,
  `result.mitre_tactic`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType, Severity
from services.ingest.adapters.base import assemble, reject, short_hash
from services.ingest.adapters.fields import (
    EntityBag,
    MitreSet,
    as_int,
    first_text,
    first_time,
    lookup,
    severity_word,
    text,
    texts,
)

UNNAMED = "Splunk alert (unnamed search)"
# CIM field → (entity type, role); src/dest hold an IP or a host name and are added by
# EntityBag.add_address instead.
CIM_FIELDS = {
    "user": (EntityType.USER, "actor"),
    "src_user": (EntityType.USER, "actor"),
    "dest_user": (EntityType.USER, "target"),
    "url": (EntityType.URL, None),
    "query": (EntityType.DOMAIN, None),
    "dest_domain": (EntityType.DOMAIN, "dst"),
    "file_hash": (EntityType.HASH, "target"),
    "file_path": (EntityType.FILE, "target"),
    "file_name": (EntityType.FILE, "target"),
    "process": (EntityType.PROCESS, "actor"),
    "process_name": (EntityType.PROCESS, "actor"),
    "parent_process": (EntityType.PROCESS, "parent"),
    "sender": (EntityType.EMAIL, "actor"),
    "recipient": (EntityType.EMAIL, "target"),
}


class SplunkAdapter:
    name = "splunk"

    def matches(self, document: dict[str, Any]) -> bool:
        return "sid" in document and ("results_link" in document or "search_name" in document)

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        result = document.get("result")
        if not isinstance(result, dict):
            # Splunk always sends the first result row; without it this is not a trigger.
            raise reject(self.name, "result (the first result row) missing or not an object")
        sid = text(document.get("sid"))
        title = text(document.get("search_name")) or UNNAMED
        risk = as_int(result.get("risk_score"))
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=f"{sid}:{short_hash(result)}" if sid else None,
            source="splunk",
            title=title,
            description=first_text(result.get("description"), result.get("signature")),
            rule_id=title,
            rule_name=title,
            rule_level=first_text(result.get("severity"), result.get("urgency")),
            severity=severity_word(result.get("severity"))
            or severity_word(result.get("urgency"))
            or Severity.MEDIUM,
            priority=round(risk / 10) if risk is not None and 0 <= risk <= 100 else None,
            event_time=first_time(*texts(result.get("_time"))),
            host=first_text(
                *texts(result.get("dest_host")),
                *texts(result.get("dest_nt_host")),
                *texts(result.get("dest")),
                *texts(result.get("host")),
            ),
            mitre=_mitre(result),
            entities=_entities(result),
        )


def _entities(result: dict[str, Any]) -> EntityBag:
    bag = EntityBag()
    for field, side in (("dest", "dst"), ("dest_ip", "dst"), ("src", "src"), ("src_ip", "src")):
        for value in texts(result.get(field)):
            bag.add_address(value, side)
    for field, (kind, role) in CIM_FIELDS.items():
        for value in texts(result.get(field)):
            bag.add(kind, value, role)
    for value in texts(result.get("host")):
        bag.add_address(value, None)
    return bag


def _mitre(result: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    techniques = texts(result.get("mitre_technique_id")) + texts(
        lookup(result, "annotations.mitre_attack")
    )
    for technique in techniques:
        mitre.technique(technique)
    for tactic in texts(result.get("mitre_tactic")):
        mitre.tactic(tactic)
    return mitre


ADAPTER = SplunkAdapter()
