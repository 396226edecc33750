"""Recognise demo hosts such as ``demo-ab12cd.portal.localhost:8000``.

One port serves the orchestrator and every demo, so the ``Host`` header is the only thing that
tells them apart. The match is strict on purpose: exactly ``demo-<id>.<route>.<base domain>``,
nothing more to the left or to the right, so ``demo-ab12cd.portal.localhost.evil.com`` is not a
demo host and a demo can never be reached through a look-alike name.
"""

from __future__ import annotations

import re

INSTANCE_ID = re.compile(r"demo-[a-z0-9]{6}")
ROUTE_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")


def split_host(host: str) -> tuple[str, str | None] | None:
    """Split ``name[:port]`` into a lower-case name without trailing dot and the port.

    Returns None for values that are not a plain DNS name with an optional numeric port
    (IPv6 literals, empty names, garbage), which can never be demo hosts.
    """
    value = host.strip().lower()
    name, sep, port = value.partition(":")
    if sep and not _PORT.fullmatch(port):
        return None
    name = name.removesuffix(".")
    if not name or not all(label for label in name.split(".")):
        return None
    return name, (port if sep else None)


def _labels_below(host: str, base_domain: str) -> list[str] | None:
    """The labels of ``host`` to the left of ``base_domain``, or None if it is not below it."""
    split = split_host(host)
    base = base_domain.strip().lower().strip(".")
    if split is None or not base:
        return None
    name = split[0]
    suffix = "." + base
    if not name.endswith(suffix):
        return None
    return name[: -len(suffix)].split(".")


def parse_demo_host(host: str, base_domain: str) -> tuple[str, str] | None:
    """``"demo-ab12cd.portal.localhost:8000"`` -> ``("demo-ab12cd", "portal")``, else None.

    The port is ignored and the comparison is case-insensitive.
    """
    labels = _labels_below(host, base_domain)
    if labels is None or len(labels) != 2:
        return None
    instance_id, route = labels
    if not INSTANCE_ID.fullmatch(instance_id) or not ROUTE_NAME.fullmatch(route):
        return None
    return instance_id, route


def looks_like_demo_host(host: str, base_domain: str) -> bool:
    """True for names below the base domain whose first label starts with ``demo-``.

    Such a host is meant for a demo even when it is malformed (bad id, missing route), so the
    router answers "this demo does not exist" instead of showing the orchestrator's own UI.
    """
    labels = _labels_below(host, base_domain)
    return labels is not None and labels[0].startswith("demo-")
