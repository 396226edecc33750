"""What changes while a page is open: the demo's remaining time and the pipeline's stages.

Two routes for the page script (`static/live.js`), both behind the session check like every page:
- `GET /__demo/lifetime`: `{"expires_at", "seconds_left", "warn", "ended", ...}` from the
  orchestrator's `/self` (services/lifetime.py), read again when due; all null/false when nothing
  is known (standalone, orchestrator away): then no banner.
- `GET /__demo/events`: server-sent events of stage changes (`event: stage`), scoped to what the
  viewer may see: the rep everything; a candidate their own applications; a recruiter the
  applications they work or whose job they are assigned to; company staff their company's. A
  comment every `HEARTBEAT_S` keeps proxies from closing a quiet stream; a stream ends cleanly
  (`event: bye`) when the stack reloads or stops, and after `MAX_STREAM_S` so that a session that
  ended meanwhile is checked again on the browser's reconnect. At most `MAX_STREAMS` per process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from splits_stack.services.events import LiveHub
from splits_stack.services.pipeline import STAGE_LABELS
from splits_stack.web import access
from splits_stack.web.context import Stack

LIFETIME_PATH = "/__demo/lifetime"
EVENTS_PATH = "/__demo/events"
HEARTBEAT_S = 15.0
MAX_STREAM_S = 600.0
READY_WAIT_S = 5.0  # how long a new stream waits for the broker's queue before saying hello
RETRY_MS = 3000  # the browser reconnects after this long when a stream ends
# What a page receives of an event: never e-mails, teams or the audience itself.
PUBLIC_KEYS = (
    "type",
    "application_id",
    "job_id",
    "candidate_id",
    "stage",
    "from_stage",
    "candidate_name",
)


def may_see(seen: access.Viewer, event: dict[str, Any]) -> bool:
    """Whether this viewer's pages may learn of this application event."""
    if seen.rep:
        return True
    user = seen.user
    if user is None:
        return False
    role = user.get("role")
    if role == "candidate":
        return user.get("candidate_id") is not None and user["candidate_id"] == event.get(
            "candidate_id"
        )
    if role == "recruiter":
        return user.get("recruiter_id") in (event.get("recruiter_ids") or ())
    return user.get("company_id") is not None and user["company_id"] == event.get("company_id")


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def public_view(event: dict[str, Any]) -> dict[str, Any]:
    shown = {key: event.get(key) for key in PUBLIC_KEYS}
    shown["stage_label"] = STAGE_LABELS.get(str(event.get("stage")), str(event.get("stage")))
    return shown


def stream(
    hub: LiveHub, seen: access.Viewer, *, heartbeat: float = HEARTBEAT_S
) -> AsyncIterator[str] | None:
    """The stream of one viewer, or None when the process serves as many as it may. It
    subscribes when it starts: a stream whose client left before it began holds no place."""
    if hub.full:
        return None

    async def body() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        sub = hub.subscribe()
        if sub is None:  # filled up meanwhile, or the stack is closing: try again later
            yield sse("bye", {})
            return
        loop = asyncio.get_running_loop()
        ends = loop.time() + MAX_STREAM_S
        try:
            await run_in_threadpool(hub.ready.wait, READY_WAIT_S)
            yield sse("hello", {"heartbeat_s": heartbeat})
            while loop.time() < ends:
                try:
                    event = await asyncio.wait_for(sub.inbox.get(), heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if event is None:
                    break
                if may_see(seen, event):
                    yield sse("stage", public_view(event))
            yield sse("bye", {})
        finally:
            hub.unsubscribe(sub)

    return body()


def _problem(status: int, title: str, detail: str, **headers: str) -> Response:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


async def events(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    seen = await run_in_threadpool(access.viewer, request)
    body = stream(stack.bus.live, seen)
    if body is None:
        return _problem(
            503,
            "Too many live pages",
            f"this demo already streams live updates to {stack.bus.live.limit} pages; close "
            "a tab (updates resume on their own) or reload the page later",
            **{"Retry-After": "30"},
        )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
    )


async def lifetime(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    view = await run_in_threadpool(stack.lifetime.fresh)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [Route(LIFETIME_PATH, lifetime), Route(EVENTS_PATH, events)]
