"""Zeek `notice.log` records (JSON logs) -> DetectionV1.

- detection_id: Zeek has none (`uid` names the connection, which can raise several
  notices): the content fingerprint.
- time: `ts` (ISO 8601, or epoch seconds in Zeek's default JSON).
- title / description: `msg` (else the note) / `sub`.
- rule: `note` (e.g. `SSL::Invalid_Server_Cert`), required.
- source: "zeek".
- severity: notices carry none: low, except the notes in NOTE_SEVERITY that are attacks
  by nature; `Notice::ACTION_ALARM` in `actions` (the site marked the notice
  alarm-worthy) raises low to medium. No priority.
- host: the internal side of `src`/`dst` (else `id.orig_h`/`id.resp_h`), as for
  Suricata.
- entities: src/dst and the connection's addresses (roles src/dst), `peer_descr` (the
  sensor).
- matched events: the connection, `zeek-conn:<uid>`, shared by every notice Zeek raises
  about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType, Severity
from services.ingest.adapters.base import assemble, reject
from services.ingest.adapters.fields import (
    EntityBag,
    first_text,
    ip_text,
    lookup,
    parse_time,
    pick_asset,
    text,
    texts,
)

NOTE_SEVERITY = {
    "Scan::Port_Scan": Severity.MEDIUM,
    "Scan::Address_Scan": Severity.MEDIUM,
    "SSH::Password_Guessing": Severity.MEDIUM,
    "FTP::Bruteforcing": Severity.MEDIUM,
    "Signatures::Sensitive_Signature": Severity.MEDIUM,
    "HTTP::SQL_Injection_Attacker": Severity.HIGH,
    "HTTP::SQL_Injection_Victim": Severity.HIGH,
    "TeamCymruMalwareHashRegistry::Match": Severity.HIGH,
}


class ZeekAdapter:
    name = "zeek"

    def matches(self, document: dict[str, Any]) -> bool:
        return document.get("_path") == "notice" or (
            "note" in document and "msg" in document and "ts" in document
        )

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1:
        note = text(document.get("note"))
        if note is None:
            raise reject(self.name, "note missing")
        src = ip_text(document.get("src")) or ip_text(lookup(document, "id.orig_h"))
        dst = ip_text(document.get("dst")) or ip_text(lookup(document, "id.resp_h"))
        return assemble(
            self.name,
            document,
            tenant_id,
            now,
            detection_id=None,
            source="zeek",
            title=first_text(document.get("msg")) or note,
            description=text(document.get("sub")),
            rule_id=note,
            rule_name=note,
            rule_level=None,
            severity=_severity(note, texts(document.get("actions"))),
            priority=None,
            event_time=parse_time(document.get("ts")),
            host=pick_asset(src, dst),
            entities=_entities(document, src, dst),
            matched_event_ids=[f"zeek-conn:{uid}" for uid in texts(document.get("uid"))[:1]],
        )


def _severity(note: str, actions: list[str]) -> Severity:
    severity = NOTE_SEVERITY.get(note, Severity.LOW)
    if "Notice::ACTION_ALARM" in actions and severity is Severity.LOW:
        return Severity.MEDIUM
    return severity


def _entities(document: dict[str, Any], src: str | None, dst: str | None) -> EntityBag:
    bag = EntityBag()
    bag.add(EntityType.IP, src, "src")
    bag.add(EntityType.IP, dst, "dst")
    bag.add(EntityType.IP, ip_text(lookup(document, "id.orig_h")), "src")
    bag.add(EntityType.IP, ip_text(lookup(document, "id.resp_h")), "dst")
    bag.add(EntityType.HOST, document.get("peer_descr"), "sensor")
    return bag


ADAPTER = ZeekAdapter()
