"""A keep-alive HTTP/1.1 load generator light enough not to compete with the server.

The benchmarks run client and server on the same two cores. httpx spends about a
millisecond of CPU per request, as much as the cheapest requests cost the server, so
at a few hundred requests per second the client itself takes a core away. This one
writes each request as prepared bytes on its own connection and reads back a response
framed by Content-Length (what uvicorn sends for JSON bodies), a few tens of
microseconds per request.

Load generation only: no TLS, no redirects, no chunked bodies; anything else is an
error, never a silent miscount."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class HttpLoadError(RuntimeError):
    pass


class StaleConnection(ConnectionError):
    """The server had closed the idle connection before the request was sent on it."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host

    @classmethod
    async def open(cls, base_url: str) -> Connection:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise HttpLoadError(f"only http://host:port is supported, not {base_url!r}")
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(reader, writer, parts.netloc)

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> Answer:
        target = f"{path}?{urlencode(params)}" if params else path
        if isinstance(body, bytes):  # already JSON, encoded before the clock started
            payload = body
        else:
            payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        lines = [f"{method} {target} HTTP/1.1", f"host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["content-type: application/json", f"content-length: {len(payload)}"]
        self._writer.write("\r\n".join(lines).encode() + b"\r\n\r\n" + payload)
        return await self._read_answer()

    async def _read_answer(self) -> Answer:
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:  # closed before answering: idle past the keep-alive
                raise StaleConnection from error
            raise
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length: int | None = None
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise HttpLoadError(f"unsupported transfer-encoding {value.strip()!r}")
        if length is None:
            raise HttpLoadError(f"no content-length in the answer ({status_line})")
        return Answer(status, await self._reader.readexactly(length))

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class ConnectionPool:
    """`size` connections, handed out one per in-flight request."""

    def __init__(self, base_url: str, headers: dict[str, str], size: int) -> None:
        self._base_url = base_url
        self._headers = headers
        self._size = size
        # Last in, first out: the busiest connections stay warm, the spare ones idle.
        self._idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
        self._all: list[Connection] = []

    async def __aenter__(self) -> ConnectionPool:
        for _ in range(self._size):
            connection = await Connection.open(self._base_url)
            self._all.append(connection)
            self._idle.put_nowait(connection)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(*(connection.close() for connection in self._all))

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Answer:
        connection = await self._idle.get()
        try:
            answer = await connection.request(method, path, self._headers, params, body)
        except StaleConnection:
            # Not answered at all: the server closed it while idle (uvicorn's keep-alive
            # timeout), so the request never reached it. Once more on a new connection.
            with contextlib.suppress(OSError):
                await connection.close()
            self._all.remove(connection)
            connection = await Connection.open(self._base_url)
            self._all.append(connection)
            answer = await connection.request(method, path, self._headers, params, body)
        # A connection that failed any other way is out of step: it is not handed out again.
        self._idle.put_nowait(connection)
        return answer

    async def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, params)

    async def post(self, path: str, body: Any) -> Answer:
        return await self.request("POST", path, body=body)
