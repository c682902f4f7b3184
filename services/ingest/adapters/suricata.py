"""Suricata EVE `alert` events -> DetectionV1.

- detection_id: EVE has none (flow_id repeats across a flow's alerts): fingerprint.
- time: `timestamp` (`2015-03-29T11:01:38.221126-0600`).
- title / description: `alert.signature` / `alert.category`.
- rule: `alert.signature_id` (`gid:sid` when gid is not 1); level `alert.severity`.
- source: "suricata".
- severity/priority: `alert.severity` (classification priority) 1 high/8, 2 medium/5,
  3 low/3, 4 and above info/1; absent: medium, no priority.
- host: `alert.target.ip` when the rule names a target, else the internal side of
  src/dest (see below).
- entities: src/dest IP (roles src/dst), the sensor (`host`, role sensor), http
  hostname and url, tls sni, dns rrname, smtp/email addresses, fileinfo name, hashes.
- mitre: ET `alert.metadata` `mitre_technique_id`, `mitre_tactic_name`.
- matched events: the flow, `suricata-flow:<sensor host>/<flow_id>`: the alerts a flow
  raises share it (flow ids are only unique per sensor).

Host choice: grouping by sensor would pour every alert a site sees into one case, and
grouping by raw destination splits an infected workstation's outbound beacons across
every server it calls. A SOC investigates *its* asset, so the host is the endpoint on
the internal side: the destination of inbound attacks, the source of outbound traffic."""

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
    ip_text,
    parse_time,
    pick_asset,
    text,
    texts,
)

SEVERITIES: dict[int, tuple[Severity, int]] = {
    1: (Severity.HIGH, 8),
    2: (Severity.MEDIUM, 5),
    3: (Severity.LOW, 3),
}


class SuricataAdapter:
    name = "suricata"

    def matches(self, document: dict[str, Any]) -> bool:
        return document.get("event_type") == "alert" and isinstance(document.get("alert"), dict)

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        alert = document.get("alert")
        if document.get("event_type") != "alert" or not isinstance(alert, dict):
            raise reject(self.name, "not an alert event (event_type 'alert' with an alert object)")
        title = text(alert.get("signature"))
        if title is None:
            raise reject(self.name, "alert.signature missing")
        sid = text(alert.get("signature_id"))
        if sid is None:
            raise reject(self.name, "alert.signature_id missing")
        gid = text(alert.get("gid"))
        level = as_int(alert.get("severity"))
        severity, priority = _severity(level)
        src, dst = ip_text(document.get("src_ip")), ip_text(document.get("dest_ip"))
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=None,
            source="suricata",
            title=title,
            description=text(alert.get("category")),
            rule_id=sid if gid in (None, "1") else f"{gid}:{sid}",
            rule_name=title,
            rule_level=str(level) if level is not None else None,
            severity=severity,
            priority=priority,
            event_time=parse_time(document.get("timestamp")),
            host=ip_text(as_dict(alert.get("target")).get("ip")) or pick_asset(src, dst),
            mitre=_mitre(as_dict(alert.get("metadata"))),
            entities=_entities(document, src, dst),
            matched_event_ids=[_flow(document)],
        )


def _flow(document: dict[str, Any]) -> str | None:
    flow_id = text(document.get("flow_id"))
    if flow_id is None:
        return None
    return f"suricata-flow:{text(document.get('host')) or '-'}/{flow_id}"


def _severity(level: int | None) -> tuple[Severity, int | None]:
    if level is None or level < 1:
        return Severity.MEDIUM, None
    return SEVERITIES.get(level, (Severity.INFO, 1))


def _mitre(metadata: dict[str, Any]) -> MitreSet:
    mitre = MitreSet()
    for technique in texts(metadata.get("mitre_technique_id")):
        mitre.technique(technique)
    for tactic in texts(metadata.get("mitre_tactic_name")):
        mitre.tactic(tactic)
    return mitre


def _entities(document: dict[str, Any], src: str | None, dst: str | None) -> EntityBag:
    bag = EntityBag()
    bag.add(EntityType.IP, src, "src")
    bag.add(EntityType.IP, dst, "dst")
    bag.add(EntityType.HOST, document.get("host"), "sensor")
    http = as_dict(document.get("http"))
    hostname, path = text(http.get("hostname")), text(http.get("url"))
    bag.add(EntityType.DOMAIN, hostname, "dst")
    if hostname and path and path.startswith("/"):
        bag.add(EntityType.URL, f"http://{hostname}{path}", None)
    bag.add(EntityType.DOMAIN, as_dict(document.get("tls")).get("sni"), "dst")
    bag.add(EntityType.DOMAIN, as_dict(document.get("dns")).get("rrname"), None)
    for query in as_list(as_dict(document.get("dns")).get("query"))[:20]:
        bag.add(EntityType.DOMAIN, as_dict(query).get("rrname"), None)
    smtp = as_dict(document.get("smtp"))
    email = as_dict(document.get("email"))
    for sender in texts(smtp.get("mail_from")) + texts(email.get("from")):
        bag.add(EntityType.EMAIL, sender.strip("<>"), "actor")
    for recipient in texts(smtp.get("rcpt_to")) + texts(email.get("to")):
        bag.add(EntityType.EMAIL, recipient.strip("<>"), "target")
    fileinfo = as_dict(document.get("fileinfo"))
    bag.add(EntityType.FILE, fileinfo.get("filename"), "target")
    for digest in ("sha256", "sha1", "md5"):
        bag.add(EntityType.HASH, fileinfo.get(digest), "target")
    return bag


ADAPTER = SuricataAdapter()
