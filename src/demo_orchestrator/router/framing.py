"""Refuse requests whose framing or target two HTTP parsers could read differently (RFC 9112).

The router relays requests to demos that run their own HTTP servers (Python's `http.server`,
uvicorn, anything a blueprint brings). A request the router reads one way and the demo another
(two `Content-Length`s, `Transfer-Encoding` next to `Content-Length`, a coding other than a lone
`chunked`, two `Host`s, an absolute-form target naming another host) is how requests are
smuggled past a proxy, so such a request gets a 400 and is never forwarded. uvicorn's parser
already refuses most malformed syntax (spaces before the colon, obs-fold, control characters,
bad chunk sizes); what reaches the ASGI app still well-formed but ambiguous is refused here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TARGET_KEY = "demo_orchestrator.request_target"
"""Scope extension holding the request-target exactly as the client sent it."""

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DIGITS = re.compile(rb"^[0-9]+$")
_ABSOLUTE = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TARGET_BAD = re.compile(rb"[\x00-\x20\x7f#]")
# RFC 9110 section 7.2: uri-host [ ":" port ], the host a reg-name, IPv4 or an IP literal.
_HOST = re.compile(rb"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:[0-9]*)?$")


class TargetKeepingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that also keeps the raw request-target in the scope.

    ASGI gives only the path and query: a fragment or the host of an absolute-form target is
    gone by then, and both must be seen to be refused.
    """

    def on_headers_complete(self) -> None:
        extensions = self.scope.setdefault("extensions", {})
        extensions[TARGET_KEY] = {"target": bytes(self.url)}
        super().on_headers_complete()


def _host_of_target(target: bytes) -> bytes | None:
    match = _ABSOLUTE.match(target)
    if match is None:
        return None
    return match.group(1).rsplit(b"@", 1)[-1]


def _target_problem(scope: Mapping[str, Any], host: bytes | None) -> str | None:
    kept = (scope.get("extensions") or {}).get(TARGET_KEY)
    if not kept:
        return None
    target: bytes = kept["target"]
    if _TARGET_BAD.search(target):
        return "the request-target has a space, a control character or a fragment (#)"
    if target == b"*":
        return None if scope["method"] == "OPTIONS" else "`*` is a target for OPTIONS only"
    if target.startswith(b"/"):
        return None
    named = _host_of_target(target)
    if named is None:
        return "the request-target is neither a path nor an absolute URL"
    if host is None or named.lower() != host.lower():
        return "the absolute-form request-target names another host than the Host header"
    return None


def malformed(scope: Mapping[str, Any]) -> str | None:
    """Why an HTTP request must be refused with a 400, or None when it may go on."""
    hosts: list[bytes] = []
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for name, value in scope["headers"]:
        if not _TOKEN.match(name):
            return "a header name is not a token (RFC 9110 section 5.1)"
        if _FIELD_VALUE_BAD.search(value):
            return "a header value has a control character"
        lower = name.lower()
        if lower == b"host":
            hosts.append(value.strip())
        elif lower == b"content-length":
            lengths.append(value.strip())
        elif lower == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",")]
    version = scope.get("http_version", "1.1")
    if len(hosts) > 1:
        return "more than one Host header"
    if hosts and hosts[0] and not _HOST.match(hosts[0]):
        return (
            "the Host header is not a host name with an optional port (the orchestrator answers "
            "the names in DEMO_ALLOWED_HOSTS, a demo its demo-<id>.<route> host)"
        )
    if version == "1.1" and not hosts:
        return "an HTTP/1.1 request needs a Host header"
    if len(lengths) > 1:
        return "more than one Content-Length header"
    if lengths and not _DIGITS.match(lengths[0]):
        return "Content-Length is not a number"
    if codings:
        if version != "1.1":
            return f"Transfer-Encoding is not allowed in HTTP/{version}"
        if lengths:
            return "both Content-Length and Transfer-Encoding"
        if codings != [b"chunked"]:
            return "the only Transfer-Encoding accepted is a single `chunked`"
    return _target_problem(scope, hosts[0] if hosts else None)
