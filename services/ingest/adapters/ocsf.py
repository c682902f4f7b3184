"""OCSF Detection Finding (class_uid 2004, schema 1.1+) -> DetectionV1.

- detection_id: `finding_info.uid`, `metadata.uid`, else the content fingerprint.
- time: `time_dt`, `time` (epoch ms), `finding_info.created_time(_dt)`.
- title / description: `finding_info.title` (else `message`) / `finding_info.desc`.
- rule: `finding_info.analytic.uid|name`, else the first `finding_info.types`, else title.
- source: `metadata.product.name`, else `metadata.product.vendor_name`, else "ocsf".
- severity/priority: `severity_id` 1 info/1, 2 low/3, 3 medium/5, 4 high/7, 5 critical/9,
  6 fatal -> critical/10; 0 (unknown) and 99 (other) read the `severity` label, else
  medium, with no priority.
- host: `device.hostname|name|ip`; a cloud finding without a device groups by its first
  `resources[].uid|name`, the affected resource being what a SOC triages cloud findings by.
- entities: device, actor user/process, src/dst endpoints, evidences[], observables[]
  by type_id.
- mitre: `finding_info.attacks[]` (and top-level `attacks[]` of pre-1.1 producers).
- matched events: `finding_info.related_events[].uid`.

`activity_id` 1 create, 2 update and 3 close all normalize; the activity stays in `raw`.
A close means the producer resolved its finding: downstream should record it against
the detection with the same id rather than open work for it."""

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

DETECTION_FINDING = 2004
SEVERITY_IDS: dict[int, tuple[Severity, int]] = {
    1: (Severity.INFO, 1),
    2: (Severity.LOW, 3),
    3: (Severity.MEDIUM, 5),
    4: (Severity.HIGH, 7),
    5: (Severity.CRITICAL, 9),
    6: (Severity.CRITICAL, 10),
}
# Observable type_id → entity type, for the scalar observables that carry a `value`.
OBSERVABLE_TYPES = {
    1: EntityType.HOST,
    2: EntityType.IP,
    4: EntityType.USER,
    5: EntityType.EMAIL,
    6: EntityType.URL,
    7: EntityType.FILE,
    8: EntityType.HASH,
    9: EntityType.PROCESS,
    10: EntityType.OTHER,
}


class OcsfAdapter:
    name = "ocsf"

    def matches(self, document: dict[str, Any]) -> bool:
        return "class_uid" in document

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        class_uid = as_int(document.get("class_uid"))
        if class_uid != DETECTION_FINDING:
            got = text(document.get("class_uid")) or "nothing"
            raise reject(self.name, f"class_uid {DETECTION_FINDING} expected, got {got[:40]}")
        info = as_dict(document.get("finding_info"))
        title = first_text(info.get("title"), document.get("message"))
        if title is None:
            raise reject(self.name, "finding_info.title missing (and no message)")
        analytic = as_dict(info.get("analytic"))
        types = as_list(info.get("types"))
        rule_id = first_text(analytic.get("uid"), analytic.get("name"), *types[:1]) or title
        product = as_dict(as_dict(document.get("metadata")).get("product"))
        severity, priority = _severity(document)
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=first_text(info.get("uid"), as_dict(document.get("metadata")).get("uid")),
            source=first_text(product.get("name"), product.get("vendor_name")) or "ocsf",
            title=title,
            description=text(info.get("desc")),
            rule_id=rule_id,
            rule_name=first_text(analytic.get("name")) or title,
            rule_level=first_text(document.get("severity"), document.get("severity_id")),
            severity=severity,
            priority=priority,
            event_time=_time(document, info),
            host=_host(document),
            mitre=_mitre(document, info),
            entities=_entities(document),
            matched_event_ids=[
                as_dict(event).get("uid") for event in as_list(info.get("related_events"))[:100]
            ],
        )


def _severity(document: dict[str, Any]) -> tuple[Severity, int | None]:
    known = SEVERITY_IDS.get(as_int(document.get("severity_id")) or 0)
    if known:
        return known
    return severity_word(document.get("severity")) or Severity.MEDIUM, None


def _time(document: dict[str, Any], info: dict[str, Any]) -> datetime | None:
    return first_time(
        document.get("time_dt"),
        document.get("time"),
        info.get("created_time_dt"),
        info.get("created_time"),
    )


def _host(document: dict[str, Any]) -> str | None:
    device = as_dict(document.get("device"))
    found = first_text(device.get("hostname"), device.get("name"), device.get("ip"))
    if found:
        return found
    resources = [as_dict(item) for item in as_list(document.get("resources"))[:1]]
    return first_text(*(value for r in resources for value in (r.get("uid"), r.get("name"))))


def _mitre(document: dict[str, Any], info: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    for attack in as_list(info.get("attacks")) + as_list(document.get("attacks")):
        attack = as_dict(attack)
        tactic = as_dict(attack.get("tactic"))
        mitre.tactic(first_text(tactic.get("name"), tactic.get("uid")))
        for tactic_item in as_list(attack.get("tactics")):
            mitre.tactic(first_text(as_dict(tactic_item).get("name")))
        mitre.technique(as_dict(attack.get("technique")).get("uid"))
        mitre.technique(as_dict(attack.get("sub_technique")).get("uid"))
    return mitre


def _entities(document: dict[str, Any]) -> EntityBag:
    bag = EntityBag()
    device = as_dict(document.get("device"))
    bag.add(EntityType.HOST, first_text(device.get("hostname"), device.get("name")), "target")
    bag.add_address(device.get("ip"), "target")
    _add_actor(bag, as_dict(document.get("actor")))
    _add_endpoint(bag, document.get("src_endpoint"), "src")
    _add_endpoint(bag, document.get("dst_endpoint"), "dst")
    for evidence in as_list(document.get("evidences"))[:50]:
        evidence = as_dict(evidence)
        _add_actor(bag, as_dict(evidence.get("actor")))
        _add_endpoint(bag, evidence.get("src_endpoint"), "src")
        _add_endpoint(bag, evidence.get("dst_endpoint"), "dst")
        _add_process(bag, as_dict(evidence.get("process")), "actor")
        _add_file(bag, as_dict(evidence.get("file")))
        bag.add(EntityType.USER, as_dict(evidence.get("user")).get("name"), "target")
        bag.add(EntityType.URL, as_dict(evidence.get("url")).get("url_string"), None)
        bag.add(EntityType.DOMAIN, as_dict(evidence.get("query")).get("hostname"), None)
    for observable in as_list(document.get("observables"))[:200]:
        observable = as_dict(observable)
        kind = OBSERVABLE_TYPES.get(as_int(observable.get("type_id")) or 0)
        if kind is not None:
            bag.add(kind, observable.get("value"))
    return bag


def _add_actor(bag: EntityBag, actor: dict[str, Any]) -> None:
    user = as_dict(actor.get("user"))
    bag.add(EntityType.USER, first_text(user.get("name"), user.get("uid")), "actor")
    _add_process(bag, as_dict(actor.get("process")), "actor")


def _add_process(bag: EntityBag, process: dict[str, Any], role: str) -> None:
    image = as_dict(process.get("file"))
    bag.add(EntityType.PROCESS, first_text(image.get("path"), process.get("name")), role)
    for digest in as_list(image.get("hashes"))[:10]:
        bag.add(EntityType.HASH, as_dict(digest).get("value"), role)


def _add_file(bag: EntityBag, file: dict[str, Any]) -> None:
    bag.add(EntityType.FILE, first_text(file.get("path"), file.get("name")), "target")
    for digest in as_list(file.get("hashes"))[:10]:
        bag.add(EntityType.HASH, as_dict(digest).get("value"), "target")


def _add_endpoint(bag: EntityBag, endpoint: Any, role: str) -> None:
    endpoint = as_dict(endpoint)
    bag.add_address(endpoint.get("ip"), role)
    bag.add(EntityType.HOST, endpoint.get("hostname"), role)
    bag.add(EntityType.DOMAIN, endpoint.get("domain"), role)


ADAPTER = OcsfAdapter()
