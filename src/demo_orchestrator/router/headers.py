"""Header rules shared by the HTTP and the WebSocket proxy.

Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection and must not be forwarded;
everything else, including the original ``Host`` and every ``Set-Cookie``, is passed on byte for
byte so a demo behaves behind the router exactly as it does when reached directly. The
``X-Forwarded-*`` headers tell the demo who the client was and which URL it used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"trailers",
        b"upgrade",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names listed in ``Connection``, which are hop-by-hop too."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return tokens


def end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """Drop hop-by-hop headers (also those named in ``Connection`` and any ``Proxy-*``)."""
    items = list(headers)
    drop = HOP_BY_HOP | _connection_tokens(items)
    return [
        (name, value)
        for name, value in items
        if name.lower() not in drop and not name.lower().startswith(b"proxy-")
    ]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case) decoded as latin-1, or None."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def forwarded_for(scope: Mapping[str, Any], headers: RawHeaders) -> RawHeaders:
    """Add ``X-Forwarded-For`` (appended to any earlier hops), ``-Proto`` and ``-Host``."""
    client = scope.get("client")
    client_ip = str(client[0]) if client else "unknown"
    earlier = header(headers, b"x-forwarded-for")
    scheme = str(scope.get("scheme", "http"))
    proto = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    host = header(headers, b"host") or ""
    kept = [
        (name, value)
        for name, value in headers
        if name.lower() not in {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
    ]
    chain = f"{earlier}, {client_ip}" if earlier else client_ip
    kept += [
        (b"x-forwarded-for", chain.encode("latin-1")),
        (b"x-forwarded-proto", proto.encode("latin-1")),
        (b"x-forwarded-host", host.encode("latin-1")),
    ]
    return kept
