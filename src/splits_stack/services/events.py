"""Domain events (application created, stage moved, placement made) and the buses that carry them.

Without AMQP_URL the notification service is called in-process. With AMQP_URL, events are
published to the topic exchange `splits.events` with routing key `<instance>.<event type>`; a
consumer thread reads this demo's queue `splits.notification.<instance>` (bound to `<instance>.#`)
and writes the outbox, so the path is the same as with separate services. pika connections are not
thread-safe, hence one thread owns the publisher connection and another the consumer's.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from typing import Any, Protocol

from sqlalchemy import Engine

from splits_stack.services.notification import deliver

EXCHANGE = "splits.events"
log = logging.getLogger("splits_stack.events")


def make_event(event_type: str, data: dict[str, Any], instance: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": event_type, "instance": instance, "data": data}


class EventBus(Protocol):
    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]: ...
    def stop(self) -> None: ...


class InProcessBus:
    def __init__(self, engine: Engine, instance: str) -> None:
        self.engine, self.instance = engine, instance

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = make_event(event_type, data, self.instance)
        deliver(self.engine, event, "in-process")
        return event

    def stop(self) -> None:
        return None


class AmqpBus:
    def __init__(self, engine: Engine, instance: str, url: str) -> None:
        self.engine, self.instance, self.url = engine, instance, url
        self.queue_name = f"splits.notification.{instance}"
        self._outgoing: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopping = threading.Event()
        self.consumer_ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._publisher, name="amqp-publisher", daemon=True),
            threading.Thread(target=self._consumer, name="amqp-consumer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = make_event(event_type, data, self.instance)
        self._outgoing.put(event)
        return event

    def stop(self) -> None:
        self._stopping.set()
        self._outgoing.put(None)
        for thread in self._threads:
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


def _properties() -> Any:
    import pika

    return pika.BasicProperties(content_type="application/json", delivery_mode=2)


def make_bus(engine: Engine, instance: str, amqp_url: str | None) -> EventBus:
    if amqp_url:
        return AmqpBus(engine, instance, amqp_url)
    return InProcessBus(engine, instance)
