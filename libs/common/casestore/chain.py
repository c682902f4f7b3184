"""The per-case hash chain over the audit timeline: each event's hash covers its content
and the previous event's hash, so changing, removing or reordering any stored event is
detectable by recomputing the chain (GET /api/v1/cases/{id}/audit/verify)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.common.db.models import CaseEvent


def event_hash(
    prev_hash: str | None,
    *,
    event_id: uuid.UUID,
    tenant_id: str,
    case_id: uuid.UUID,
    type: str,
    actor: str,
    occurred_at: datetime,
    payload: dict[str, Any],
) -> str:
    # Canonical JSON (sorted keys, no spaces) survives the JSONB round trip unchanged for
    # the strings, integers and booleans our payloads hold.
    content = json.dumps(
        {
            "event_id": str(event_id),
            "tenant_id": tenant_id,
            "case_id": str(case_id),
            "type": type,
            "actor": actor,
            "occurred_at": occurred_at.isoformat(),
            "payload": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash or ''}\n{content}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainVerdict:
    events: int
    valid: bool
    broken_at_seq: int | None = None
    problem: str | None = None


def verify_chain(events: Sequence[CaseEvent]) -> ChainVerdict:
    """Recompute a case's chain from its stored events (in `seq` order)."""
    previous: str | None = None
    for event in events:
        if event.prev_hash != previous:
            return ChainVerdict(
                len(events),
                False,
                event.seq,
                "an event before this one was removed, added or reordered",
            )
        expected = event_hash(
            previous,
            event_id=event.event_id,
            tenant_id=event.tenant_id,
            case_id=event.case_id,
            type=event.type,
            actor=event.actor,
            occurred_at=event.occurred_at,
            payload=event.payload,
        )
        if event.hash != expected:
            return ChainVerdict(len(events), False, event.seq, "this event's content was changed")
        previous = event.hash
    return ChainVerdict(len(events), True)
