"""A detection's `raw` as read from `detections.v1`: kept as its JSON text and parsed the
first time something reads it.

`raw` (the source's original document) is most of a detection's 5-6 KB and most of its
objects: parsed, ~45 of the ~50 containers a detection holds. Alerting reads it only
for correlation rules over `raw.<key>` paths and for correlation alerts' context, so
parsing it for every detection, and freeing it again, was a tenth of alerting's CPU
(docs/benchmarks.md, session 11). The stored alert keeps the message's bytes as they
came (`DetectionV1.stored_json`), so nothing else needs it parsed.

A `Mapping`, not a `dict` subclass: a dict subclass left unparsed would look empty to
code that reads a dict's storage directly (json.dumps, pydantic's serializer); a
Mapping is read through its methods or refused."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

_OBJECT = msgspec.json.Decoder(dict[str, Any])


def is_json_object(document: msgspec.Raw) -> bool:
    """`document` (valid JSON, as msgspec checked while decoding around it) is an object."""
    return bytes(memoryview(document)[:1]) == b"{"


class RawDocument(Mapping[str, Any]):
    __slots__ = ("_document", "_parsed")

    def __init__(self, document: msgspec.Raw | bytes) -> None:
        self._document = document
        self._parsed: dict[str, Any] | None = None

    def parsed(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = _OBJECT.decode(self._document)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self.parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parsed())

    def __len__(self) -> int:
        return len(self.parsed())

    def __repr__(self) -> str:
        return repr(self.parsed())

    def __reduce__(self) -> tuple[type[RawDocument], tuple[bytes]]:
        # copy, deepcopy (model_copy(deep=True)) and pickle: from the text, as read.
        return (RawDocument, (bytes(self._document),))
