"""Defensive readers for untrusted JSON: every helper accepts any value and returns a
typed result or None, so adapters never index into something that is not there."""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.detections import EntityType, EntityV1, MitreV1, Severity

ENTITY_LIMIT = 200  # a pathological alert must not become a megabyte of entities
ENTITY_VALUE_LIMIT = 2_048
# Epoch numbers at or above this are milliseconds (1973 in ms, year 5138 in seconds).
EPOCH_MS_THRESHOLD = 100_000_000_000

SEVERITY_WORDS = {
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "med": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
}
# ATT&CK enterprise tactic ids → the hyphenated names the native path already uses.
TACTIC_IDS = {
    "TA0043": "reconnaissance",
    "TA0042": "resource-development",
    "TA0001": "initial-access",
    "TA0002": "execution",
    "TA0003": "persistence",
    "TA0004": "privilege-escalation",
    "TA0005": "defense-evasion",
    "TA0006": "credential-access",
    "TA0007": "discovery",
    "TA0008": "lateral-movement",
    "TA0009": "collection",
    "TA0011": "command-and-control",
    "TA0010": "exfiltration",
    "TA0040": "impact",
}
TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$", re.IGNORECASE)
TACTIC_ID = re.compile(r"^ta\d{4}$", re.IGNORECASE)


def lookup(node: Any, path: str) -> Any:
    """`a.b.c` through nested objects *and* dotted keys (`{"a.b": {"c": 1}}`), as
    Elasticsearch documents mix both: the longest dotted key first, then shorter ones."""
    if not isinstance(node, dict):
        return None
    for key, rest in _cuts(path):
        if key in node:
            found = node[key] if rest is None else lookup(node[key], rest)
            if found is not None:
                return found
    return None


@functools.lru_cache(maxsize=1_024)
def _cuts(path: str) -> tuple[tuple[str, str | None], ...]:
    """Each way to split `path` into a key and the rest, longest key first. Cached: the
    paths are the adapters' constants, and sniffing runs them on every document."""
    parts = path.split(".")
    return tuple(
        (".".join(parts[:cut]), ".".join(parts[cut:]) if cut < len(parts) else None)
        for cut in range(len(parts), 0, -1)
    )


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A non-empty string from a string or a number; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and not (
        isinstance(value, float) and not math.isfinite(value)
    ):
        return str(value)
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def first_text(*values: Any) -> str | None:
    for value in values:
        found = text(value)
        if found is not None:
            return found
    return None


def texts(value: Any) -> list[str]:
    """One value or a list of them (Splunk multivalue fields, ECS arrays) as strings."""
    items = value if isinstance(value, list) else [value]
    return [found for item in items[:ENTITY_LIMIT] if (found := text(item)) is not None]


def clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def as_int(value: Any) -> int | None:
    """Integers, integral floats and numeric strings ("10"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return round(number) if math.isfinite(number) else None
    return None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (any offset form Python 3.11 reads, space or T) or epoch seconds/ms.
    Unreadable times are None: the detection then falls back to ingest time."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    except ValueError:
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    seconds = number / 1000 if abs(number) >= EPOCH_MS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def first_time(*values: Any) -> datetime | None:
    """The first value that reads as a time, so one garbled field does not hide a good one."""
    for value in values:
        found = parse_time(value)
        if found is not None:
            return found
    return None


def severity_word(value: Any) -> Severity | None:
    word = text(value)
    return SEVERITY_WORDS.get(word.lower()) if word else None


def severity_for_priority(priority: int) -> Severity:
    """Our 0-10 priority scale read as a severity: 0-1 info, 2-3 low, 4-6 medium,
    7-8 high, 9-10 critical."""
    if priority <= 1:
        return Severity.INFO
    if priority <= 3:
        return Severity.LOW
    if priority <= 6:
        return Severity.MEDIUM
    if priority <= 8:
        return Severity.HIGH
    return Severity.CRITICAL


def ip_text(value: Any) -> str | None:
    """The value when it is an IP address (v4 or v6), else None."""
    candidate = text(value)
    if candidate is None:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def is_internal(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed.is_private or parsed.is_loopback or parsed.is_link_local


def pick_asset(src: str | None, dst: str | None) -> str | None:
    """The grouping host for a network alert: the endpoint on *our* side of the
    connection. Inbound attacks name the internal destination, outbound beacons the
    internal source; when both or neither are internal the destination (the target)."""
    if src and dst:
        if is_internal(src) and not is_internal(dst):
            return src
        return dst
    return dst or src


class EntityBag:
    """Entities in first-seen order, each (type, value) once, bounded in count and size."""

    def __init__(self) -> None:
        self.items: list[EntityV1] = []
        self._seen: set[tuple[EntityType, str]] = set()

    def add(self, kind: EntityType, value: Any, role: str | None = None) -> None:
        found = text(value)
        if found is None or len(self.items) >= ENTITY_LIMIT:
            return
        found = found[:ENTITY_VALUE_LIMIT]
        if (kind, found) in self._seen:
            return
        self._seen.add((kind, found))
        self.items.append(EntityV1(type=kind, value=found, role=role))

    def add_address(self, value: Any, role: str | None) -> None:
        """An IP when the value is one, else a host name (CIM src/dest hold either)."""
        address = ip_text(value)
        if address is not None:
            self.add(EntityType.IP, address, role)
        else:
            self.add(EntityType.HOST, value, role)


class MitreSet:
    """ATT&CK tactics and techniques in first-seen order, in the native vocabulary:
    techniques `T1059.001`, tactics `command-and-control`."""

    def __init__(self) -> None:
        self.tactics: list[str] = []
        self.techniques: list[str] = []

    def technique(self, value: Any) -> None:
        found = text(value)
        if found and TECHNIQUE.match(found) and found.upper() not in self.techniques:
            self.techniques.append(found.upper())

    def tactic(self, value: Any) -> None:
        found = text(value)
        if not found:
            return
        if TACTIC_ID.match(found):
            found = TACTIC_IDS.get(found.upper(), "")
        name = re.sub(r"[\s_]+", "-", found.strip().lower())[:64]
        if name and name not in self.tactics:
            self.tactics.append(name)

    def tag(self, value: Any) -> None:
        """Sigma-style tags: `attack.t1059.001`, `attack.execution`, `attack.credential_access`."""
        found = text(value)
        if not found or not found.lower().startswith("attack."):
            return
        rest = found[len("attack.") :]
        if TECHNIQUE.match(rest):
            self.technique(rest)
        elif rest and not re.match(r"^[gs]\d{4}$", rest, re.IGNORECASE):
            self.tactic(rest)  # group (G…) and software (S…) ids are neither

    def to_contract(self) -> MitreV1:
        return MitreV1(tactics=self.tactics[:64], techniques=self.techniques[:256])
