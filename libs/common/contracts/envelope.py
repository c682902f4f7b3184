"""CloudEvents 1.0 envelope in Kafka binary mode: attributes travel as `ce_*` headers,
the data (one of our versioned models) is the JSON message value."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

TenantId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


# Random UUIDs (version 4, RFC 4122 variant) made in bulk: `str(uuid.uuid4())` costs
# several microseconds apiece, and every detection and outbox message gets one.
_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT = bytes((byte & 0x3F) | 0x80 for byte in range(256))


def random_v4_bytes(count: int) -> bytearray:
    """The 16 bytes of each of `count` random UUIDs (version 4), one after the other."""
    random = bytearray(os.urandom(16 * count))
    random[6::16] = random[6::16].translate(_VERSION_4)
    random[8::16] = random[8::16].translate(_VARIANT)
    return random


def new_event_ids(count: int) -> list[str]:
    """`count` new CloudEvents ids (occurrence ids of detections, ids of outbox messages):
    random UUIDs, as text."""
    text = random_v4_bytes(count).hex()
    return [
        f"{text[at : at + 8]}-{text[at + 8 : at + 12]}-{text[at + 12 : at + 16]}-"
        f"{text[at + 16 : at + 20]}-{text[at + 20 : at + 32]}"
        for at in range(0, 32 * count, 32)
    ]


class CloudEventAttributes(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    tenantid: TenantId
    specversion: str = SPEC_VERSION

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce_specversion": self.specversion,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat(),
            "ce_tenantid": self.tenantid,
            "content-type": CONTENT_TYPE,
        }
        if self.subject is not None:
            headers["ce_subject"] = self.subject
        return headers

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> CloudEventAttributes:
        missing = [
            name for name in ("ce_id", "ce_source", "ce_type", "ce_tenantid") if name not in headers
        ]
        if missing:
            raise ValueError(f"missing CloudEvents headers: {', '.join(missing)}")
        return cls(
            id=headers["ce_id"],
            source=headers["ce_source"],
            type=headers["ce_type"],
            time=headers.get("ce_time") or datetime.now(UTC),
            subject=headers.get("ce_subject"),
            tenantid=headers["ce_tenantid"],
            specversion=headers.get("ce_specversion", SPEC_VERSION),
        )


def decode_headers(raw: object) -> dict[str, str]:
    """Kafka headers arrive as (name, bytes) pairs or an already decoded mapping."""
    if isinstance(raw, dict):
        return {str(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in raw.items()}
    decoded: dict[str, str] = {}
    for name, value in raw or ():  # type: ignore[attr-defined]
        decoded[str(name)] = value.decode() if isinstance(value, bytes) else str(value)
    return decoded
