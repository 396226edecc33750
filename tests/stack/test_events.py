"""Events over RabbitMQ: with AMQP_URL set, applying publishes `application.created` to the
`splits.events` exchange and the notification consumer fills the outbox from the queue."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pika
import pytest

from tests.services import RABBITMQ_URL as AMQP_URL
from tests.stack.conftest import sign_in


@pytest.fixture(scope="module")
def channel() -> Any:
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    ch = conn.channel()
    ch.exchange_declare("splits.events", exchange_type="topic", durable=True)
    yield ch
    conn.close()


@pytest.mark.rabbitmq
def test_application_event_travels_through_rabbitmq_to_the_outbox(
    stacks: Any, channel: Any
) -> None:
    stack = stacks("startup", AMQP_URL=AMQP_URL)
    instance = stack.env["DEMO_INSTANCE_ID"]
    spy = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(spy, "splits.events", routing_key=f"{instance}.#")
    with sign_in(stack, "jamie.rivera@mail.example", "candidate") as cand:
        mine = {
            a["job_id"]
            for a in cand.get("/api/applications", params={"candidate_id": 1}).json()["items"]
        }
        target = next(j["id"] for j in cand.get("/api/jobs").json()["items"] if j["id"] not in mine)
        assert cand.post(f"/jobs/{target}/apply", data={"resume_id": "1"}).status_code == 303

    seen: dict[str, Any] | None = None
    deadline = time.monotonic() + 10
    while seen is None and time.monotonic() < deadline:
        method, _props, body = channel.basic_get(spy, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        seen = json.loads(body)
        assert method.routing_key == f"{instance}.application.created"
    assert seen is not None, "no event reached the test's queue"
    assert (
        seen["type"] == "application.created" and seen["data"]["candidate_name"] == "Jamie Rivera"
    )

    with sign_in(stack, "alex.morgan@lumenlabs.example") as portal:
        outbox = ""
        while time.monotonic() < deadline + 5:
            outbox = portal.get("/outbox").text
            if "via rabbitmq" in outbox:
                break
            time.sleep(0.1)
    assert re.search(r"application\.created · via rabbitmq", outbox), (
        "the consumer did not write the outbox"
    )


def test_without_a_broker_events_are_delivered_in_process(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "jordan.reyes@northbridge.example") as http:
        app = next(
            a
            for a in http.get("/api/applications", params={"limit": 500}).json()["items"]
            if a["stage"] == "applied"
        )
        http.post(f"/applications/{app['id']}/move", data={"stage": "screening"})
        assert "application.moved · via in-process" in http.get("/outbox").text
