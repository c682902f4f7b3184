"""Elastic Security alerts and other ECS alert documents -> DetectionV1.

Fields are read nested or dotted (`kibana.alert.rule.name` as one key, as the alerts
index stores it, or as nested objects); 7.x `signal.*` alerts are accepted too.

- detection_id: `kibana.alert.uuid`, `_id`, else the content fingerprint.
- time: `kibana.alert.original_time` (the source event), `signal.original_time`,
  `@timestamp`.
- title: `kibana.alert.rule.name`, `signal.rule.name`, `rule.name`, `message`;
  description: `kibana.alert.reason`, the rule description.
- rule: the source rule `rule.id` when a promotion rule renamed the alert, else
  `kibana.alert.rule.rule_id` (stable across spaces), `.uuid`, `signal.rule.rule_id`.
- source: "elastic-security" for Kibana alerts, else `event.module`, `observer.product`.
- severity: `kibana.alert.severity` / `signal.rule.severity` words; else Elastic's risk
  bands: 0-20 info, 21-46 low, 47-72 medium, 73-98 high, 99+ critical.
- priority: risk score 0-100 (`kibana.alert.risk_score`, `signal.rule.risk_score`,
  `event.risk_score`, numeric `event.severity`) / 10, rounded.
- host: `host.name`, `host.hostname`.
- entities: host, user (+ user.target), process (+ parent, hashes), file (+ hashes),
  source/destination ip and domain, url, dns question, email from/to, registry path.
- mitre: `threat[]`, `kibana.alert.rule.threat[]`: tactic names, technique and
  subtechnique ids.
- matched events: the ids of `kibana.alert.ancestors[]` (`signal.ancestors[]`) that are
  source events (`type` event), the documents the rule matched."""

from __future__ import annotations

from collections.abc import Callable
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
    lookup,
    severity_word,
    texts,
)

ALERT_KINDS = {"alert", "signal"}
Getter = Callable[[str], Any]


class EcsAdapter:
    name = "ecs"

    def matches(self, document: dict[str, Any]) -> bool:
        if any(key.startswith("kibana.alert") for key in document) or lookup(
            document, "kibana.alert"
        ):
            return True
        if isinstance(lookup(document, "signal.rule"), dict):
            return True
        return first_text(lookup(document, "event.kind")) in ALERT_KINDS

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        def get(path: str) -> Any:
            return lookup(document, path)

        title = first_text(
            get("kibana.alert.rule.name"), get("signal.rule.name"), get("rule.name"), get("message")
        )
        if title is None:
            raise reject(self.name, "kibana.alert.rule.name missing (and no rule.name or message)")
        kibana = get("kibana.alert.rule.name") is not None or get("kibana.alert.uuid") is not None
        severity, priority = _severity(get)
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=first_text(get("kibana.alert.uuid"), document.get("_id")),
            source="elastic-security"
            if kibana or get("signal.rule") is not None
            else first_text(get("event.module"), get("observer.product")) or "ecs",
            title=title,
            description=first_text(
                get("kibana.alert.reason"),
                get("signal.reason"),
                get("kibana.alert.rule.description"),
                get("rule.description"),
            ),
            rule_id=first_text(
                # A promotion rule (Elastic Defend, third-party alerts) renames each alert
                # after the source rule: that source rule is the real grouping rule.
                get("rule.id") if get("kibana.alert.rule.rule_name_override") else None,
                get("kibana.alert.rule.rule_id"),
                get("kibana.alert.rule.uuid"),
                get("signal.rule.rule_id"),
                get("signal.rule.id"),
                get("rule.id"),
                get("rule.uuid"),
            )
            or title,
            rule_name=title,
            rule_level=first_text(get("kibana.alert.severity"), get("signal.rule.severity")),
            severity=severity,
            priority=priority,
            event_time=first_time(
                get("kibana.alert.original_time"), get("signal.original_time"), get("@timestamp")
            ),
            host=first_text(get("host.name"), get("host.hostname")),
            mitre=_mitre(document),
            entities=_entities(get),
            matched_event_ids=_ancestor_events(get),
        )


def _risk_band(score: int) -> Severity:
    if score >= 99:
        return Severity.CRITICAL
    if score >= 73:
        return Severity.HIGH
    if score >= 47:
        return Severity.MEDIUM
    if score >= 21:
        return Severity.LOW
    return Severity.INFO


def _severity(get: Getter) -> tuple[Severity, int | None]:
    risk = next(
        (
            score
            for path in (
                "kibana.alert.risk_score",
                "signal.rule.risk_score",
                "event.risk_score",
                "event.severity",
            )
            if (score := as_int(get(path))) is not None and 0 <= score <= 100
        ),
        None,
    )
    word = severity_word(get("kibana.alert.severity")) or severity_word(get("signal.rule.severity"))
    priority = round(risk / 10) if risk is not None else None
    if word is not None:
        return word, priority
    return (_risk_band(risk) if risk is not None else Severity.MEDIUM), priority


def _mitre(document: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    threats = as_list(lookup(document, "threat")) + as_list(
        lookup(document, "kibana.alert.rule.threat")
    )
    threats += as_list(lookup(document, "signal.rule.threat"))
    for threat in threats[:50]:
        tactic = as_dict(as_dict(threat).get("tactic"))
        mitre.tactic(first_text(tactic.get("name"), tactic.get("id")))
        for technique in as_list(as_dict(threat).get("technique"))[:50]:
            mitre.technique(as_dict(technique).get("id"))
            for sub in as_list(as_dict(technique).get("subtechnique"))[:50]:
                mitre.technique(as_dict(sub).get("id"))
    return mitre


def _ancestor_events(get: Getter) -> list[Any]:
    # Ancestors of another type are alerts this one was built on, not source events.
    ancestors = as_list(get("kibana.alert.ancestors")) + as_list(get("signal.ancestors"))
    return [
        item.get("id")
        for item in map(as_dict, ancestors[:100])
        if item.get("type", "event") == "event"
    ]


def _entities(get: Getter) -> EntityBag:
    bag = EntityBag()
    bag.add(EntityType.HOST, first_text(get("host.name"), get("host.hostname")), "target")
    bag.add(EntityType.USER, get("user.name"), "actor")
    bag.add(EntityType.USER, get("user.target.name"), "target")
    bag.add(EntityType.PROCESS, first_text(get("process.executable"), get("process.name")), "actor")
    for algorithm in ("sha256", "sha1", "md5"):
        bag.add(EntityType.HASH, get(f"process.hash.{algorithm}"), "actor")
    bag.add(
        EntityType.PROCESS,
        first_text(get("process.parent.executable"), get("process.parent.name")),
        "parent",
    )
    bag.add(EntityType.FILE, first_text(get("file.path"), get("file.name")), "target")
    for algorithm in ("sha256", "sha1", "md5"):
        bag.add(EntityType.HASH, get(f"file.hash.{algorithm}"), "target")
    for role, side in (("src", "source"), ("dst", "destination")):
        bag.add_address(get(f"{side}.ip"), role)
        bag.add(EntityType.DOMAIN, get(f"{side}.domain"), role)
    bag.add(EntityType.DOMAIN, get("dns.question.name"), None)
    bag.add(EntityType.URL, first_text(get("url.full"), get("url.original")), None)
    for address in texts(get("email.from.address")):
        bag.add(EntityType.EMAIL, address, "actor")
    for address in texts(get("email.to.address")):
        bag.add(EntityType.EMAIL, address, "target")
    bag.add(EntityType.REGISTRY, get("registry.path"), "target")
    return bag


ADAPTER = EcsAdapter()
