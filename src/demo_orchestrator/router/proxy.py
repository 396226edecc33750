"""Forward one HTTP request to a demo service and stream the answer back.

Demos serve file uploads, downloads and server-sent events, so neither body is ever held in
memory: the request body is read from the ASGI server chunk by chunk while it is sent upstream,
and the response is relayed chunk by chunk as it arrives. Bytes are relayed raw (no
decompression, no redirect following) so the browser sees what the demo sent. One pooled
``httpx.AsyncClient`` is shared by all demos and created on first use, in the serving event loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
import httpx
from starlette.types import Message, Receive, Scope, Send

from demo_orchestrator.router.decisions import Upstream
from demo_orchestrator.router.headers import RawHeaders, end_to_end, forwarded_for

log = logging.getLogger(__name__)

# The router answers ``Expect: 100-continue`` itself (the ASGI server does), so it must not be
# forwarded: the demo would wait for a body the router sends without asking.
_NOT_FORWARDED = frozenset({b"expect"})


class ClientDisconnected(Exception):
    """The browser went away while its request body was being forwarded."""


class UpstreamUnavailable(Exception):
    """The demo service refused the connection or did not accept it in time."""


def upstream_url(scope: Scope, upstream: Upstream) -> httpx.URL:
    """The demo-side URL: same raw path and query string, the upstream's address."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = raw_path + (b"?" + query if query else b"")
    return httpx.URL(scheme="http", host=upstream.host, port=upstream.port, raw_path=target)


def _request_headers(scope: Scope) -> RawHeaders:
    headers = [(k, v) for k, v in end_to_end(scope["headers"]) if k.lower() not in _NOT_FORWARDED]
    return forwarded_for(scope, headers)


def _has_body(headers: RawHeaders) -> bool:
    names = {name.lower() for name, _ in headers}
    return b"content-length" in names or b"transfer-encoding" in names


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Stop relaying (and close the upstream stream) once the client has gone."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class HttpProxy:
    """A shared, lazily created upstream client and the forwarding of one request."""

    def __init__(self, *, connect_timeout: float = 5.0) -> None:
        self._connect_timeout = connect_timeout
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    connect=self._connect_timeout, read=None, write=60.0, pool=30.0
                ),
                limits=httpx.Limits(
                    max_connections=None, max_keepalive_connections=256, keepalive_expiry=30.0
                ),
                follow_redirects=False,
                trust_env=False,  # demos are on our own network: never through an HTTP proxy
            )
            client.headers.clear()  # no default Accept-Encoding, User-Agent, ...
            self._client = client
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def forward(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        """Relay the request; raise ``UpstreamUnavailable`` if nothing was sent back yet."""
        headers = _request_headers(scope)
        client = self._get_client()
        request = client.build_request(
            scope["method"],
            upstream_url(scope, upstream),
            headers=headers,
            content=_request_body(receive) if _has_body(scope["headers"]) else None,
        )
        try:
            response = await client.send(request, stream=True)
        except ClientDisconnected:
            return
        except httpx.TransportError as exc:
            log.warning("demo upstream %s:%s failed: %r", upstream.host, upstream.port, exc)
            raise UpstreamUnavailable(str(exc)) from exc
        try:
            await self._relay(response, receive, send)
        finally:
            await response.aclose()

    @staticmethod
    async def _relay(response: httpx.Response, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(k.lower(), v) for k, v in end_to_end(response.headers.raw)],
            }
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                async for chunk in response.aiter_raw():
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        except* httpx.TransportError as group:
            # Headers are already out: all we can do is cut the connection short, which the
            # ASGI server does when we return without finishing the body.
            log.warning("demo upstream broke off a response: %r", group.exceptions[0])
        except* OSError:
            pass  # servers that report a gone client by raising from send (uvicorn does not)
