"""LimaCharlie detections (the `detect` output stream; also the `{"action": "report",
"data": {...}}` wrapper some outputs send) -> DetectionV1.

- detection_id: `detect_id`, else the content fingerprint.
- time: `routing.event_time` (epoch ms of the triggering event, also under
  `detect.routing`), `gen_time`, `detect.ts`.
- title: `cat`; rule: `source_rule`, `detect_mtd.rule_name`, else `cat`.
- source: "limacharlie" (LimaCharlie's own `source` names a rule namespace or a sensor).
- severity/priority: `priority` 0-10 taken as is (values outside are clamped), severity
  read from it: 0-1 info, 2-3 low, 4-6 medium, 7-8 high, 9-10 critical. Without a
  priority: the `detect_mtd.level` word, else medium.
- host: `routing.hostname` (the sensor's host, which is the endpoint for EDR).
- entities: routing hostname/int_ip/ext_ip; the event's FILE_PATH, HASH, USER_NAME,
  PARENT, DOMAIN_NAME, IP_ADDRESS; the rule's `detect_data` IOCs.
- mitre: `detect_mtd.tags` / `rule_tags` (Sigma style), `detect_mtd.mitre|technique`.
- matched events: the triggering event's atom `routing.this` (else `routing.event_id`),
  which every rule firing on that event reports."""

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
    ip_text,
    severity_for_priority,
    severity_word,
    text,
    texts,
)

# detect_data keys LimaCharlie's docs and managed rules use for extracted IOCs.
DETECT_DATA = {
    "file_path": (EntityType.FILE, "target"),
    "file_hash": (EntityType.HASH, "target"),
    "process_hash": (EntityType.HASH, "actor"),
    "hash": (EntityType.HASH, None),
    "suspicious_process": (EntityType.PROCESS, "actor"),
    "parent_process": (EntityType.PROCESS, "parent"),
    "process": (EntityType.PROCESS, "actor"),
    "source_ip": (EntityType.IP, "src"),
    "destination_ip": (EntityType.IP, "dst"),
    "ip": (EntityType.IP, None),
    "domain": (EntityType.DOMAIN, None),
    "url": (EntityType.URL, None),
    "user": (EntityType.USER, "actor"),
    "user_name": (EntityType.USER, "actor"),
    "email": (EntityType.EMAIL, None),
}


class LimaCharlieAdapter:
    name = "limacharlie"

    def matches(self, document: dict[str, Any]) -> bool:
        body = _body(document)
        return "detect_id" in body or ("cat" in body and "routing" in body)

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        body = _body(document)
        title = text(body.get("cat"))
        if title is None:
            raise reject(self.name, "cat (the detection name) missing")
        meta = as_dict(body.get("detect_mtd"))
        routing = _routing(body)
        severity, priority = _severity(body, meta)
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=text(body.get("detect_id")),
            source="limacharlie",
            title=title,
            description=first_text(meta.get("description")),
            rule_id=first_text(body.get("source_rule"), meta.get("rule_name")) or title,
            rule_name=title,
            rule_level=first_text(meta.get("level"), body.get("priority")),
            severity=severity,
            priority=priority,
            event_time=first_time(
                routing.get("event_time"),
                body.get("gen_time"),
                as_dict(body.get("detect")).get("ts"),
            ),
            host=text(routing.get("hostname")),
            mitre=_mitre(body, meta),
            entities=_entities(body, routing),
            matched_event_ids=[first_text(routing.get("this"), routing.get("event_id"))],
        )


def _body(document: dict[str, Any]) -> dict[str, Any]:
    """The detection itself, unwrapping `{"action": ..., "data": {detection}}`."""
    data = document.get("data")
    if "detect_id" not in document and isinstance(data, dict) and "detect_id" in data:
        return data
    return document


def _routing(body: dict[str, Any]) -> dict[str, Any]:
    return as_dict(body.get("routing")) or as_dict(as_dict(body.get("detect")).get("routing"))


def _severity(body: dict[str, Any], meta: dict[str, Any]) -> tuple[Severity, int | None]:
    priority = as_int(body.get("priority"))
    if priority is not None:
        priority = min(max(priority, 0), 10)
        return severity_for_priority(priority), priority
    return severity_word(meta.get("level")) or Severity.MEDIUM, None


def _event(body: dict[str, Any]) -> dict[str, Any]:
    """The triggering event: `detect.event` in real detections, `detect` itself in the
    documentation's shortened examples."""
    detect = as_dict(body.get("detect"))
    return as_dict(detect.get("event")) or detect


def _entities(body: dict[str, Any], routing: dict[str, Any]) -> EntityBag:
    bag = EntityBag()
    bag.add(EntityType.HOST, routing.get("hostname"), "target")
    bag.add(EntityType.IP, ip_text(routing.get("int_ip")), "target")
    bag.add(EntityType.IP, ip_text(routing.get("ext_ip")), "target")
    event = _event(body)
    bag.add(EntityType.PROCESS, first_text(event.get("FILE_PATH")), "actor")
    bag.add(EntityType.HASH, event.get("HASH"), "actor")
    bag.add(EntityType.USER, event.get("USER_NAME"), "actor")
    bag.add(EntityType.PROCESS, as_dict(event.get("PARENT")).get("FILE_PATH"), "parent")
    bag.add(EntityType.DOMAIN, event.get("DOMAIN_NAME"), None)
    bag.add(EntityType.IP, ip_text(event.get("IP_ADDRESS")), None)
    for key, value in list(as_dict(body.get("detect_data")).items())[:100]:
        kind, role = DETECT_DATA.get(key.lower(), (None, None))
        if kind is EntityType.IP:
            bag.add(kind, ip_text(value), role)
        elif kind is not None:
            for item in texts(value):
                bag.add(kind, item, role)
    return bag


def _mitre(body: dict[str, Any], meta: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    for tag in (as_list(meta.get("tags")) + as_list(body.get("rule_tags")))[:256]:
        mitre.tag(tag)
    for technique in texts(meta.get("mitre")) + texts(meta.get("technique")):
        mitre.technique(technique)
    return mitre


ADAPTER = LimaCharlieAdapter()
