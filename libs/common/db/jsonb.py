"""JSON for JSONB columns. Values already serialized (e.g. by pydantic's Rust serializer,
several times faster than dumping a dict and encoding it again) pass straight through."""

from __future__ import annotations

import json
from typing import Any


class SerializedJSON(str):
    """A str that already is a JSON document, to be stored as is."""


def serialize_json(value: Any) -> str:
    if isinstance(value, SerializedJSON):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
