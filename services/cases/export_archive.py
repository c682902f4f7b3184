"""The zip form of a case export: `case.json` (the JSON export, attachments' metadata
included) and each attachment as `attachments/<id>-<filename>`, streamed.

The archive is written as it is sent (the standard library's zipfile writes to an
unseekable sink with data descriptors), one attachment at a time straight from the
object store, so neither the archive nor a file is held whole. Names are built here
from an id and a sanitised filename, never a path, so extracting cannot escape the
folder it extracts into (no zip slip)."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.cases.uploads import safe_filename

DOCUMENT_NAME = "case.json"
ATTACHMENTS_FOLDER = "attachments"
FLUSH_BYTES = 256 * 1024


def archive_name(attachment_id: uuid.UUID, filename: str) -> str:
    # The stored name is already sanitised; sanitising again costs nothing and keeps
    # this function safe on its own.
    return f"{ATTACHMENTS_FOLDER}/{attachment_id}-{safe_filename(filename)}"


@dataclass(frozen=True)
class ArchiveMember:
    name: str
    object_key: str
    size_bytes: int
    modified_at: datetime


OpenContent = Callable[[ArchiveMember], Awaitable[AsyncIterator[bytes]]]


class _Sink(io.RawIOBase):
    """Collects what zipfile writes until the stream takes it; not seekable, so zipfile
    writes sizes after each member instead of seeking back."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._pending += data
        return len(data)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take(self) -> bytes:
        taken = bytes(self._pending)
        self._pending.clear()
        return taken


def _info(name: str, modified_at: datetime, method: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=modified_at.timetuple()[:6])
    info.compress_type = method
    info.external_attr = 0o644 << 16  # a plain readable file once extracted
    return info


async def case_archive(
    document: bytes,
    exported_at: datetime,
    members: Sequence[ArchiveMember],
    open_content: OpenContent,
) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w") as archive:
        archive.writestr(_info(DOCUMENT_NAME, exported_at, zipfile.ZIP_DEFLATED), document)
        yield sink.take()
        for member in members:
            # Stored, not deflated: evidence is often compressed already, and deflating
            # tens of MiB would hold the event loop.
            info = _info(member.name, member.modified_at, zipfile.ZIP_STORED)
            info.file_size = member.size_bytes  # lets zipfile choose zip64 when needed
            content = await open_content(member)
            with archive.open(info, mode="w") as target:
                async for chunk in content:
                    target.write(chunk)
                    if sink.pending >= FLUSH_BYTES:
                        yield sink.take()
            yield sink.take()
    yield sink.take()
