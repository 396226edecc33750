"""A lean HTTP/1.1 client for the router's one job: relay a request to a demo on loopback.

A general client (httpx) costs more per request than the demo it talks to, so the router speaks
HTTP/1.1 itself on asyncio streams: one keep-alive pool of connections per ``(host, port)``,
request and response bodies streamed as they come (content-length, chunked or until close; never
held whole), bytes relayed raw (no decompression, no redirects). What it does not do (TLS,
proxies, cookies, HTTP/2) a demo on our own network never needs.

Connections: a connection goes back to the pool only after a response was read to its end and
neither side asked to close; one the demo closed while idle is seen (EOF) and dropped. Should a
pooled connection turn out dead when used (the demo closed it as we wrote), the request is sent
again once on a fresh connection, but only when that cannot repeat an effect: an idempotent
method, no body, and nothing of an answer read yet.

Timeouts: connecting is bounded by ``connect_timeout``; the wait for the answer's head (status
and headers, and a body of known length up to 64 KiB, which is read with it) by
``head_timeout``, so a hung demo gets a 504 instead of holding the request forever; and the whole
exchange up to the head (connect, the request body, a retry on a fresh connection, the head) by
``total_timeout``, since each of those bounds alone restarts with every part (a demo that reads a
large upload slowly, one drain at a time, would otherwise hold the request for as long as it
likes). Once the head is in, a streamed body is not bounded: a server-sent events stream may
rightly stay quiet for minutes, and a client that leaves cancels the relay anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

RawHeaders = list[tuple[bytes, bytes]]

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
READ_SIZE = 65536
SMALL_BODY = 65536  # bodies up to this size are read whole with the head
MAX_HEAD_BYTES = 65536
IDLE_SECONDS = 4.0  # below uvicorn's default keep-alive (5 s), so we rarely meet a closed one
MAX_IDLE_PER_UPSTREAM = 64


class UpstreamError(Exception):
    """The demo could not be reached, or broke the HTTP exchange."""


class UpstreamTimeout(UpstreamError):
    """The demo accepted the request but sent no answer head within the bound."""


class _StaleConnection(UpstreamError):
    """A pooled connection was found closed before any byte of an answer came back."""


@dataclass(eq=False)
class Connection:
    key: tuple[str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False
    idle_since: float = 0.0

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


@dataclass(eq=False)
class Response:
    """An answer's head, and its body as an async iterator of raw chunks."""

    status: int
    headers: RawHeaders  # names lower-case, as the demo sent them otherwise
    body: AsyncGenerator[bytes, None]
    first: bytes  # body bytes already read with the head (may be all of it)
    complete: bool  # True when ``first`` is the whole body
    reusable: bool  # the connection may serve another request once the body is read


class UpstreamPool:
    """Keep-alive connections per ``(host, port)``, and the exchange of one request on one."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        head_timeout: float = 60.0,
        total_timeout: float | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.head_timeout = head_timeout
        self.total_timeout = total_timeout
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._swept = time.monotonic()
        self.opened = 0  # connections opened, for tests and the bench

    # -- connections ---------------------------------------------------------------------------

    async def _open(self, key: tuple[str, int]) -> Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(key[0], key[1], limit=READ_SIZE)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"connect to {key[0]}:{key[1]} failed: {exc!r}") from exc
        self.opened += 1
        return Connection(key, reader, writer)

    def _take_idle(self, key: tuple[str, int]) -> Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable() and now - conn.idle_since < IDLE_SECONDS:
                conn.reused = True
                return conn
            conn.close()
        return None

    def release(self, conn: Connection) -> None:
        """Give a connection whose exchange ended cleanly back to the pool."""
        now = time.monotonic()
        if now - self._swept > IDLE_SECONDS:
            self._sweep(now)
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_UPSTREAM or not conn.usable():
            conn.close()
            return
        conn.idle_since = now
        idle.append(conn)

    def _sweep(self, now: float) -> None:
        """Close expired idle connections (those of demos gone or asleep are never asked for)."""
        self._swept = now
        for key, idle in list(self._idle.items()):
            keep = [c for c in idle if c.usable() and now - c.idle_since < IDLE_SECONDS]
            for conn in idle:
                if conn not in keep:
                    conn.close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    # -- one exchange --------------------------------------------------------------------------

    async def request(
        self,
        host: str,
        port: int,
        head: bytes,
        body: AsyncIterator[bytes] | None,
        *,
        method: bytes,
        chunked: bool,
    ) -> tuple[Connection, Response]:
        """Send ``head`` (request line and headers) and ``body``; return the answer's head.

        The caller reads ``Response.body`` to its end and then calls ``release``; on any
        exception while reading it, it closes the connection instead.
        """
        if self.total_timeout is None:
            return await self._request(host, port, head, body, method=method, chunked=chunked)
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._request(host, port, head, body, method=method, chunked=chunked)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer within {self.total_timeout:g} s in total") from exc

    async def _request(
        self,
        host: str,
        port: int,
        head: bytes,
        body: AsyncIterator[bytes] | None,
        *,
        method: bytes,
        chunked: bool,
    ) -> tuple[Connection, Response]:
        key = (host, port)
        conn = self._take_idle(key)
        retry = body is None and method in IDEMPOTENT
        if conn is not None:
            try:
                return conn, await self._exchange(conn, head, body, method, chunked)
            except _StaleConnection:
                conn.close()
                if not retry:
                    raise UpstreamError("the demo closed a kept-alive connection") from None
            except BaseException:
                conn.close()
                raise
        conn = await self._open(key)
        try:
            return conn, await self._exchange(conn, head, body, method, chunked)
        except BaseException:
            conn.close()
            raise

    async def _exchange(
        self,
        conn: Connection,
        head: bytes,
        body: AsyncIterator[bytes] | None,
        method: bytes,
        chunked: bool,
    ) -> Response:
        writer = conn.writer
        try:
            writer.write(head)
            if body is not None:
                await self._send_body(conn, body, chunked)
        except (ConnectionError, OSError) as exc:
            # The demo may have answered early (a 413, a redirect) and closed: read what it said.
            if conn.reused and body is None:
                raise _StaleConnection from exc
        try:
            async with asyncio.timeout(self.head_timeout):
                raw = await self._read_head(conn)
                status, headers = _parse_head(raw)
                while 100 <= status < 200 and status != 101:  # interim answers (103): skip
                    raw = await self._read_head(conn)
                    status, headers = _parse_head(raw)
                if status == 101:
                    raise UpstreamError("the demo switched protocols on a plain HTTP request")
                return await self._response(conn, method, status, headers)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer within {self.head_timeout:g} s") from exc

    async def _send_body(self, conn: Connection, body: AsyncIterator[bytes], chunked: bool) -> None:
        writer = conn.writer
        async for chunk in body:
            if chunked:
                writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            else:
                writer.write(chunk)
            if writer.transport.get_write_buffer_size() > READ_SIZE:
                try:
                    async with asyncio.timeout(self.head_timeout):
                        await writer.drain()
                except TimeoutError as exc:
                    raise UpstreamTimeout("the demo stopped reading the request body") from exc
        if chunked:
            writer.write(b"0\r\n\r\n")

    async def _read_head(self, conn: Connection) -> bytes:
        try:
            return await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if conn.reused and not exc.partial:
                raise _StaleConnection from exc
            raise UpstreamError("the demo closed the connection without an answer") from exc
        except asyncio.LimitOverrunError as exc:
            raise UpstreamError("the demo sent an oversized answer head") from exc
        except (ConnectionError, OSError) as exc:
            if conn.reused:
                raise _StaleConnection from exc
            raise UpstreamError(f"reading the answer failed: {exc!r}") from exc

    async def _response(
        self, conn: Connection, method: bytes, status: int, headers: RawHeaders
    ) -> Response:
        length: int | None = None
        chunked = False
        reusable = True
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError as exc:
                    raise UpstreamError("the demo sent a malformed Content-Length") from exc
            elif name == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                reusable = b"close" not in value.lower()
        reader = conn.reader
        if method == b"HEAD" or status in {204, 304}:
            return Response(status, headers, _nothing(), b"", True, reusable)
        if chunked:
            return Response(status, headers, _chunks(reader), b"", False, reusable)
        if length is not None:
            if length <= SMALL_BODY:
                # A small body is read with the head (under the same bound; usually it came in
                # the same packets): relayed in one message, with no watcher for a client
                # leaving mid-body, which is most of a proxy's cost per request.
                try:
                    first = await reader.readexactly(length)
                except asyncio.IncompleteReadError as exc:
                    raise UpstreamError("the demo closed in the middle of a body") from exc
                return Response(status, headers, _nothing(), first, True, reusable)
            return Response(status, headers, _exactly(reader, length), b"", False, reusable)
        return Response(status, headers, _until_close(reader), b"", False, False)


def _parse_head(raw: bytes) -> tuple[int, RawHeaders]:
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise UpstreamError("the demo sent something that is not an HTTP/1.x answer")
    headers: RawHeaders = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in (b" ", b"\t"):
            raise UpstreamError("the demo sent a malformed header")
        headers.append((name.lower(), value.strip()))
    if parts[0] == b"HTTP/1.0" and not any(
        n == b"connection" and b"keep-alive" in v.lower() for n, v in headers
    ):
        headers.append((b"connection", b"close"))  # HTTP/1.0 closes unless asked otherwise
    return int(parts[1]), headers


async def _nothing() -> AsyncGenerator[bytes, None]:
    return
    yield b""  # an async generator that yields nothing


async def _exactly(reader: asyncio.StreamReader, length: int) -> AsyncGenerator[bytes, None]:
    remaining = length
    while remaining > 0:
        chunk = await reader.read(min(remaining, READ_SIZE))
        if not chunk:
            raise UpstreamError(f"the demo closed with {remaining} bytes of the body unsent")
        remaining -= len(chunk)
        yield chunk


async def _chunks(reader: asyncio.StreamReader) -> AsyncGenerator[bytes, None]:
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers: hop-by-hop for us, dropped
                return
            remaining = size
            while remaining > 0:
                chunk = await reader.read(min(remaining, READ_SIZE))
                if not chunk:
                    raise UpstreamError("the demo closed in the middle of a chunk")
                remaining -= len(chunk)
                yield chunk
            if await reader.readexactly(2) != b"\r\n":
                raise UpstreamError("the demo sent a malformed chunk")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise UpstreamError(f"the demo broke off a chunked answer: {exc!r}") from exc


async def _until_close(reader: asyncio.StreamReader) -> AsyncGenerator[bytes, None]:
    while chunk := await reader.read(READ_SIZE):
        yield chunk
