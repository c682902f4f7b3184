"""The rule that keeps unstorable detections out (pure logic): how JSON writes a NUL."""

from __future__ import annotations

import json

import pytest

from services.ingest.service import unstorable

LIMIT = 10_000


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("plain", False),
        ("a\u0000b", True),  # JSON: a\u0000b
        ("\\u0000", False),  # the six characters \u0000: JSON \\u0000
        ("\\\u0000", True),  # a backslash, then NUL: JSON \\\u0000
        ("\u00001", True),
        ("u0000", False),
    ],
)
def test_a_nul_is_found_however_many_backslashes_precede_it(text: str, refused: bool) -> None:
    message = json.dumps({"raw": {"field": text}}).encode()
    assert (unstorable(message, LIMIT) is not None) == refused


def test_size_is_named_first() -> None:
    reason = unstorable(json.dumps({"x": "A" * LIMIT + "\u0000"}).encode(), LIMIT)
    assert reason is not None
    assert reason.startswith("detection_too_large: ")
