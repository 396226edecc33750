"""The server-sent event stream of one instance, shared by the API (bearer tokens) and the web UI
(session cookies): a `snapshot`, then every later change of the instance from the change feed.

One hub per process subscribes to the feed once and hands each instance's changes to the streams
open on it, so 200 open streams cost no store reads at all while nothing happens. A client that
reconnects with `Last-Event-ID` first gets what it missed from the store's event log (any replica
can serve it), then the live changes, without a gap or a repeat. The feed learns of other
replicas' changes through PostgreSQL's NOTIFY (and its safety-net read), so a stream on one
replica follows an instance another replica works on.

Each open stream holds a slot of `StreamCaps` (DEMO_MAX_STREAMS_PER_USER, DEMO_MAX_STREAMS): past
either, 429 with Retry-After. The slot is released as soon as the client goes away: the response
listens for the disconnect itself (an idle stream has nothing to send that would notice it).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.engine.admission import StreamCaps
from demo_orchestrator.engine.feed import Change
from demo_orchestrator.engine.service import Principal

TERMINAL = {"deleted", "rejected"}
KEEPALIVE_SECONDS = 15.0

_Listener = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[list[dict[str, Any]]]"]


class StreamHub:
    """Fans the change feed out to the event streams open on each instance."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._streams: dict[str, set[_Listener]] = {}
        self._lock = threading.Lock()
        settings = orchestrator.ctx.settings
        self.caps = StreamCaps(per_user=settings.max_streams_per_user, total=settings.max_streams)
        orchestrator.feed.subscribe(self._dispatch)

    def open(self, instance_id: str) -> _Listener:
        listener: _Listener = (asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:
            self._streams.setdefault(instance_id, set()).add(listener)
        return listener

    def close(self, instance_id: str, listener: _Listener) -> None:
        with self._lock:
            streams = self._streams.get(instance_id)
            if streams is not None:
                streams.discard(listener)
                if not streams:
                    del self._streams[instance_id]

    def _dispatch(self, changes: list[Change]) -> None:
        by_instance: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            wanted = set(self._streams)
        for change in changes:
            if change.instance_id in wanted:
                by_instance.setdefault(change.instance_id, []).append(change.as_dict())
        for instance_id, events in by_instance.items():
            with self._lock:
                listeners = list(self._streams.get(instance_id, ()))
            for loop, queue in listeners:
                loop.call_soon_threadsafe(queue.put_nowait, events)


_hub_lock = threading.Lock()


def hub_of(orchestrator: Orchestrator) -> StreamHub:
    with _hub_lock:
        hub: StreamHub | None = getattr(orchestrator, "_stream_hub", None)
        if hub is None:
            hub = StreamHub(orchestrator)
            orchestrator._stream_hub = hub  # type: ignore[attr-defined]
        return hub


class EventStreamResponse(StreamingResponse):
    """A streaming response that notices a client leaving even while it has nothing to send.

    Starlette relies on a failed send to see a disconnect under ASGI 2.4 servers; an idle event
    stream sends nothing for up to KEEPALIVE_SECONDS, so it would keep its slot that long.
    Listening for `http.disconnect` cancels the stream (its `finally` releases the slot) at once.
    """

    def __init__(self, content: AsyncIterator[str], *, on_close: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def relay() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:  # the client went away mid-send
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(relay)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self._on_close()  # also when the stream never started (idempotent)


def _frame(event: dict[str, Any]) -> str:
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"


async def event_stream(
    orchestrator: Orchestrator,
    who: Principal,
    instance_id: str,
    last_event_id: str | None,
) -> StreamingResponse:
    service = orchestrator.instances
    hub = hub_of(orchestrator)
    release = hub.caps.acquire(who.name)  # TooManyRequests (429) past a cap
    # Listen first, then read: nothing that happens in between is lost (repeats are skipped).
    listener = hub.open(instance_id)
    try:
        latest = await anyio.to_thread.run_sync(service.latest_event_id, who, instance_id)
        snapshot = await anyio.to_thread.run_sync(service.get, who, instance_id)
        resume = last_event_id is not None and last_event_id.isdigit()
        after = int(last_event_id) if resume and last_event_id else latest
        backlog: list[dict[str, Any]] = []
        while resume:
            page = await anyio.to_thread.run_sync(service.events_after, who, instance_id, after)
            if not page:
                break
            backlog.extend(page)
            after = page[-1]["id"]
    except BaseException:
        hub.close(instance_id, listener)
        release()
        raise

    async def stream() -> AsyncIterator[str]:
        sent = after
        try:
            yield f"event: snapshot\ndata: {json.dumps(snapshot)}\n\n"
            for event in backlog:
                yield _frame(event)
                if event["kind"] == "status" and event.get("status") in TERMINAL:
                    return
            if snapshot["status"] in TERMINAL and not backlog:
                return
            queue = listener[1]
            while True:
                try:
                    events = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                for event in events:
                    if event["id"] <= sent:
                        continue
                    sent = event["id"]
                    yield _frame(event)
                    if event["kind"] == "status" and event.get("status") in TERMINAL:
                        return
        finally:
            hub.close(instance_id, listener)
            release()

    def closed() -> None:
        hub.close(instance_id, listener)
        release()

    return EventStreamResponse(stream(), on_close=closed)
