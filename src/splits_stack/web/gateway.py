"""ASGI gateway: picks the portal or the candidate app from the Host header.

A host whose dot-separated labels contain `candidate` gets the candidate app, `portal` (and, for
standalone use, any other host such as `localhost`) gets the portal. Both apps share one `Stack`,
built in the lifespan start-up and closed at shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from splits_stack.config import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def site_for_host(host: str) -> str:
    labels = host.split(":", 1)[0].lower().split(".")
    if "candidate" in labels:
        return "candidate"
    return "portal"


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.apps: dict[str, Any] = {}
        self.stack: Any = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        from splits_stack.web.apps import build_apps
        from splits_stack.web.context import build_stack

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.stack = build_stack(self.settings)
                    self.apps = build_apps(self.stack)
                except Exception as exc:  # noqa: BLE001 - report start-up failure to uvicorn
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.stack is not None:
                    self.stack.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        host = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        await self.apps[site_for_host(host)](scope, receive, send)
