"""Wazuh alerts (a line of `alerts.json`, as integrations and the indexer get it) ->
DetectionV1.

- detection_id: `manager.name:id` (an alert id is unique per manager only), else `id`,
  else the content fingerprint.
- time: `timestamp` (`2022-05-11T12:29:19.905+0000`).
- title / rule: `rule.description` / `rule.id`, both required.
- source: "wazuh".
- severity: `rule.level` 0-15 by Wazuh's rule classification: 0-3 info, 4-6 low,
  7-11 medium, 12-14 high, 15 critical; no level: medium.
- priority: `rule.level` * 10 / 15, rounded (15 -> 10, 12 -> 8, 10 -> 7, 5 -> 3).
- host: `agent.name`, the monitored endpoint (for agent 000, the manager itself).
- entities: agent name/ip, `data.srcip|dstip`, `data.srcuser|dstuser`, Windows
  eventdata users/image/ip, `syscheck.path` and its hashes, `data.url`.
- mitre: `rule.mitre.id` (techniques), `rule.mitre.tactic` (names).

`rule.groups`, compliance tags (pci_dss, gdpr, ...), `full_log`, `decoder` stay in
`raw`."""

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
    first_text,
    parse_time,
    text,
    texts,
)

MAX_LEVEL = 15


class WazuhAdapter:
    name = "wazuh"

    def matches(self, document: dict[str, Any]) -> bool:
        rule = document.get("rule")
        return (
            isinstance(rule, dict)
            and "level" in rule
            and "description" in rule
            and ("agent" in document or "manager" in document)
        )

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        rule = as_dict(document.get("rule"))
        rule_id = text(rule.get("id"))
        if rule_id is None:
            raise reject(self.name, "rule.id missing")
        title = text(rule.get("description"))
        if title is None:
            raise reject(self.name, "rule.description missing")
        level = as_int(rule.get("level"))
        if level is not None:
            level = min(max(level, 0), MAX_LEVEL)
        alert_id = text(document.get("id"))
        manager = text(as_dict(document.get("manager")).get("name"))
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=f"{manager}:{alert_id}" if manager and alert_id else alert_id,
            source="wazuh",
            title=title,
            rule_id=rule_id,
            rule_name=title,
            rule_level=str(level) if level is not None else None,
            severity=_severity(level),
            priority=round(level * 10 / MAX_LEVEL) if level is not None else None,
            event_time=parse_time(document.get("timestamp")),
            host=text(as_dict(document.get("agent")).get("name")),
            mitre=_mitre(rule),
            entities=_entities(document),
        )


def _severity(level: int | None) -> Severity:
    if level is None:
        return Severity.MEDIUM
    if level <= 3:
        return Severity.INFO
    if level <= 6:
        return Severity.LOW
    if level <= 11:
        return Severity.MEDIUM
    if level <= 14:
        return Severity.HIGH
    return Severity.CRITICAL


def _mitre(rule: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    attack = as_dict(rule.get("mitre"))
    for technique in texts(attack.get("id")):
        mitre.technique(technique)
    for tactic in texts(attack.get("tactic")):
        mitre.tactic(tactic)
    return mitre


def _entities(document: dict[str, Any]) -> EntityBag:
    bag = EntityBag()
    agent = as_dict(document.get("agent"))
    bag.add(EntityType.HOST, agent.get("name"), "target")
    bag.add_address(agent.get("ip"), "target")
    data = as_dict(document.get("data"))
    bag.add_address(data.get("srcip"), "src")
    bag.add_address(data.get("dstip"), "dst")
    bag.add(EntityType.USER, data.get("srcuser"), "actor")
    bag.add(EntityType.USER, data.get("dstuser"), "target")
    eventdata = as_dict(as_dict(data.get("win")).get("eventdata"))
    bag.add(EntityType.USER, first_text(eventdata.get("targetUserName")), "target")
    bag.add(EntityType.USER, first_text(eventdata.get("subjectUserName")), "actor")
    bag.add(EntityType.PROCESS, first_text(eventdata.get("image")), "actor")
    bag.add(EntityType.PROCESS, first_text(eventdata.get("parentImage")), "parent")
    bag.add_address(eventdata.get("ipAddress"), "src")
    bag.add(EntityType.URL, data.get("url"), None)
    syscheck = as_dict(document.get("syscheck"))
    bag.add(EntityType.FILE, syscheck.get("path"), "target")
    for digest in ("sha256_after", "sha1_after", "md5_after"):
        bag.add(EntityType.HASH, syscheck.get(digest), "target")
    return bag


ADAPTER = WazuhAdapter()
