"""Request bodies to documents: JSON (one object or an array) or NDJSON, optionally gzip.

Pure functions. Limits apply to the decompressed size too, so a small gzip bomb is a 413
like any other oversized body."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from libs.common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from services.ingest.adapters import SNIFF_PREFIXES

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


@dataclass(frozen=True)
class Documents:
    """A request's documents: each a `msgspec.Raw` (its bytes, for the native fast path;
    `json.loads` of them gives what `parse_documents` gives) or an already parsed value."""

    items: list[Any]
    # Whether some key may start with a sniff prefix (`may_hold_prefixed_keys`).
    prefixed_keys: bool = True


# Python's json parser recurses per nesting level; past its limit it raises RecursionError.
TOO_DEEP = "nested too deeply"


def parse_documents(body: bytes, content_type: str, max_items: int) -> list[Any]:
    if content_type in NDJSON_TYPES:
        documents = _ndjson(body)
    elif content_type in JSON_TYPES:
        try:
            parsed = json.loads(body)
        # ValueError too: json refuses integers of more than 4,300 digits with a plain one.
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput(f"body is not valid JSON: {error}") from error
        except RecursionError as error:
            raise InvalidInput(f"body is not valid JSON: {TOO_DEEP}") from error
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
        except RecursionError:
            documents.append(UnparseableLine(f"invalid_json: line {number}: {TOO_DEEP}"))
    return documents


_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_VALUE = msgspec.json.Decoder(msgspec.Raw)
_DIGIT_MARKS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x2E for byte in range(256))
# Python refuses integers of more than 4,300 digits (and so does pydantic's JSON reader);
# msgspec skips over them. Any run of 4,301 digits holds two of these sample points.
_DIGIT_SAMPLE = 2_048
_PREFIX_CHARS = frozenset("".join(SNIFF_PREFIXES))


def split_documents(body: bytes, content_type: str, max_items: int) -> Documents:
    """`parse_documents`, leaving the elements unparsed where that changes nothing: the
    body is UTF-8 and JSON that msgspec and the stdlib both read alike. Otherwise (or for
    another media type) the stdlib parses it, with its errors, as before."""
    if content_type in NDJSON_TYPES or content_type in JSON_TYPES:
        items = _raw_items(body, content_type in NDJSON_TYPES)
        if items is not None:
            if not items:
                raise InvalidInput("empty batch: send at least one detection")
            if len(items) > max_items:
                raise PayloadTooLarge(
                    "too many detections in one request",
                    limit_items=max_items,
                    received=len(items),
                )
            return Documents(items, may_hold_prefixed_keys(body))
    return Documents(parse_documents(body, content_type, max_items))


def unparsed_object(body: bytes) -> Documents | None:
    """One JSON object (a Kafka record's value) left unparsed as `split_documents` would
    leave it, or None when the stdlib has to read it."""
    if body.lstrip()[:1] != b"{":
        return None
    items = _raw_items(body, ndjson=False)
    return None if items is None else Documents(items, may_hold_prefixed_keys(body))


def _raw_items(body: bytes, ndjson: bool) -> list[Any] | None:
    if not _reads_alike(body):
        return None
    try:
        if ndjson:
            return [_RAW_VALUE.decode(line) for line in body.splitlines() if line.strip()]
        head = body.lstrip()[:1]
        if head == b"[":
            return _RAW_ARRAY.decode(body)
        if head == b"{":
            return [_RAW_VALUE.decode(body)]
    except (msgspec.DecodeError, RecursionError):
        pass
    return None  # the stdlib reads it and words what is wrong


def _reads_alike(body: bytes) -> bool:
    """UTF-8 (the stdlib also takes UTF-16/32 and surrogates) without huge integers."""
    if not body.isascii():
        try:
            body.decode()
        except UnicodeDecodeError:
            return False
    samples = body[::_DIGIT_SAMPLE].translate(_DIGIT_MARKS)
    at = samples.find(b"00")
    while at != -1:
        start = at * _DIGIT_SAMPLE
        if body[start : start + _DIGIT_SAMPLE + 1].isdigit():
            return False
        at = samples.find(b"00", at + 1)
    return True


def may_hold_prefixed_keys(body: bytes) -> bool:
    """Whether some key in `body` may start with a sniff prefix. Keys are compared once
    unescaped, so an escape of any character of a prefix counts too (conservative)."""
    if any(b'"' + prefix.encode() in body for prefix in SNIFF_PREFIXES):
        return True
    at = body.find(b"\\u")
    while at != -1:
        try:
            if chr(int(body[at + 2 : at + 6], 16)) in _PREFIX_CHARS:
                return True
        except ValueError:
            pass  # not an escape (an escaped backslash before a "u")
        at = body.find(b"\\u", at + 2)
    return False
