"""HTTP/1.1 framing for the loopback server, and its thread-safe request log.

Keep-alive, Content-Length and chunked request bodies; JSON responses with
Content-Length and SSE responses with chunked transfer encoding.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = [
    "MAX_HEAD", "HttpRequest", "LoggedRequest", "RequestLog", "read_request", "send_body", "send_json", "send_stream",
]

MAX_HEAD = 64 * 1024
_REASONS = {529: "Site Overloaded"}
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One parsed request."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    keep_alive: bool
    peer: str  # the client's host:port


async def read_request(reader: asyncio.StreamReader, peer: str) -> HttpRequest | None:
    """One request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version.upper() == "HTTP/1.1" else connection == "keep-alive"
    return HttpRequest(method.upper(), target, headers, body, keep_alive, peer)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _head(status: int, headers: Iterable[tuple[str, str]], keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def send_json(writer: asyncio.StreamWriter, status: int, body: Any, headers: Headers, keep_alive: bool) -> bool:
    """Write one JSON response; returns keep_alive."""
    data = json.dumps(body).encode()
    fixed = (("content-type", "application/json"), ("content-length", str(len(data))))
    writer.write(_head(status, fixed + headers, keep_alive) + data)
    await writer.drain()
    return keep_alive


async def send_body(writer: asyncio.StreamWriter, status: int, content_type: str, data: bytes, headers: Headers,
                    keep_alive: bool) -> bool:
    """Write one response with any content type; returns keep_alive."""
    fixed = (("content-type", content_type), ("content-length", str(len(data))))
    writer.write(_head(status, fixed + headers, keep_alive) + data)
    await writer.drain()
    return keep_alive


async def send_stream(writer: asyncio.StreamWriter, events: list[bytes], headers: Headers, keep_alive: bool) -> bool:
    """Write SSE events, one chunk each; returns keep_alive."""
    fixed = (("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("transfer-encoding", "chunked"))
    writer.write(_head(200, fixed + headers, keep_alive))
    for event in events:
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return keep_alive


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the server received it, and what it answered."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    status: int | None  # None for hang and drop
    fault: str | None  # "status", "hang", "drop", "rpm", "auth", or None when answered normally
    time: float
    peer: str  # the client's host:port: one per connection

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class RequestLog:
    """A thread-safe list of `LoggedRequest`; iterate or index to read a snapshot."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._cond = threading.Condition()

    def append(self, item: LoggedRequest) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[LoggedRequest]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._cond:
            return self._items[index]

    def paths(self) -> list[str]:
        return [item.path for item in self.snapshot()]

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least `count` requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) >= count, timeout)
