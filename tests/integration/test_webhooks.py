"""Webhooks end to end: the in-process engine (fake providers, a clock moved by hand) makes the
events, the notifier signs and POSTs them over real HTTP to a real receiver on loopback, and the
receiver checks every signature with the Standard Webhooks authors' own library."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from demo_orchestrator.app import create_app
from demo_orchestrator.domain.notifications import sign
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.notifications import Notifier
from demo_orchestrator.engine.service import CreateInstance
from demo_orchestrator.providers.webhook_http import WebhookSender
from tests.fakes.engine import ADMIN, FakeClock, Rig
from tests.fakes.receivers import Receiver

SAM = Principal("sam", "sales")
PAT = Principal("pat", "sales")
ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def real_now_clock() -> FakeClock:
    clock = FakeClock()
    clock.now = datetime.now(UTC).replace(microsecond=0)  # signatures carry a current timestamp
    return clock


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(
        tmp_path,
        clock=real_now_clock(),
        webhook_allow_private_networks=True,
        webhook_retry_base_seconds=2,
        webhook_max_attempts=3,
        webhook_timeout_seconds=1,
        expiry_warning_minutes="15,5",
    )
    made.orchestrator.notifier.begin()
    yield made
    made.orchestrator.notifier.stop()
    made.close()


def subscribe(rig: Rig, who: Principal, url: str, events: list[str], **more: Any) -> dict[str, Any]:
    notifier = rig.orchestrator.notifier
    return notifier.create(
        who,
        url=url,
        events=events,
        secret=more.get("secret"),
        format=more.get("format", "json"),
        scope=more.get("scope", "own"),
        check_url=lambda _: None,
    )


def verified(secret: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    lower = {k.lower(): v for k, v in headers.items()}
    payload: dict[str, Any] = Webhook(secret).verify(body, lower)
    return payload


def test_events_go_signed_to_the_owners_hooks_and_to_global_ones(
    rig: Rig, receiver: Receiver
) -> None:
    everyone = subscribe(rig, ADMIN, receiver.url("/all"), ["ready", "failed"], scope="global")
    sams = subscribe(rig, SAM, receiver.url("/sam"), ["ready"], format="slack")
    subscribe(rig, PAT, receiver.url("/pat"), ["ready"])
    instance, _ = rig.service.create(
        SAM, CreateInstance(duration_hours=1, prospect={"company": "Initech"})
    )
    rig.settle()
    assert rig.get(instance["id"])["status"] == "ready"
    rig.orchestrator.notifier.tick()

    assert receiver.at("/pat") == []  # pat's hook is scoped to pat's own demos
    for path, secret in (("/all", everyone["secret"]), ("/sam", sams["secret"])):
        [(_, headers, body)] = [r for r in receiver.received if r[0] == path]
        payload = verified(secret, headers, body)
        assert payload["type"] == "ready"
        assert payload["data"]["instance"]["id"] == instance["id"]
        assert payload["data"]["instance"]["owner"] == "sam"
        # a notification never carries a way in: no sign-in link, no secret
        assert "login_url" not in body.decode() and "token" not in body.decode()
        assert secret not in body.decode()
        with pytest.raises(WebhookVerificationError):
            verified(everyone["secret"] if path == "/sam" else sams["secret"], headers, body)
    assert "Initech" in receiver.at("/sam")[0]["text"] and "ready" in receiver.at("/sam")[0]["text"]
    # a second tick sends nothing again
    rig.orchestrator.notifier.tick()
    assert len(receiver.received) == 2


def test_a_replayed_or_tampered_message_is_refused_by_the_receiver() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"ready"}'
    old = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(old),
        "webhook-signature": sign(secret, "msg_1", old, body),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)
    now = int(datetime.now(UTC).timestamp())
    fresh = {
        **headers,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    assert Webhook(secret).verify(body, fresh) == {"type": "ready"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"failed"}', fresh)


def test_a_failing_receiver_is_retried_with_back_off_then_marked_failed(
    rig: Rig, receiver: Receiver
) -> None:
    hook = subscribe(rig, ADMIN, receiver.url("/flaky"), ["ready"], scope="global")
    receiver.statuses = [500, 503]
    rig.create()
    rig.settle()
    notifier = rig.orchestrator.notifier
    notifier.tick()
    [delivery] = notifier.deliveries(ADMIN, hook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    notifier.tick()  # not due yet: the back-off holds it
    assert len(receiver.received) == 1
    rig.clock.advance(2.1)
    notifier.tick()
    rig.clock.advance(12.1)  # 2 s x 6
    notifier.tick()
    [delivery] = notifier.deliveries(ADMIN, hook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "delivered",
        3,
        200,
    )
    ids = {headers["webhook-id"] for _, headers, _ in receiver.received}
    assert ids == {delivery["id"]}  # one message, three attempts: the receiver can de-duplicate
    # a receiver that never answers 2xx: failed after DEMO_WEBHOOK_MAX_ATTEMPTS (3)
    receiver.statuses = [500] * 5
    rig.create()
    rig.settle()
    for _ in range(5):
        notifier.tick()
        rig.clock.advance(20)
    failed = [d for d in notifier.deliveries(ADMIN, hook["id"]) if d["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == 3 and failed[0]["next_attempt_at"] is None
    # /metrics tells Prometheus (the DemoNotificationsFailing alert reads it)
    rig.orchestrator.accounts.bootstrap()
    scraped = call(create_app(rig.orchestrator), "GET", "/metrics").text
    assert 'demo_notification_deliveries{channel="webhook",status="failed"} 1.0' in scraped
    assert 'demo_notification_deliveries{channel="webhook",status="delivered"} 1.0' in scraped
    assert 'demo_notification_deliveries{channel="email",status="failed"} 0.0' in scraped


def test_expiry_reminders_at_each_lead_time_once_and_again_after_an_extension(
    rig: Rig, receiver: Receiver
) -> None:
    subscribe(rig, ADMIN, receiver.url("/exp"), ["expiring", "expired"], scope="global")
    instance_id = rig.create(duration_hours=1)
    rig.settle()
    expires = datetime.fromisoformat(rig.get(instance_id)["expires_at"])
    notifier = rig.orchestrator.notifier
    rig.clock.now = expires - timedelta(minutes=20)
    notifier.tick()
    assert receiver.at("/exp") == []
    rig.clock.now = expires - timedelta(minutes=14)
    notifier.tick()
    notifier.tick()
    [first] = receiver.at("/exp")
    assert first["type"] == "expiring"
    assert (first["data"]["minutes_left"], first["data"]["lead_minutes"]) == (14, 15)
    rig.clock.now = expires - timedelta(minutes=4)
    notifier.tick()
    assert [m["data"]["lead_minutes"] for m in receiver.at("/exp")] == [15, 5]
    rig.service.extend(ADMIN, instance_id, 1)  # a new expiry: its reminders are due again
    rig.clock.now = expires + timedelta(minutes=60 - 14)
    notifier.tick()
    assert [m["data"]["lead_minutes"] for m in receiver.at("/exp")] == [15, 5, 15]
    rig.clock.now = expires + timedelta(minutes=61)
    rig.settle()
    notifier.tick()
    assert receiver.at("/exp")[-1]["type"] == "expired"


def test_approval_events_reach_the_requester_and_the_approvers(
    rig: Rig, receiver: Receiver
) -> None:
    subscribe(rig, ADMIN, receiver.url("/approvers"), ["approval_requested"], scope="global")
    subscribe(rig, SAM, receiver.url("/sam"), ["approved", "rejected", "approval_requested"])
    long_one, _ = rig.service.create(SAM, CreateInstance(duration_hours=6))
    assert long_one["status"] == "pending_approval"
    other, _ = rig.service.create(SAM, CreateInstance(duration_hours=7))
    rig.orchestrator.notifier.tick()
    # deliveries go out in parallel: compare without order
    assert sorted(m["data"]["instance"]["id"] for m in receiver.at("/approvers")) == sorted(
        [long_one["id"], other["id"]]
    )
    rig.service.approve(ADMIN, long_one["id"])
    rig.service.reject(ADMIN, other["id"], "too long for a first call")
    rig.orchestrator.notifier.tick()
    assert sorted(m["type"] for m in receiver.at("/sam")) == [
        "approval_requested",
        "approval_requested",
        "approved",
        "rejected",
    ]
    by_type = {m["type"]: m["data"]["instance"]["id"] for m in receiver.at("/sam")}
    assert (by_type["approved"], by_type["rejected"]) == (long_one["id"], other["id"])


def test_two_replicas_reading_the_same_events_send_each_message_once(
    rig: Rig, receiver: Receiver
) -> None:
    subscribe(rig, ADMIN, receiver.url("/once"), ["ready"], scope="global")
    ctx = rig.orchestrator.ctx
    second = Notifier(ctx, WebhookSender(timeout=5, allow_private=True))
    try:
        for _ in range(3):
            rig.create()
        rig.settle()
        # both read the feed before either sends: each enqueues, the unique key keeps one
        rig.orchestrator.notifier.read_feed()
        with ctx.db.write() as session:  # the second replica starts from the same cursor
            from demo_orchestrator.store import webhooks as store

            store.move_cursor(session, 0)
        second.read_feed()
        threads = [threading.Thread(target=n.tick) for n in (rig.orchestrator.notifier, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(receiver.at("/once")) == 3
        assert len({h["webhook-id"] for _, h, _ in receiver.received}) == 3
    finally:
        second.stop()


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, receiver: Receiver) -> None:
    rig = Rig(tmp_path, clock=real_now_clock())
    try:
        rig.orchestrator.accounts.bootstrap()
        app = create_app(rig.orchestrator)
        for url in (
            "http://127.0.0.1:9/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://10.0.0.7/",
            "ftp://example.com/",
            "http://user:pw@example.com/",
        ):
            answer = call(app, "POST", "/api/v1/webhooks", {"url": url, "events": ["ready"]})
            assert answer.status_code == 422, (url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        # a name is resolved at each attempt: localhost is loopback, so nothing is sent
        made = call(
            app,
            "POST",
            "/api/v1/webhooks",
            {
                "url": f"http://localhost:{receiver.server.server_port}/n",
                "events": ["ready"],
                "scope": "global",
            },
        )
        assert made.status_code == 201, made.text
        rig.orchestrator.notifier.begin()
        rig.create()
        rig.settle()
        rig.orchestrator.notifier.tick()
        assert receiver.received == []
        [delivery] = rig.orchestrator.notifier.deliveries(ADMIN, made.json()["id"])
        assert "non-public" in delivery["last_error"]
    finally:
        rig.orchestrator.notifier.stop()
        rig.close()


def call(
    app: Any, method: str, path: str, body: Any = None, token: str = ADMIN_TOKEN
) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(
                method, path, json=body, headers={"authorization": f"Bearer {token}"}
            )

    return anyio.run(run)


def test_the_api_shows_the_secret_once_and_keeps_hooks_to_their_owner(
    rig: Rig, receiver: Receiver
) -> None:
    rig.orchestrator.accounts.bootstrap()
    app = create_app(rig.orchestrator)
    made = call(
        app, "POST", "/api/v1/webhooks", {"url": receiver.url("/h"), "events": ["ready", "failed"]}
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert (
        hook["secret"].startswith("whsec_") and hook["scope"] == "own" and hook["format"] == "json"
    )
    listed = call(app, "GET", "/api/v1/webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert hook["secret"] not in call(app, "GET", "/api/v1/webhooks").text
    for bad in (
        {"url": receiver.url("/h"), "events": []},
        {"url": receiver.url("/h"), "events": ["nope"]},
        {"url": receiver.url("/h"), "events": ["ready"], "secret": "plain-text-secret"},
        {"url": receiver.url("/h"), "events": ["ready"], "scope": "everyone"},
        {"url": "not a url at all", "events": ["ready"]},
    ):
        answer = call(app, "POST", "/api/v1/webhooks", bad)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"] == "application/problem+json"
    sam_hook = subscribe(rig, SAM, receiver.url("/sam"), ["ready"])
    # sam cannot see or delete the admin's hook, nor subscribe globally
    sam_token, _ = rig.orchestrator.accounts.create_token(
        user="sam", role="sales", name="t", actor=ADMIN
    )
    assert (
        call(app, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", token=sam_token).status_code
        == 404
    )
    assert call(app, "DELETE", f"/api/v1/webhooks/{hook['id']}", token=sam_token).status_code == 404
    assert [
        h["id"] for h in call(app, "GET", "/api/v1/webhooks", token=sam_token).json()["items"]
    ] == [sam_hook["id"]]
    global_try = {"url": receiver.url("/g"), "events": ["ready"], "scope": "global"}
    assert call(app, "POST", "/api/v1/webhooks", global_try, token=sam_token).status_code == 403
    assert (
        call(app, "GET", f"/api/v1/webhooks/{sam_hook['id']}/deliveries").status_code == 200
    )  # admins see all
    assert call(app, "DELETE", f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert call(app, "DELETE", f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert call(app, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404
    with pytest.raises(Exception, match="admins"):
        subscribe(rig, SAM, receiver.url("/g"), ["ready"], scope="global")
    with pytest.raises(Exception, match="viewers"):
        subscribe(rig, Principal("vic", "viewer"), receiver.url("/v"), ["ready"])


def test_a_hanging_receiver_delays_neither_provisioning_nor_other_deliveries(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(
        tmp_path,
        clock=real_now_clock(),
        webhook_allow_private_networks=True,
        webhook_timeout_seconds=30,
    )
    try:
        rig.orchestrator.notifier.begin()
        subscribe(rig, ADMIN, receiver.url("/hang"), ["ready"], scope="global")
        rig.create()
        rig.settle()
        notifier = rig.orchestrator.notifier
        sending = threading.Thread(target=notifier.tick)
        sending.start()
        while not receiver.received:  # the attempt is under way and the receiver holds it
            threading.Event().wait(0.01)
        second = rig.create()
        rig.settle()  # the engine makes a whole demo while the receiver still hangs
        assert rig.get(second)["status"] == "ready"
        assert sending.is_alive() and not receiver.hanging.is_set()
        receiver.hanging.set()
        sending.join(timeout=30)
        notifier.tick()
        assert len(receiver.received) == 2
    finally:
        rig.orchestrator.notifier.stop()
        rig.close()


def test_an_attempt_that_hangs_past_the_time_out_counts_as_failed(
    rig: Rig, receiver: Receiver
) -> None:
    hook = subscribe(rig, ADMIN, receiver.url("/hang"), ["ready"], scope="global")
    rig.create()
    rig.settle()
    notifier = rig.orchestrator.notifier
    notifier.tick()  # DEMO_WEBHOOK_TIMEOUT_SECONDS is 1 here
    [delivery] = notifier.deliveries(ADMIN, hook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == (
        "pending",
        1,
        "timed out",
    )
    receiver.hanging.set()
    rig.clock.advance(3)
    notifier.tick()
    assert notifier.deliveries(ADMIN, hook["id"])[0]["status"] == "delivered"
