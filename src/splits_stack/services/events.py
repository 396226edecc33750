"""Domain events (application created, stage moved, placement made) and the buses that carry them.

Without AMQP_URL the notification service is called in-process. With AMQP_URL, events are
published to the topic exchange `splits.events` with routing key `<instance>.<event type>`; a
consumer thread reads this demo's queue `splits.notification.<instance>` (bound to `<instance>.#`)
and writes the outbox, so the path is the same as with separate services. pika connections are not
thread-safe, hence one thread owns the publisher connection and another the consumer's.

Live updates (`web/live.py`): application events also go to this process's `LiveHub`, which fans
them out to the open server-sent-event streams of the pages. In-process, straight from `publish`;
with RabbitMQ, from a queue of this process's own (exclusive, deleted with its connection, bound
to `<instance>.application.*`), started with the first stream, so every process of the demo sees
every stage change whichever process made it. Before an event reaches the hub it gains its
audience (`audience`): whose candidate, which company, which recruiters, so that each stream only
passes on what its viewer may see.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Engine, select

from splits_stack import tables as t
from splits_stack.services.notification import deliver

EXCHANGE = "splits.events"
LIVE_EVENTS = ("application.created", "application.moved")
MAX_STREAMS = 64  # open live streams per process; more get a 503 and retry later
STREAM_BACKLOG = 100  # events waiting for one slow stream before it misses some
log = logging.getLogger("splits_stack.events")


def make_event(event_type: str, data: dict[str, Any], instance: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": event_type, "instance": instance, "data": data}


def audience(engine: Engine, event: dict[str, Any]) -> dict[str, Any] | None:
    """The live view of an application event: what a page needs (application, job, stage) and
    who may see it (`candidate_id`, `company_id`, `recruiter_ids`: the application's recruiter
    and those assigned to its job). None for other events or a vanished application."""
    data = event.get("data") or {}
    if event.get("type") not in LIVE_EVENTS or "application_id" not in data:
        return None
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(
                    t.applications.c.id,
                    t.applications.c.job_id,
                    t.applications.c.candidate_id,
                    t.applications.c.recruiter_id,
                    t.applications.c.stage,
                    t.jobs.c.company_id,
                )
                .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
                .where(t.applications.c.id == data["application_id"])
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        assigned = conn.execute(
            select(t.assignments.c.recruiter_id).where(t.assignments.c.job_id == row["job_id"])
        ).scalars()
        recruiters = sorted({r for r in (row["recruiter_id"], *assigned) if r is not None})
    return {
        "type": event["type"],
        "id": event.get("id"),
        "application_id": row["id"],
        "job_id": row["job_id"],
        "candidate_id": row["candidate_id"],
        "company_id": row["company_id"],
        "recruiter_ids": recruiters,
        "stage": data.get("to_stage") or row["stage"],
        "from_stage": data.get("from_stage"),
        "candidate_name": data.get("candidate_name"),
        "job_title": data.get("job_title"),
    }


class Subscription:
    """One live stream's inbox: events arrive from any thread, the stream awaits them on its
    event loop; None means the hub closed (the stack reloads or stops)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(STREAM_BACKLOG)

    def _put(self, item: dict[str, Any] | None) -> None:
        if item is None:
            while self.inbox.full():  # make room for the end: it must arrive
                self.inbox.get_nowait()
        elif self.inbox.full():
            return  # a stream this far behind misses events rather than growing
        self.inbox.put_nowait(item)

    def offer(self, item: dict[str, Any] | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:
            pass  # its loop is closed: the stream is gone


class LiveHub:
    """Fans the audience views of application events out to this process's open streams, at
    most `limit` of them. `on_first` runs when the first stream subscribes (the RabbitMQ bus
    starts its live consumer then); `ready` is set once events can arrive."""

    def __init__(
        self,
        engine: Engine,
        *,
        limit: int = MAX_STREAMS,
        on_first: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.ready = threading.Event()
        self._on_first = on_first
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        if on_first is None:
            self.ready.set()

    def subscribe(self) -> Subscription | None:
        """A new stream's inbox, or None when the process already serves `limit` streams."""
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            if self._closed or len(self._subscribers) >= self.limit:
                return None
            self._subscribers.add(sub)
            first, self._started = not self._started, True
        if first and self._on_first is not None:
            self._on_first()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def full(self) -> bool:
        """No room for another stream (at the limit, or closed)."""
        with self._lock:
            return self._closed or len(self._subscribers) >= self.limit

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, event: dict[str, Any]) -> None:
        """Offer an event (as published on the bus) to every open stream; never raises."""
        with self._lock:
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        try:
            view = audience(self.engine, event)
        except Exception:  # a live update is a nicety; the write itself succeeded
            log.exception("could not prepare the live update of %s", event.get("type"))
            return
        if view is None:
            return
        for sub in subscribers:
            sub.offer(view)

    def close(self) -> None:
        """End every stream (their pages reconnect, to the stack that replaces this one)."""
        with self._lock:
            self._closed = True
            subscribers, self._subscribers = list(self._subscribers), set()
        for sub in subscribers:
            sub.offer(None)


class EventBus(Protocol):
    live: LiveHub

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]: ...
    def stop(self) -> None: ...


class InProcessBus:
    def __init__(self, engine: Engine, instance: str) -> None:
        self.engine, self.instance = engine, instance
        self.live = LiveHub(engine)

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = make_event(event_type, data, self.instance)
        deliver(self.engine, event, "in-process")
        self.live.publish(event)
        return event

    def stop(self) -> None:
        self.live.close()


class AmqpBus:
    def __init__(self, engine: Engine, instance: str, url: str) -> None:
        self.engine, self.instance, self.url = engine, instance, url
        self.queue_name = f"splits.notification.{instance}"
        self._outgoing: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopping = threading.Event()
        self.consumer_ready = threading.Event()
        self.live = LiveHub(engine, on_first=self._start_live)
        self._threads = [
            threading.Thread(target=self._publisher, name="amqp-publisher", daemon=True),
            threading.Thread(target=self._consumer, name="amqp-consumer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _start_live(self) -> None:
        thread = threading.Thread(target=self._live_consumer, name="amqp-live", daemon=True)
        self._threads.append(thread)
        thread.start()

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = make_event(event_type, data, self.instance)
        self._outgoing.put(event)
        return event

    def stop(self) -> None:
        self._stopping.set()
        self._outgoing.put(None)
        self.live.close()
        for thread in list(self._threads):
            thread.join(timeout=3)

    def _connect(self) -> Any:
        import pika  # type: ignore[import-untyped]

        params = pika.URLParameters(self.url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 10
        conn = pika.BlockingConnection(params)
        channel = conn.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        return conn, channel

    def _publisher(self) -> None:
        conn = channel = None
        while True:
            try:
                event = self._outgoing.get(timeout=1.0)
            except queue.Empty:
                if conn is not None:
                    conn.process_data_events(0)
                continue
            if event is None:
                break
            try:
                if conn is None or conn.is_closed:
                    conn, channel = self._connect()
                assert channel is not None
                channel.basic_publish(
                    EXCHANGE,
                    f"{self.instance}.{event['type']}",
                    json.dumps(event).encode(),
                    properties=_properties(),
                )
            except Exception:  # broker down: keep the product working, deliver locally
                log.exception(
                    "publishing %s to RabbitMQ failed; delivering in-process", event["type"]
                )
                conn = channel = None
                deliver(self.engine, event, "in-process")
                self.live.publish(event)
        if conn is not None and conn.is_open:
            conn.close()

    def _consumer(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, channel = self._connect()
                channel.queue_declare(
                    self.queue_name, durable=True, arguments={"x-expires": 3_600_000}
                )
                channel.queue_bind(self.queue_name, EXCHANGE, routing_key=f"{self.instance}.#")
                channel.basic_qos(prefetch_count=20)
                self.consumer_ready.set()
                for method, _props, body in channel.consume(
                    self.queue_name, inactivity_timeout=0.5
                ):
                    if self._stopping.is_set():
                        break
                    if method is None:
                        continue
                    try:
                        deliver(self.engine, json.loads(body), "rabbitmq")
                        channel.basic_ack(method.delivery_tag)
                    except Exception:
                        log.exception("notification consumer failed on one message")
                        channel.basic_nack(method.delivery_tag, requeue=False)
                channel.cancel()
                conn.close()
            except Exception:
                log.exception("RabbitMQ consumer disconnected; retrying in 2 s")
                self._stopping.wait(2.0)

    def _live_consumer(self) -> None:
        """This process's own queue of application events, for its live streams."""
        while not self._stopping.is_set():
            try:
                conn, channel = self._connect()
                name = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
                for kind in LIVE_EVENTS:
                    channel.queue_bind(name, EXCHANGE, routing_key=f"{self.instance}.{kind}")
                self.live.ready.set()
                for method, _props, body in channel.consume(
                    name, auto_ack=True, inactivity_timeout=0.5
                ):
                    if self._stopping.is_set():
                        break
                    if method is not None:
                        self.live.publish(json.loads(body))
                conn.close()
            except Exception:
                log.exception("RabbitMQ live consumer disconnected; retrying in 2 s")
                self.live.ready.clear()
                self._stopping.wait(2.0)


def _properties() -> Any:
    import pika

    return pika.BasicProperties(content_type="application/json", delivery_mode=2)


def make_bus(engine: Engine, instance: str, amqp_url: str | None) -> EventBus:
    if amqp_url:
        return AmqpBus(engine, instance, amqp_url)
    return InProcessBus(engine, instance)
