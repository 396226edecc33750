"""Run the gateway with uvicorn (one process serves both hosts and the API).

Two ways in: `serve` for `python -m splits_stack serve`, and `run(port, environ)` with `preload()`
for a fork-server (a parent that imports the stack once and forks a child per demo). `preload`
builds in that parent what every demo shares and none needs to own: the imports `serve` would
otherwise do lazily, the compiled templates, SQLAlchemy's lazily imported modules and dialect
set-up (on a throwaway in-memory database, closed again). It leaves nothing alive: no thread,
event loop, connection or open file, since a fork copies only the calling thread and two demos
must never share a connection. Each child then opens its own database and binds its own socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splits_stack.config import Settings


def _config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=3,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from splits_stack.web.gateway import Gateway

    uvicorn.Server(_config(Gateway(settings), host, port)).run()


def run(port: int, environ: Mapping[str, str]) -> None:
    """Serve one demo on 127.0.0.1:`port`, configured by `environ` (what `serve` reads from the
    process environment), until SIGTERM."""
    serve(Settings.from_env(dict(environ)), "127.0.0.1", port)


def preload() -> None:
    """Import and build, once, what every forked demo shares (see the module docstring)."""
    import anyio._backends._asyncio  # noqa: F401 - imported lazily by the first request
    from sqlalchemy import select, text

    from splits_stack import tables
    from splits_stack.db import make_engine, read_meta
    from splits_stack.services import events, freshen  # noqa: F401 - imported by build_stack
    from splits_stack.web import apps, candidate, gateway, portal, render  # noqa: F401

    _config(gateway.Gateway(Settings(database_url="sqlite://")), "127.0.0.1", 0).load()
    templates = render.environment()
    for name in templates.list_templates(filter_func=lambda n: n.endswith(".html")):
        templates.get_template(name)
    engine = make_engine("sqlite://")
    try:
        tables.metadata.create_all(engine)
        read_meta(engine)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            for table in tables.metadata.sorted_tables:
                conn.execute(select(table).limit(1)).all()
    finally:
        engine.dispose()
