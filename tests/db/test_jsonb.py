"""What JSONB columns receive: JSON that reads back as the value, non-ASCII text
kept as is, documents already serialized passed through untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from libs.common.db.jsonb import SerializedJSON, serialize_json


@pytest.mark.parametrize(
    "value",
    [
        {"host": "wks-01", "verdicts": {}, "fallback": False, "version": 3, "score": 0.25},
        {"user": "jürgen", "note": 'quote " backslash \\ newline \n tab \t'},
        [None, True, 1.5e300, -0.0, {"nested": ["a", 2]}],
        {"beyond_64_bits": 123456789012345678901234567890},  # msgspec refuses; stdlib takes it
        "plain",
    ],
)
def test_reads_back_as_the_value(value: Any) -> None:
    encoded = serialize_json(value)
    assert json.loads(encoded) == value


def test_non_ascii_is_kept_and_serialized_documents_pass_through() -> None:
    assert serialize_json({"user": "jürgen"}) == '{"user":"jürgen"}'
    document = SerializedJSON('{"already": "serialized", "spacing": "kept"}')
    assert serialize_json(document) == str(document)
