"""JSON for JSONB columns. Values already serialized (e.g. by pydantic's Rust serializer,
several times faster than dumping a dict and encoding it again) pass straight through;
others are encoded by msgspec (a tenth of `json.dumps`' time for the small dicts of
grouping provenance and message headers, two or three per alert), with the stdlib's
compact, non-ASCII output. A value msgspec does not take goes through `json.dumps` as
before."""

from __future__ import annotations

import json
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()


class SerializedJSON(str):
    """A str that already is a JSON document, to be stored as is."""


def serialize_json(value: Any) -> str:
    if isinstance(value, SerializedJSON):
        return str(value)
    try:
        return _ENCODER.encode(value).decode()
    except (msgspec.EncodeError, TypeError, ValueError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
