"""Run the gateway with uvicorn (one process serves both hosts and the API)."""

from __future__ import annotations

from splits_stack.config import Settings


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from splits_stack.web.gateway import Gateway

    config = uvicorn.Config(
        Gateway(settings),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run()
