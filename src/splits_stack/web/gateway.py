"""ASGI gateway: picks the portal or the candidate app from the Host header.

A host whose dot-separated labels contain `candidate` gets the candidate app, `portal` (and, for
standalone use, any other host such as `localhost`) gets the portal. Both apps share one `Stack`,
built in the lifespan start-up and closed at shutdown.

Reload in place (the orchestrator's contract, `reload_path` in the blueprint): when the stack was
given a reload token, `POST /__demo/reload` with `Authorization: Bearer <token>` re-reads the
settings file, builds a new `Stack` from it (a new database engine, so a database restored from
its template underneath is opened afresh; the prospect woven in again; new cache and bus
clients), swaps it in for both apps, closes the old one, and answers `{"version"}` of the settings
it now serves from (the old one is closed in the background). The process, its port and its
forked memory stay.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from splits_stack.config import Settings, load_settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

RELOAD_PATH = "/__demo/reload"


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
        self._reloading: asyncio.Lock | None = None

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
        if scope["type"] == "http" and scope["path"] == RELOAD_PATH and self.settings.reload_token:
            await self._reload(scope, send)
            return
        host = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        await self.apps[site_for_host(host)](scope, receive, send)

    async def _reload(self, scope: Scope, send: Send) -> None:
        from starlette.concurrency import run_in_threadpool

        given = ""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                given = value.decode("latin-1")
        if scope["method"] != "POST":
            await _answer(send, 405, {"detail": "POST to reload"})
            return
        if not hmac.compare_digest(given.encode(), f"Bearer {self.settings.reload_token}".encode()):
            await _answer(send, 403, {"detail": "wrong or missing reload token"})
            return
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:  # one rebuild at a time
            try:
                settings = await run_in_threadpool(self._rebuild)
            except Exception as exc:  # noqa: BLE001 - the orchestrator restarts us instead
                await _answer(send, 500, {"detail": f"reload failed: {exc!r}"})
                return
        await _answer(send, 200, {"version": settings.settings_version, "pid": os.getpid()})

    def _rebuild(self) -> Settings:
        from splits_stack.web.context import build_stack

        settings = load_settings({"DEMO_SETTINGS_FILE": self.settings.settings_file})
        stack = build_stack(settings)
        old, self.stack, self.settings = self.stack, stack, settings
        for app in self.apps.values():
            app.state.stack = stack
        if old is not None:  # in the background: a broker's threads may take a moment to stop
            threading.Thread(target=old.close, name="close-old-stack", daemon=True).start()
        return settings


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
