"""One file from a multipart/form-data request body, read as a stream.

The body is parsed as it arrives (python-multipart's push parser), so the file's bytes
pass through in chunks of the size the server reads: nothing holds the whole file. Its
size and sha256 are counted on the way; past the limit the stream stops with
`attachment_too_large` (413), whatever the request's Content-Length said."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from libs.common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

FILE_FIELD = "file"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Room for the multipart framing and small form fields around the file.
FRAMING_ALLOWANCE_BYTES = 64 * 1024
MAX_FILENAME_BYTES = 255
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# Reserved on common file systems or meaningful to shells and archive tools.
_UNSAFE_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"an attachment may be at most {limit} bytes (CASESTREAM__CASES__MAX_ATTACHMENT_BYTES)",
            limit_bytes=limit,
        )


def safe_filename(raw: str) -> str:
    """The last path segment, NFC, without control or reserved characters and leading
    dots or blanks, at most 255 UTF-8 bytes (its extension kept); "attachment" if
    nothing is left. Never a path: safe as a download name and inside an archive."""
    name = re.split(r"[/\\]", raw)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        " " if unicodedata.category(c).startswith("Z") else c  # odd spaces: a plain one
        for c in name
        if not unicodedata.category(c).startswith("C")  # controls, bidi overrides
    )
    name = _UNSAFE_CHARACTERS.sub("_", name).strip().lstrip(".").strip()
    if not name:
        return "attachment"
    if len(name.encode()) > MAX_FILENAME_BYTES:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension.encode()) > 16:
            stem, extension = name, ""
        suffix = f".{extension}" if extension else ""
        budget = MAX_FILENAME_BYTES - len(suffix.encode())
        stem = stem.encode()[:budget].decode(errors="ignore")
        name = stem + suffix
    return name


def media_type(raw: str | None) -> str:
    """The part's declared media type if it is a plain type/subtype, else octet-stream."""
    declared = (raw or "").split(";", 1)[0].strip().lower()
    return declared if _MEDIA_TYPE.match(declared) else DEFAULT_CONTENT_TYPE


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def disposition(self) -> tuple[str, dict[str, str]]:
        kind, options = parse_options_header(self.headers.get("content-disposition", ""))
        values = {k.decode("latin-1"): v.decode("utf-8", "replace") for k, v in options.items()}
        return kind.decode("latin-1"), values


class _Events:
    """The parser's callbacks, queued, so an async reader can take them in order."""

    def __init__(self, boundary: bytes) -> None:
        self.queue: deque[tuple[str, bytes]] = deque()
        self._field, self._value = bytearray(), bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self.queue.append(("part", b"")),
                "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self.queue.append(("headers_done", b"")),
                "on_part_data": lambda d, s, e: self.queue.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self.queue.append(("part_end", b"")),
                "on_end": lambda: self.queue.append(("end", b"")),
            },
        )

    def _header_end(self) -> None:
        self.queue.append(("header", bytes(self._field) + b"\x00" + bytes(self._value)))
        self._field.clear()
        self._value.clear()


class IncomingFile:
    """The request's file part: its sanitised name and media type once the part's headers
    were read; `chunks()` streams its bytes and, at the end, checks the rest of the body."""

    def __init__(self, events: _Events, body: AsyncIterator[bytes], limit: int) -> None:
        self._events = events
        self._body = body
        self._limit = limit
        self._body_bytes = 0
        self.filename = "attachment"
        self.content_type = DEFAULT_CONTENT_TYPE
        self.size_bytes = 0
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def _next(self) -> tuple[str, bytes]:
        while not self._events.queue:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                raise InvalidInput("the multipart body ended before its closing boundary") from None
            self._body_bytes += len(chunk)
            if self._body_bytes > self._limit + FRAMING_ALLOWANCE_BYTES:
                raise AttachmentTooLarge(self._limit)
            try:
                self._events.parser.write(chunk)
            except MultipartParseError as error:
                raise InvalidInput("the multipart body is malformed", problem=str(error)) from None
        return self._events.queue.popleft()

    async def find_file_part(self) -> None:
        """Read up to the first data of the part named `file`; other fields are skipped."""
        part = _Part()
        while True:
            kind, payload = await self._next()
            if kind == "part":
                part = _Part()
            elif kind == "header":
                name, _, value = payload.partition(b"\x00")
                part.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif kind == "headers_done":
                _, options = part.disposition
                if options.get("name") == FILE_FIELD and "filename" in options:
                    self.filename = safe_filename(options["filename"])
                    self.content_type = media_type(part.headers.get("content-type"))
                    return
            elif kind == "end":
                raise InvalidInput(
                    f"send the file as a multipart/form-data part named {FILE_FIELD!r} "
                    "with a filename"
                )

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            kind, payload = await self._next()
            if kind == "part_end":
                break
            if kind == "data" and payload:
                self.size_bytes += len(payload)
                if self.size_bytes > self._limit:
                    raise AttachmentTooLarge(self._limit)
                self._digest.update(payload)
                yield payload
        await self._finish()

    async def _finish(self) -> None:
        """The rest of the body must be well formed and hold no second file."""
        while True:
            kind, payload = await self._next()
            if kind == "end":
                return
            name, _, value = payload.partition(b"\x00")
            if kind == "header" and name.lower() == b"content-disposition" and b"filename" in value:
                raise InvalidInput("send one file per request")


async def incoming_file(
    content_type: str | None, body: AsyncIterator[bytes], limit: int, declared_length: int | None
) -> IncomingFile:
    """The file part of a multipart/form-data body, positioned at its first byte."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "send the attachment as multipart/form-data (a part named 'file')",
            content_type=(content_type or "")[:128],
        )
    if declared_length is not None and declared_length > limit + FRAMING_ALLOWANCE_BYTES:
        raise AttachmentTooLarge(limit)  # refused before reading a byte
    try:
        events = _Events(boundary)
    except ValueError as error:
        raise UnsupportedMediaType("the multipart boundary is not usable") from error
    upload = IncomingFile(events, body, limit)
    await upload.find_file_part()
    return upload
