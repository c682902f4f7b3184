"""Rules for the editable fields of a case, and the event each change produces."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from libs.common.contracts.cases import CaseClassification
from libs.common.errors import InvalidInput

MAX_TAGS = 50
MAX_TAG_LENGTH = 128
# Priority: 1 is the most urgent, 4 the least (P1..P4, as most SOCs and ITSM tools count).
MIN_PRIORITY, MAX_PRIORITY = 1, 4
MAX_ESCALATION_GROUP_LENGTH = 256
MAX_NARRATIVE_LENGTH = 8_192  # investigation_summary and conclusion
NARRATIVE_FIELDS = ("investigation_summary", "conclusion")

# Editable field -> the audit event its change produces (one event per changed field).
FIELD_EVENTS: dict[str, str] = {
    "title": "case.summary_updated",
    "description": "case.description_updated",
    "severity": "case.severity_changed",
    "assignee": "case.assigned",
    "tags": "case.tags_updated",
    "priority": "case.priority_changed",
    "confidence": "case.confidence_changed",
    "classification": "case.classified",
    "escalation_group": "case.escalation_group_changed",
    "investigation_summary": "case.investigation_summary_updated",
    "conclusion": "case.conclusion_updated",
    "requires_human_approval": "case.approval_requirement_changed",
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
    """A requested value in the form the case row keeps it. The API checks the same limits
    first; they are checked here too because every writer comes through the store."""
    if field == "tags":
        return normalize_tags(value or [])
    if field in ("severity", "classification"):
        value = str(value.value if hasattr(value, "value") else value)
        if field == "classification" and value not in set(CaseClassification):
            raise InvalidInput("unknown classification", classification=value[:64])
        return value
    if value is None:
        return None
    if field == "priority" and not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise InvalidInput(
            f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}",
            limit=[MIN_PRIORITY, MAX_PRIORITY],
        )
    if field == "confidence":
        if not 0.0 <= value <= 1.0:
            raise InvalidInput("confidence must be between 0.0 and 1.0", limit=[0.0, 1.0])
        return float(value)
    if field in NARRATIVE_FIELDS and len(value) > MAX_NARRATIVE_LENGTH:
        raise InvalidInput(
            f"{field} is longer than {MAX_NARRATIVE_LENGTH} characters",
            limit=MAX_NARRATIVE_LENGTH,
        )
    return value
