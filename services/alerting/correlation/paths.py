"""Field paths over a detection: what a match condition reads and what a rule keys on.

A path is dotted. Its first segment names a part of `DetectionV1`:
`host`, `source`, `format`, `title`, `severity`, `rule.<id|name|source|level>`,
`mitre.<tactics|techniques>`, `entity.<type>` (the values of the detection's entities of
that type; `entity.host` also includes the `host` field) and `raw.<key>[.<key>...]`.
Every path yields a list of strings: none when the field is absent, several for lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType

SCALAR_FIELDS = ("host", "source", "format", "title", "severity")
NESTED_FIELDS: dict[str, tuple[str, ...]] = {
    "rule": ("id", "name", "source", "level"),
    "mitre": ("tactics", "techniques"),
    "entity": tuple(t.value for t in EntityType),
}


def check_path(path: str) -> str:
    """The path itself when it names something a detection has; ValueError otherwise."""
    head, _, rest = path.partition(".")
    segments = rest.split(".") if rest else []
    if any(not segment for segment in segments):
        raise ValueError(f"field path {path!r} has an empty segment")
    if head in SCALAR_FIELDS and not segments:
        return path
    if head in NESTED_FIELDS and len(segments) == 1 and segments[0] in NESTED_FIELDS[head]:
        return path
    if head == "raw" and segments:
        return path
    known = [
        *SCALAR_FIELDS,
        *(f"{h}.<{'|'.join(s)}>" for h, s in NESTED_FIELDS.items()),
        "raw.<key>",
    ]
    raise ValueError(f"unknown field path {path!r}; a path starts with one of {', '.join(known)}")


def values_at(detection: DetectionV1, path: str, role: str | None = None) -> list[str]:
    """The string values at `path`, in order, without repeats. `role` keeps only entities
    in that role (for `entity.<type>` paths)."""
    head, _, rest = path.partition(".")
    found: list[Any]
    if head == "entity":
        found = [e.value for e in detection.entities if e.type == rest and _role_fits(e.role, role)]
        if rest == EntityType.HOST and detection.host and role is None:
            found.insert(0, detection.host)
    elif head == "raw":
        found = _walk(detection.raw, rest.split("."))
    elif head in NESTED_FIELDS:
        found = _as_list(getattr(getattr(detection, head), rest))
    else:
        found = _as_list(getattr(detection, head))
    return list(dict.fromkeys(_text(v) for v in found if _is_scalar(v)))


def _walk(node: Any, segments: list[str]) -> list[Any]:
    for segment in segments:
        # Mapping: a detection read from the wire holds `raw` as a RawDocument.
        if not isinstance(node, Mapping) or segment not in node:
            return []
        node = node[segment]
    return _as_list(node)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != ""


def _text(value: Any) -> str:
    # YAML `true` and JSON `true` both arrive as Python True: compare their lower-case text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _role_fits(actual: str | None, wanted: str | None) -> bool:
    return wanted is None or actual == wanted


def comparable(value: Any) -> str:
    """How a condition's expected value compares with a detection's: as text."""
    return _text(value)
