"""Sends webhook deliveries over HTTP(S), and keeps them away from private networks.

A webhook URL is chosen by a user, so the orchestrator would otherwise POST wherever a sales rep
points it: the cloud's metadata service, the store's server, an admin port on loopback. Unless
`DEMO_WEBHOOK_ALLOW_PRIVATE_NETWORKS` is true, every address the name resolves to must be a public
one (not loopback, private, link-local, shared, reserved or multicast), checked right before each
attempt; redirects are not followed (a 3xx counts as a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from demo_orchestrator.domain.errors import BadRequest


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse at subscription time what can never be delivered (shape, literal private IPs)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadRequest("a webhook url is an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise BadRequest("a webhook url carries no credentials; use the signing secret instead")
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: checked at each attempt, where it resolves
    if _blocked(str(literal)):
        raise BadRequest(
            f"{parts.hostname} is not a public address; webhooks go to public addresses unless "
            "DEMO_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true"
        )


class WebhookSender:
    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def _refusal(self, url: str) -> str | None:
        if self.allow_private:
            return None
        host = urlsplit(url).hostname or ""
        port = urlsplit(url).port or 443
        try:
            found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            return f"cannot resolve {host}: {exc.strerror or exc}"
        if any(_blocked(str(info[4][0])) for info in found):
            return f"{host} resolves to a non-public address; not sent"
        return None

    def send(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        refusal = self._refusal(url)
        if refusal is not None:
            return Outcome(None, refusal)
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(None, "timed out")
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {str(exc)[:200]}")
        return Outcome(
            response.status_code, None if response.is_success else response.reason_phrase
        )
