"""Opaque keyset cursors of alert searches, the same for every store.

Alerts are listed newest first, by (effective time, alert id) descending; a cursor
carries that pair of the page's last alert, with microseconds, so the next page starts
right after it in either store. A checksum refuses an edited cursor (422) rather than
answering a different question; it is not a secret: any position stays in the caller's
tenant."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.common.errors import InvalidInput


@dataclass(frozen=True)
class Position:
    effective_time: datetime
    alert_id: uuid.UUID

    @property
    def epoch_micros(self) -> int:
        return epoch_micros(self.effective_time)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _checksum(time: str, alert_id: str) -> str:
    return hashlib.sha256(f"alerts|{time}|{alert_id}".encode()).hexdigest()[:12]


def encode_cursor(position: Position) -> str:
    time = position.effective_time.astimezone(UTC).isoformat()
    alert_id = str(position.alert_id)
    raw = json.dumps({"t": time, "id": alert_id, "c": _checksum(time, alert_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    refused = InvalidInput("cursor is not one this API issued", parameter="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        time, alert_id = str(fields["t"]), str(fields["id"])
        if fields["c"] != _checksum(time, alert_id):
            raise refused
        moment = datetime.fromisoformat(time)
        if moment.tzinfo is None:
            raise refused
        return Position(moment, uuid.UUID(alert_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise refused from error
