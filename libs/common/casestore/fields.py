"""Rules for the editable fields of a case, and the event each change produces."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from libs.common.errors import InvalidInput

MAX_TAGS = 50
MAX_TAG_LENGTH = 128

# Editable field -> the audit event its change produces (one event per changed field).
FIELD_EVENTS: dict[str, str] = {
    "title": "case.summary_updated",
    "description": "case.description_updated",
    "severity": "case.severity_changed",
    "assignee": "case.assigned",
    "tags": "case.tags_updated",
}


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, case-preserving, deduplicated case-insensitively (the first spelling wins)."""
    kept: dict[str, str] = {}
    for tag in tags:
        cleaned = tag.strip()
        if not cleaned:
            continue
        if len(cleaned) > MAX_TAG_LENGTH:
            raise InvalidInput(
                f"a tag is longer than {MAX_TAG_LENGTH} characters",
                tag=cleaned[:64] + "...",
                limit=MAX_TAG_LENGTH,
            )
        kept.setdefault(cleaned.casefold(), cleaned)
    if len(kept) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per case", limit=MAX_TAGS, given=len(kept))
    return list(kept.values())


def stored_value(field: str, value: Any) -> Any:
    """A requested value in the form the case row keeps it."""
    if field == "tags":
        return normalize_tags(value or [])
    if field == "severity":
        return str(value.value if hasattr(value, "value") else value)
    return value
