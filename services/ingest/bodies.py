"""Request bodies to documents: JSON (one object or an array) or NDJSON, optionally gzip.

Pure functions. Limits apply to the decompressed size too, so a small gzip bomb is a 413
like any other oversized body."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from libs.common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json", ""})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


@dataclass(frozen=True)
class UnparseableLine:
    """An NDJSON line that is not JSON: rejected on its own, the other lines go on."""

    reason: str


def media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType("Content-Encoding must be gzip or absent", encoding=encoding)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidInput(f"body is not valid gzip: {error}") from error
    if len(plain) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge("decompressed request body too large", limit_bytes=limit)
    return plain


def parse_documents(body: bytes, content_type: str, max_items: int) -> list[Any]:
    if content_type in NDJSON_TYPES:
        documents = _ndjson(body)
    elif content_type in JSON_TYPES:
        try:
            parsed = json.loads(body)
        # ValueError too: json refuses integers of more than 4,300 digits with a plain one.
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput(f"body is not valid JSON: {error}") from error
        documents = parsed if isinstance(parsed, list) else [parsed]
    else:
        raise UnsupportedMediaType(
            "send application/json (one detection or an array) or application/x-ndjson",
            content_type=content_type,
        )
    if not documents:
        raise InvalidInput("empty batch: send at least one detection")
    if len(documents) > max_items:
        raise PayloadTooLarge(
            "too many detections in one request", limit_items=max_items, received=len(documents)
        )
    return documents


def _ndjson(body: bytes) -> list[Any]:
    documents: list[Any] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(json.loads(line))
        except (ValueError, UnicodeDecodeError) as error:
            documents.append(UnparseableLine(f"invalid_json: line {number}: {error}"))
    return documents
