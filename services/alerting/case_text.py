"""A new case's title and Markdown description, written from the alerts that open it:
what fired, on which entities, which ATT&CK techniques, any correlation context, and
investigation hints for the tactics seen. Pure functions.

Written once, when the case opens: rewriting it as alerts join would put an audit event
on every growth. The case's alerts and timeline carry what came later."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType
from services.alerting.correlation.alerts import is_correlation

MAX_LISTED = 10
DESCRIPTION_LIMIT = 65_536
ENTITY_HEADINGS = (
    (EntityType.HOST, "Hosts"),
    (EntityType.USER, "Users"),
    (EntityType.IP, "IP addresses"),
    (EntityType.DOMAIN, "Domains"),
    (EntityType.URL, "URLs"),
    (EntityType.HASH, "Hashes"),
    (EntityType.PROCESS, "Processes"),
    (EntityType.FILE, "Files"),
    (EntityType.EMAIL, "Email addresses"),
)
# What an analyst checks first when a tactic shows up; ATT&CK tactic names as ingest
# normalizes them (hyphenated).
TACTIC_HINTS = {
    "initial-access": "Find the entry point: the first alert's source (mail, web, VPN) and "
    "other hosts that received the same payload.",
    "execution": "Review the process tree and command lines around the alert; look for "
    "encoded or downloaded scripts.",
    "persistence": "List services, scheduled tasks, run keys and new accounts created "
    "around the alert time; remove what was planted.",
    "privilege-escalation": "Check which account gained rights and how (token, service, "
    "exploit); confirm whether it is expected admin work.",
    "defense-evasion": "Check for cleared logs, disabled security tools and tampered "
    "audit policy; gaps in telemetry hide the rest.",
    "credential-access": "Assume the credentials on these hosts are exposed: identify the "
    "accounts used there and plan resets.",
    "discovery": "Discovery alone is noisy; look for what followed it on the same "
    "entities within the hour.",
    "lateral-movement": "Map source and destination hosts and the accounts used; scope "
    "every destination as a potential new case.",
    "collection": "Identify the data staged or read and where it was written.",
    "command-and-control": "Look up the remote addresses and domains; block them and "
    "search for other hosts talking to them.",
    "exfiltration": "Estimate the volume and destination of outbound data; involve the "
    "data owners early.",
    "impact": "Contain first: isolate affected hosts and protect backups before "
    "investigating further.",
}


def case_title(detections: Sequence[DetectionV1], continued: bool = False) -> str:
    first = detections[0]
    if is_correlation(first):  # titled by its rule, after the correlated entity
        title = first.title
    else:
        title = f"{first.rule.name} on {first.host or 'unknown host'}"
        others = len({d.rule.id for d in detections}) - 1
        if others:
            title += f" (+{others} more rule{'s' if others > 1 else ''})"
    if continued:
        title += " (continued)"
    return title[:1_024]


def case_description(detections: Sequence[DetectionV1]) -> str:
    sections = [
        _summary(detections),
        _rules(detections),
        _entities(detections),
        _attack(detections),
        _correlation(detections),
        _hints(detections),
    ]
    return "\n\n".join(s for s in sections if s)[:DESCRIPTION_LIMIT]


def _summary(detections: Sequence[DetectionV1]) -> str:
    times = sorted(d.effective_time for d in detections)
    span = (
        f"{times[0].isoformat()}"
        if times[0] == times[-1]
        else (f"{times[0].isoformat()} to {times[-1].isoformat()}")
    )
    lines = [f"**{len(detections)} alert{'s' if len(detections) > 1 else ''}** ({span})."]
    first = detections[0]
    if first.description:
        lines.append("")
        lines.append(first.description)
    return "\n".join(lines)


def _rules(detections: Sequence[DetectionV1]) -> str:
    counts = Counter((d.rule.name, d.rule.id) for d in detections)
    rows = [f"- {name} (`{rule_id}`): {n}" for (name, rule_id), n in counts.most_common()]
    return "### Rules\n" + "\n".join(_capped(rows))


def _entities(detections: Sequence[DetectionV1]) -> str:
    seen: dict[EntityType, Counter[str]] = {kind: Counter() for kind, _ in ENTITY_HEADINGS}
    for detection in detections:
        if detection.host:
            seen[EntityType.HOST][detection.host] += 1
        for entity in detection.entities:
            if entity.type in seen and not (
                entity.type is EntityType.HOST and entity.value == detection.host
            ):
                seen[entity.type][entity.value] += 1
    lines = [
        f"- **{heading}:** "
        + ", ".join(f"`{value}`" for value, _ in seen[kind].most_common(MAX_LISTED))
        + (f" and {len(seen[kind]) - MAX_LISTED} more" if len(seen[kind]) > MAX_LISTED else "")
        for kind, heading in ENTITY_HEADINGS
        if seen[kind]
    ]
    return "### Entities\n" + "\n".join(lines) if lines else ""


def _attack(detections: Sequence[DetectionV1]) -> str:
    techniques = sorted({t for d in detections for t in d.mitre.techniques})
    tactics = sorted({t for d in detections for t in d.mitre.tactics})
    if not techniques and not tactics:
        return ""
    lines = ["### MITRE ATT&CK"]
    if tactics:
        lines.append("- **Tactics:** " + ", ".join(tactics))
    if techniques:
        links = [
            f"[{t}](https://attack.mitre.org/techniques/{t.replace('.', '/')}/)"
            for t in techniques[:MAX_LISTED]
        ]
        lines.append("- **Techniques:** " + ", ".join(links))
    return "\n".join(lines)


def _correlation(detections: Sequence[DetectionV1]) -> str:
    lines = []
    for detection in detections:
        context = detection.raw.get("correlation") if is_correlation(detection) else None
        if not isinstance(context, dict):
            continue
        matched = context.get("matched_detection_ids")
        count = len(matched) if isinstance(matched, list) else 0
        stored_window = context.get("window")
        window: dict[str, Any] = stored_window if isinstance(stored_window, dict) else {}
        lines.append(
            f"- {detection.rule.name} ({context.get('type', 'correlation')}) on "
            f"`{context.get('entity_key', '?')}`: {count} matched detection"
            f"{'s' if count != 1 else ''} between {window.get('start')} and {window.get('end')}"
        )
    return "### Correlation\n" + "\n".join(_capped(lines)) if lines else ""


def _hints(detections: Sequence[DetectionV1]) -> str:
    tactics = sorted({t.lower() for d in detections for t in d.mitre.tactics})
    hints = [f"- **{t}:** {TACTIC_HINTS[t]}" for t in tactics if t in TACTIC_HINTS]
    return "### Investigation hints\n" + "\n".join(hints) if hints else ""


def _capped(rows: list[str]) -> list[str]:
    if len(rows) <= MAX_LISTED:
        return rows
    return [*rows[:MAX_LISTED], f"- and {len(rows) - MAX_LISTED} more"]
