"""The server-sent event stream of one instance, shared by the API (bearer tokens) and the web UI
(session cookies): a `snapshot`, then every event after it from the store's event log, so any
replica can serve it and a client resumes with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse

from demo_orchestrator.engine.service import InstanceService, Principal

TERMINAL = {"deleted", "rejected"}
POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0


async def event_stream(
    service: InstanceService,
    who: Principal,
    instance_id: str,
    request: Request,
    last_event_id: str | None,
) -> StreamingResponse:
    # Without Last-Event-ID the snapshot is the starting point: stream what happens after it.
    latest = await anyio.to_thread.run_sync(service.latest_event_id, who, instance_id)
    snapshot = await anyio.to_thread.run_sync(service.get, who, instance_id)
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else latest

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        yield f"event: snapshot\ndata: {json.dumps(snapshot)}\n\n"
        if snapshot["status"] in TERMINAL:
            return
        idle = 0.0
        while not await request.is_disconnected():
            events = await anyio.to_thread.run_sync(service.events_after, who, instance_id, after)
            for event in events:
                after = event["id"]
                yield f"id: {event['id']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"
                if event["kind"] == "status" and event.get("status") in TERMINAL:
                    return
            idle = 0.0 if events else idle + POLL_SECONDS
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
