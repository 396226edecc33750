"""Notification e-mails through a real SMTP server (aiosmtpd on loopback): the owner of a demo
hears of it, admins hear of approval requests, nothing carries a way in, and a server that is
down is retried like a webhook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.service import CreateInstance
from demo_orchestrator.store.models import UserRow
from tests.fakes.engine import ADMIN, FakeClock, Rig
from tests.fakes.receivers import Inbox, free_port, smtp_server

SAM = Principal("sam", "sales")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running


def make_rig(tmp_path: Path, port: int) -> Rig:
    clock = FakeClock()
    clock.now = datetime.now(UTC).replace(microsecond=0)
    rig = Rig(
        tmp_path,
        clock=clock,
        smtp_url=f"smtp://127.0.0.1:{port}",
        smtp_from="demos@acme.example",
        webhook_retry_base_seconds=2,
    )
    with rig.orchestrator.ctx.db.write() as session:
        for name, role, email in (
            ("admin", "admin", "ops@acme.example"),
            ("sam", "sales", "sam@acme.example"),
            ("pat", "sales", None),
        ):
            row = session.get(UserRow, name)
            if row is None:
                row = UserRow(name=name, role=role, created_at=clock.now)
                session.add(row)
            row.email = email
    rig.orchestrator.notifier.begin()
    return rig


def test_the_owner_gets_ready_and_admins_get_approval_requests_by_mail(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    rig = make_rig(tmp_path, port)
    try:
        mine, _ = rig.service.create(
            SAM, CreateInstance(duration_hours=1, prospect={"company": "Initech"})
        )
        rig.service.create(Principal("pat", "sales"), CreateInstance(duration_hours=1))
        waiting, _ = rig.service.create(SAM, CreateInstance(duration_hours=6))
        rig.settle()
        rig.orchestrator.notifier.tick()
        [ready] = [m for m in inbox.to("sam@acme.example") if "is ready" in m["Subject"]]
        assert ready["From"] == "demos@acme.example"
        assert mine["id"] in ready["Subject"] and "Initech" in ready["Subject"]
        body = ready.get_payload()
        assert isinstance(body, str)
        urls = rig.get(mine["id"])["urls"]
        assert urls and all(url in body for url in urls.values())  # the demo's links
        assert "token" not in body and "login" not in body.lower().replace("sign in from", "")
        [request] = inbox.to("ops@acme.example")
        assert "waits for approval" in request["Subject"] and waiting["id"] in request["Subject"]
        # pat has no address: pat's demo mails nobody; sam's approval request is not mailed to sam
        assert all("pat" not in rcpt for rcpt, _ in inbox.messages)
        assert not [m for m in inbox.to("sam@acme.example") if "approval" in m["Subject"]]
        deliveries = rig.orchestrator.notifier.mail_deliveries(SAM)
        assert {d["status"] for d in deliveries} == {"delivered"}
    finally:
        rig.orchestrator.notifier.stop()
        rig.close()


def test_an_smtp_server_that_is_down_is_retried_then_delivers(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    rig = make_rig(tmp_path, free_port())  # nothing listens there
    try:
        rig.create()
        rig.settle()
        notifier = rig.orchestrator.notifier
        notifier.tick()
        [attempt] = notifier.mail_deliveries(ADMIN)
        assert attempt["status"] == "pending" and attempt["attempts"] == 1
        assert "ConnectionRefusedError" in attempt["last_error"]
        assert "smtp://" not in attempt["last_error"]
        notifier.mailer.port = port  # type: ignore[union-attr]  # the server is back
        rig.clock.advance(2.5)
        notifier.tick()
        assert [d["status"] for d in notifier.mail_deliveries(ADMIN)] == ["delivered"]
        assert len(inbox.to("ops@acme.example")) == 1
    finally:
        rig.orchestrator.notifier.stop()
        rig.close()
