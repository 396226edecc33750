"""Build, once, in a fork-server's parent process, what every forked demo shares and none needs
to own, then leave nothing alive.

Why: a forked child shares its parent's memory until it writes to it. What `serve` would do
lazily in each demo (imports, compiling the templates, SQLAlchemy's dialect set-up) is done
here once instead. Then the stack serves a short rehearsal: the gateway is started on a
throwaway database (a schema, no rows) and answers the requests a demo's first visitors make, in
process, so the code paths a demo runs are already warm in the parent (Python 3.11 rewrites a
function's bytecode the first times it runs, and lazily built caches fill on first use): each
child then owns fewer pages and answers its first request sooner. Nothing is left alive: the
rehearsal's event loop is closed, its worker threads have ended, its database is disposed and
deleted; a fork copies only the calling thread, and two demos must never share a connection.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from splits_stack.config import Settings

# What a demo's first visitors ask for: the health check, the JSON API on both hosts, the
# persona picker and the sign-in pages.
REHEARSAL = [
    ("portal", "/healthz"),
    *[
        (host, f"/api/{name}?limit=1")
        for host in ("portal", "candidate")
        for name in ("jobs", "companies", "candidates", "applications", "recruiters", "users")
    ],
    ("portal", "/personas"),
    ("portal", "/"),
    ("candidate", "/"),
]


def preload() -> None:
    """Import, compile and rehearse (see the module docstring); raises if anything stays alive."""
    import anyio._backends._asyncio  # noqa: F401 - imported lazily by the first request

    from splits_stack.web import render, server

    templates = render.environment()
    for name in templates.list_templates(filter_func=lambda n: n.endswith(".html")):
        templates.get_template(name)
    folder = Path(tempfile.mkdtemp(prefix="splits-preload-"))
    try:
        settings = Settings(database_url=f"sqlite:///{folder / 'rehearsal.db'}")
        _schema(settings.database_url)
        from splits_stack.web.gateway import Gateway

        config = server.uvicorn_config(Gateway(settings), "127.0.0.1", 0)
        config.load()  # the HTTP protocol each demo serves with is imported here, once
        # So is the event loop module uvicorn picks (no loop of it is made here: a uvloop loop
        # would leave libuv's pipes open across the fork).
        config.get_loop_factory()
        asyncio.run(_rehearse(Gateway(settings)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=5)


def _schema(url: str) -> None:
    from splits_stack import tables
    from splits_stack.db import make_engine

    engine = make_engine(url)
    try:
        tables.metadata.create_all(engine)
        with engine.begin() as conn:  # marked seeded, so the gateway does not seed it
            conn.execute(tables.meta.insert().values(key="scenario", value="agency"))
    finally:
        engine.dispose()


async def _rehearse(app: Any) -> None:
    """Start the app's lifespan, make the REHEARSAL requests, shut it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    said: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, said.put))
    await inbox.put({"type": "lifespan.startup"})
    if (await said.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the rehearsal stack did not start")
    for host, target in REHEARSAL:
        await _request(app, host, target)
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan


async def _request(app: Any, host: str, target: str) -> None:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", f"{host}.localhost".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    await app(scope, receive, send)
