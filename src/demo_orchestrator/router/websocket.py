"""Pass WebSocket connections through to a demo service.

Demos use WebSockets for live updates, so the router accepts the browser's socket, opens one to
the demo with the ``websockets`` library (same path, query, cookies, origin and offered
subprotocols; the original ``Host``), and pumps text and binary frames both ways until either side
closes, handing the close code on to the other side. The upstream socket is opened *before* the
browser's is accepted, so a demo that is down gets a proper HTTP error instead of an open socket
that closes at once.
"""

from __future__ import annotations

import logging
from typing import cast

import anyio
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Origin, Subprotocol

from demo_orchestrator.router.decisions import Upstream
from demo_orchestrator.router.headers import RawHeaders, end_to_end, forwarded_for, header
from demo_orchestrator.router.proxy import UpstreamUnavailable

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # the same limit uvicorn applies to the browser side
OPEN_TIMEOUT_SECONDS = 5.0
# Set by the websockets client itself (or passed through its own arguments).
_SET_BY_CLIENT = frozenset({b"host", b"origin", b"user-agent"})


def sendable_close_code(code: int | None) -> int:
    """Codes 1005/1006 (and other reserved ones) describe a close; they cannot be sent."""
    if code is None or code == 1005:
        return 1000
    if code in {1000, 1001, 1002, 1003} or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1011


async def deny(scope: Scope, send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    """Refuse the handshake with an HTTP response where the server supports it, else a 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": ""})


def _upstream_headers(scope: Scope) -> list[tuple[str, str]]:
    headers = forwarded_for(scope, end_to_end(scope["headers"]))
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name.lower() not in _SET_BY_CLIENT and not name.lower().startswith(b"sec-websocket-")
    ]


def _upstream_uri(scope: Scope) -> str:
    host = header(scope["headers"], b"host") or "localhost"
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = (path + (b"?" + query if query else b"")).decode("latin-1")
    return f"ws://{host}{target}"


async def _open_upstream(scope: Scope, upstream: Upstream) -> ClientConnection:
    origin = header(scope["headers"], b"origin")
    try:
        return await connect(
            _upstream_uri(scope),
            host=upstream.host,  # connect here, while the URI keeps the original Host header
            port=upstream.port,
            subprotocols=[Subprotocol(p) for p in scope.get("subprotocols", [])] or None,
            origin=Origin(origin) if origin else None,
            additional_headers=_upstream_headers(scope),
            user_agent_header=header(scope["headers"], b"user-agent"),
            proxy=None,
            open_timeout=OPEN_TIMEOUT_SECONDS,
            max_size=MAX_MESSAGE_BYTES,
        )
    except InvalidStatus:
        raise
    except (OSError, TimeoutError, WebSocketException) as exc:
        log.warning("demo websocket %s:%s failed: %r", upstream.host, upstream.port, exc)
        raise UpstreamUnavailable(str(exc)) from exc


async def proxy_websocket(scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
    """Relay one WebSocket; the caller has already received ``websocket.connect``.

    Raises ``UpstreamUnavailable`` (before accepting) when the demo cannot be reached.
    """
    try:
        ws = await _open_upstream(scope, upstream)
    except InvalidStatus as exc:  # the demo refused the handshake: pass its answer on
        response = exc.response
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.raw_items()
            if k.lower() in {"content-type", "set-cookie", "www-authenticate", "location"}
        ]
        await deny(scope, send, response.status_code, headers, bytes(response.body or b""))
        return
    handshake = ws.response
    cookies = [
        (b"set-cookie", value.encode("latin-1"))
        for value in (handshake.headers.get_all("Set-Cookie") if handshake else [])
    ]
    await send({"type": "websocket.accept", "subprotocol": ws.subprotocol, "headers": cookies})
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_client_to_upstream, receive, ws, group.cancel_scope)
            group.start_soon(_upstream_to_client, ws, send, group.cancel_scope)
    finally:
        await ws.close()


async def _client_to_upstream(
    receive: Receive, ws: ClientConnection, done: anyio.CancelScope
) -> None:
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                await ws.send(data if data is not None else cast(str, message.get("text") or ""))
            elif message["type"] == "websocket.disconnect":
                code = sendable_close_code(message.get("code"))
                await ws.close(code=code, reason=str(message.get("reason") or ""))
                return
    except ConnectionClosed:
        return  # the other pump tells the browser
    finally:
        done.cancel()


async def _upstream_to_client(ws: ClientConnection, send: Send, done: anyio.CancelScope) -> None:
    try:
        try:
            async for data in ws:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        await send(
            {
                "type": "websocket.close",
                "code": sendable_close_code(ws.close_code if ws.close_code != 1006 else 1011),
                "reason": ws.close_reason or "",
            }
        )
    except OSError:
        return  # the browser is gone already
    finally:
        done.cancel()
