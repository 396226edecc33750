"""Which change of the feed is which notification, and what a mail says (pure functions)."""

from __future__ import annotations

import pytest

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.domain.notifications import (
    EVENTS,
    check_events,
    event_of,
    mail_text,
    new_secret,
    secret_bytes,
)
from demo_orchestrator.engine.notifications import parse_leads


@pytest.mark.parametrize(
    ("kind", "data", "event"),
    [
        ("status", {"status": "ready", "from": "provisioning"}, "ready"),
        ("status", {"status": "ready"}, "ready"),  # a warm-pool claim: ready at once
        ("status", {"status": "ready", "from": "sleeping"}, None),  # a wake is not news
        ("status", {"status": "failed", "from": "provisioning"}, "failed"),
        ("status", {"status": "pending_approval"}, "approval_requested"),
        ("status", {"status": "pending", "from": "pending_approval"}, "approved"),
        ("status", {"status": "pending"}, None),  # an ordinary create
        ("status", {"status": "rejected", "from": "pending_approval"}, "rejected"),
        ("status", {"status": "deleting", "from": "ready"}, None),
        ("expired", {"expires_at": "2026-11-27T12:00:00Z"}, "expired"),
        ("health", {"health": {"state": "degraded", "reason": "hung"}}, "degraded"),
        ("health", {"health": {"state": "ok"}}, None),
        ("step", {"step": "deploy", "status": "done"}, None),
        ("starting", {}, "starting"),
    ],
)
def test_each_change_maps_to_its_event(
    kind: str, data: dict[str, object], event: str | None
) -> None:
    assert event_of(kind, data) == event


def test_subscriptions_name_known_events_and_secrets_follow_the_specification() -> None:
    assert check_events(["ready", "ready", "failed"]) == ["ready", "failed"]
    for bad in ([], ["ready", "nope"]):
        with pytest.raises(BadRequest):
            check_events(bad)
    assert len(secret_bytes(new_secret())) == 32
    for bad_secret in ("plain", "whsec_!!!", "whsec_" + "QUJD"):  # not base64 / 3 bytes
        with pytest.raises(BadRequest):
            secret_bytes(bad_secret)
    assert set(EVENTS) >= {"ready", "failed", "expiring", "expired", "degraded"}


def test_lead_times_are_sorted_largest_first() -> None:
    assert parse_leads("5,15, 15") == [15, 5]
    assert parse_leads("") == []


def test_a_mail_names_the_demo_and_its_links_but_no_way_in() -> None:
    instance = {
        "id": "demo-ab12cd",
        "scenario": "agency",
        "owner": "sam",
        "prospect": {"company": "Initech"},
        "urls": {"portal": "http://demo-ab12cd.portal.localhost:8000"},
        "personas": [{"name": "Priya Nair", "login_url": "http://x/auth/login?token=SECRET"}],
        "expires_at": "2026-11-27T14:00:00Z",
    }
    subject, body = mail_text("expiring", instance, {"minutes_left": 14})
    assert "demo-ab12cd" in subject and "Initech" in subject and "14 min" in subject
    assert "http://demo-ab12cd.portal.localhost:8000" in body and "Priya Nair" in body
    assert "SECRET" not in body and "token" not in body
