"""Format adapters: each turns one alert format into `DetectionV1`.

`detect_adapter` sniffs a document's structure; `adapter_named` serves clients that
declare their format. Order matters for sniffing: most specific first, so a format
whose marker another format could also carry (`rule`, `event.kind`) is tried late."""

from __future__ import annotations

from typing import Any

from services.ingest.adapters import (
    ecs,
    limacharlie,
    native,
    ocsf,
    splunk,
    suricata,
    thehive,
    wazuh,
    zeek,
)
from services.ingest.adapters.base import AdapterError, FormatAdapter

__all__ = [
    "ADAPTERS",
    "SNIFF_KEYS",
    "SNIFF_PREFIXES",
    "AdapterError",
    "FormatAdapter",
    "adapter_named",
    "detect_adapter",
]

ADAPTERS: tuple[FormatAdapter, ...] = (
    ocsf.ADAPTER,
    limacharlie.ADAPTER,
    thehive.ADAPTER,
    splunk.ADAPTER,
    suricata.ADAPTER,
    zeek.ADAPTER,
    wazuh.ADAPTER,
    ecs.ADAPTER,
    native.ADAPTER,
)
_BY_NAME = {adapter.name: adapter for adapter in ADAPTERS}

# Every top-level key some adapter's `matches` reads, and the key prefixes one looks for
# by walking all keys (ECS). `detect_adapter` on a document cut down to these keys picks
# what it picks on the whole document: the native fast path sniffs with such a cut-down
# view (services/ingest/native_wire.py). A new matcher reading another key adds it here;
# tests/ingest/test_native_wire.py fails until it does.
SNIFF_KEYS = frozenset(
    {
        *("class_uid",),  # ocsf
        *("data", "detect_id", "cat", "routing"),  # limacharlie
        *("sourceRef",),  # thehive
        *("sid", "results_link", "search_name"),  # splunk
        *("event_type", "alert"),  # suricata
        *("_path", "note", "msg", "ts"),  # zeek
        *("rule", "agent", "manager"),  # wazuh, native
        *("kibana", "kibana.alert", "signal", "signal.rule", "event", "event.kind"),  # ecs
    }
)
SNIFF_PREFIXES = ("kibana.alert",)


def adapter_named(name: str) -> FormatAdapter:
    adapter = _BY_NAME.get(name)
    if adapter is None:
        known = ", ".join(sorted(_BY_NAME))
        raise AdapterError(f"unknown format {name[:64]!r}; known: {known}")
    return adapter


def detect_adapter(document: dict[str, Any]) -> FormatAdapter:
    for adapter in ADAPTERS:
        if adapter.matches(document):
            return adapter
    known = ", ".join(adapter.name for adapter in ADAPTERS)
    raise AdapterError(f"no known format matched the document (tried: {known})")
