"""Forward one HTTP request to a demo service and stream the answer back.

Demos serve file uploads, downloads and server-sent events, so neither body is ever held in
memory: the request body is read from the ASGI server chunk by chunk while it is sent upstream,
and the response is relayed chunk by chunk as it arrives. Bytes are relayed raw (no
decompression, no redirect following) so the browser sees what the demo sent. The upstream side
is our own keep-alive HTTP/1.1 client (``upstream.py``): the proxy must cost far less per
request than the demo it fronts, which a general-purpose client does not.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
from starlette.types import Message, Receive, Scope, Send

from demo_orchestrator.router.decisions import Upstream
from demo_orchestrator.router.headers import RawHeaders, end_to_end, forwarded_for
from demo_orchestrator.router.upstream import (
    Response,
    UpstreamError,
    UpstreamPool,
    UpstreamTimeout,
)

log = logging.getLogger(__name__)

# The router answers ``Expect: 100-continue`` itself (the ASGI server does), so it must not be
# forwarded: the demo would wait for a body the router sends without asking.
_NOT_FORWARDED = frozenset({b"expect"})
_BODILESS = frozenset({204, 304})


class ClientDisconnected(Exception):
    """The browser went away while its request body was being forwarded."""


class UpstreamUnavailable(Exception):
    """The demo service refused the connection or did not accept it in time."""


class UpstreamTimedOut(UpstreamUnavailable):
    """The demo service took the request but sent no answer within the read timeout."""


def request_head(scope: Scope, headers: RawHeaders) -> bytes:
    """The request line (same raw path and query string) and the headers, as sent upstream."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = raw_path + (b"?" + query if query else b"")
    lines = [b"%s %s HTTP/1.1\r\n" % (scope["method"].encode("ascii"), target)]
    lines += [b"%s: %s\r\n" % (name, value) for name, value in headers]
    lines.append(b"\r\n")
    return b"".join(lines)


def _request_headers(scope: Scope) -> tuple[RawHeaders, bool, bool]:
    """Headers to send, whether there is a body, and whether it goes chunked."""
    kept: RawHeaders = []
    length = chunked = False
    for name, value in end_to_end(scope["headers"]):
        lower = name.lower()
        if lower in _NOT_FORWARDED:
            continue
        length = length or lower == b"content-length"
        kept.append((name, value))
    if not length:
        # A body of unknown length reached us chunked (the ASGI server removed the framing):
        # it goes on chunked too.
        chunked = any(name.lower() == b"transfer-encoding" for name, _ in scope["headers"])
        if chunked:
            kept.append((b"transfer-encoding", b"chunked"))
    return forwarded_for(scope, kept), length or chunked, chunked


async def _first_body_message(receive: Receive) -> Message:
    """The first part of the request body, read before anything goes upstream.

    The ASGI server hands the request over once its head is parsed; a body it then finds
    malformed (a bad chunk size, a coding it refuses) ends in its own 400 and a disconnect. Waiting
    for the first part means such a request never reaches the demo.
    """
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    return message


async def _request_body(first: Message, receive: Receive) -> AsyncIterator[bytes]:
    message = first
    while True:
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Stop relaying (and drop the upstream connection) once the client has gone."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class HttpProxy:
    """The pooled upstream connections and the forwarding of one request."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        total_timeout: float | None = None,
    ) -> None:
        self.pool = UpstreamPool(
            connect_timeout=connect_timeout, head_timeout=read_timeout, total_timeout=total_timeout
        )

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def forward(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        """Relay the request; raise ``UpstreamUnavailable`` if nothing was sent back yet."""
        headers, has_body, chunked = _request_headers(scope)
        try:
            first = await _first_body_message(receive) if has_body else None
            conn, response = await self.pool.request(
                upstream.host,
                upstream.port,
                request_head(scope, headers),
                _request_body(first, receive) if first is not None else None,
                method=scope["method"].encode("ascii"),
                chunked=chunked,
            )
        except ClientDisconnected:
            return
        except UpstreamTimeout as exc:
            log.warning("demo upstream %s:%s timed out: %s", upstream.host, upstream.port, exc)
            raise UpstreamTimedOut(str(exc)) from exc
        except UpstreamError as exc:
            log.warning("demo upstream %s:%s failed: %s", upstream.host, upstream.port, exc)
            raise UpstreamUnavailable(str(exc)) from exc
        done = False
        try:
            done = await self._relay(response, receive, send)
        finally:
            if done and response.reusable:
                self.pool.release(conn)
            else:
                conn.close()
            await response.body.aclose()  # a relay cut short leaves the reader suspended

    @staticmethod
    async def _relay(response: Response, receive: Receive, send: Send) -> bool:
        """Send the answer on; True when its body was read to the end."""
        headers = end_to_end(response.headers)
        if response.status in _BODILESS:
            # The length a 304 may state is the full answer's; the ASGI server would wait for it.
            headers = [(k, v) for k, v in headers if k != b"content-length"]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.complete:  # the whole body came with the head: no await on the demo
            await send({"type": "http.response.body", "body": response.first, "more_body": False})
            return True
        done = False
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                async for chunk in response.body:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                done = True
                group.cancel_scope.cancel()
        except* UpstreamError as group:
            # Headers are already out: all we can do is cut the connection short, which the
            # ASGI server does when we return without finishing the body.
            log.warning("demo upstream broke off a response: %s", group.exceptions[0])
        except* OSError as group:
            # The demo reset the connection, or a server reports a gone client by raising.
            log.warning("relaying a response failed: %r", group.exceptions[0])
        return done
