"""Run the gateway with uvicorn (one process serves both hosts and the API).

Two ways in: `serve` for `python -m splits_stack serve`, and `run(port, environ)` for a
fork-server, a parent that has imported the stack once (and run `splits_stack.web.preload`) and
forks a child per demo; the child opens its own database and binds its own socket here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splits_stack.config import Settings, load_settings


def uvicorn_config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=3,
        # The standard loop and the pure-Python parser, even where uvloop and httptools are
        # installed (the orchestrator's router uses them): a demo serves one audience, and
        # measured side by side (bench/provision.py, 30 forked demos) they cost each demo
        # about 0.8 MB of memory of its own (15.2 against 14.4 MB USS).
        loop="asyncio",
        http="h11",
    )


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from splits_stack.web.gateway import Gateway

    uvicorn.Server(uvicorn_config(Gateway(settings), host, port)).run()


def run(port: int, environ: Mapping[str, str]) -> None:
    """Serve one demo on 127.0.0.1:`port`, configured by `environ` (what `serve` reads from the
    process environment), until SIGTERM."""
    serve(load_settings(dict(environ)), "127.0.0.1", port)
