"""The demo's own channel to the orchestrator, on a real `democtl serve` with real demo processes:
`GET .../{id}/self` answers only the token the orchestrator put in that demo's environment (not
another demo's, not a user's) with the demo's status, expiry, warning lead times, prospect and the
owner to contact, never a secret; a deleted or expired demo answers its end; an unknown id is a
404. And every demo gets its scenario's whole tour as `DEMO_TOUR` in its environment (tiny) or
its settings file (the reference stack, which reloads in place)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo_orchestrator.store.crypto import SecretBox
from tests.conftest import Server

OWNER_EMAIL = "morgan.owner@sales.example"
PROSPECT = {"company": "Acme Robotics", "industry": "Robotics", "contact_name": "Lee Buyer"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    made = Server(
        tmp_path_factory.mktemp("self"),
        DEMO_EXPIRY_WARNING_MINUTES="5,15,30",
        DEMO_ACTIVITY_RATE_PER_DEMO="1000/minute",
    )
    made.start()
    answer = made.http.put("/api/v1/users/admin/email", json={"email": OWNER_EMAIL})
    assert answer.status_code == 200, answer.text
    yield made
    made.close()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _demo_env(server: Server, instance_id: str) -> dict[str, str]:
    server.wait_status(instance_id, "ready")
    pid = next(p for p, i in server.demo_processes().items() if i == instance_id)
    return _environ(pid)


def _self(server: Server, instance_id: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(
        f"{server.url}/api/v1/demo-instances/{instance_id}/self",
        headers=headers,
        timeout=10,
        trust_env=False,
    )


def _parse(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def test_self_answers_the_demos_own_token_with_what_its_pages_show(server: Server) -> None:
    made = server.create(scenario="agency", prospect=PROSPECT, notes="secret pricing notes")
    first = made["id"]
    second = server.create(scenario="agency")["id"]
    env = _demo_env(server, first)
    token = env["DEMO_ACTIVITY_TOKEN"]
    assert env["DEMO_ORCHESTRATOR_URL"] == server.url  # where the stack asks
    other = _demo_env(server, second)["DEMO_ACTIVITY_TOKEN"]

    answer = _self(server, first, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "id",
        "status",
        "expires_at",
        "warning_minutes",
        "prospect",
        "contact",
        "now",
    }
    assert body["id"] == first and body["status"] == "ready"
    assert body["expires_at"] == server.get(first)["expires_at"]
    assert body["warning_minutes"] == [30, 15, 5]  # the earliest lead time first
    assert body["prospect"] == {"company": "Acme Robotics", "industry": "Robotics"}
    assert body["contact"] == {"name": "admin", "email": OWNER_EMAIL}
    assert abs((_parse(body["now"]) - datetime.now(UTC)).total_seconds()) < 300
    # nothing beyond that: no sign-in secret or link, no notes, no CRM contact
    for leak in (env["DEMO_LOGIN_SECRET"], token, "token=", "secret pricing", "Lee Buyer"):
        assert leak not in answer.text

    # the second demo has no prospect; the rep changes the expiry, the demo learns it
    assert _self(server, second, other).json()["prospect"] is None
    extended = server.http.post(f"/api/v1/demo-instances/{first}/extend", json={"hours": 1})
    assert extended.status_code == 200, extended.text
    again = _self(server, first, token).json()
    assert again["expires_at"] == extended.json()["expires_at"] != body["expires_at"]

    for wrong in (None, "not-the-token", other, server.token):
        refused = _self(server, first, wrong)
        assert refused.status_code == (401 if wrong is None else 403), (wrong, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "DEMO_ACTIVITY_TOKEN" in refused.json()["detail"]
        assert token not in refused.text and "Acme" not in refused.text
    # a user's token is no way in either, not even the admin's on the users' header
    assert server.http.get(f"/api/v1/demo-instances/{first}/self").status_code == 403


def test_an_unknown_id_is_a_404_and_an_ended_demo_says_how_it_ended(server: Server) -> None:
    box = SecretBox((server.home / "secret.key").read_bytes().strip())
    unknown = "demo-zz9zz9"
    missing = _self(server, unknown, box.mac(f"activity\x00{unknown}"))
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert unknown in missing.json()["detail"]

    deleted = server.create(scenario="agency", prospect=PROSPECT)["id"]
    token = _demo_env(server, deleted)["DEMO_ACTIVITY_TOKEN"]
    assert server.http.delete(f"/api/v1/demo-instances/{deleted}").status_code == 202
    server.wait_status(deleted, "deleted")
    gone = _self(server, deleted, token)
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "deleted"
    assert gone.json()["contact"] == {"name": "admin", "email": OWNER_EMAIL}
    assert gone.json()["prospect"]["company"] == "Acme Robotics"

    short = server.create(scenario="agency", duration_hours=0.001)["id"]  # 3.6 s
    short_token = _demo_env(server, short)["DEMO_ACTIVITY_TOKEN"]
    server.wait_status(short, "deleted", timeout=60)
    ended = _self(server, short, short_token)
    assert ended.status_code == 200 and ended.json()["status"] == "expired", ended.text


def test_every_demo_gets_its_whole_tour_in_its_environment(server: Server) -> None:
    demo = server.create(scenario="agency")["id"]
    tour = json.loads(_demo_env(server, demo)["DEMO_TOUR"])
    assert tour == [
        {
            "step": 1,
            "persona": "Riley Recruiter",
            "email": "riley@tiny.test",
            "route": "portal",
            "page": "/",
            "action": "open the dashboard",
            "talking_point": "everything at a glance",
            "expect": None,
        }
    ]
    bare = server.create(scenario="startup")["id"]  # no tour: an empty list, the panel is absent
    assert json.loads(_demo_env(server, bare)["DEMO_TOUR"]) == []


def _settings_file(server: Server, demo: str, service: str) -> Path:
    """Where the local runtime wrote the service's settings: in the demo's sandbox folder when
    it runs under a uid of its own (as root, the default), else under DEMO_HOME/runtime."""
    lease = server.home / "sandbox" / f"{demo}.json"
    if lease.exists():
        uid = json.loads(lease.read_text())["uid"]
        root = Path(os.environ.get("DEMO_SANDBOX_ROOT", "/var/lib/demo-orchestrator/sandboxes"))
        return root / str(uid) / "settings" / f"{service}.json"
    return server.home / "runtime" / demo / "settings" / f"{service}.json"


@pytest.fixture
def splits(make_server: Any, tmp_path: Path) -> Server:
    made: Server = make_server(
        tmp_path / "home",
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
    )
    return made.start()


def test_the_reference_stack_reads_the_tour_from_its_settings_file(splits: Server) -> None:
    demo = splits.create(scenario="agency", prospect={"company": "Acme Robotics"})["id"]
    found = splits.wait_status(demo, "ready", "failed", timeout=90)
    assert found["status"] == "ready", found
    env = json.loads(_settings_file(splits, demo, "app").read_text())["env"]
    tour = json.loads(env["DEMO_TOUR"])
    personas = {p["name"]: p for p in found["personas"]}
    assert [s["step"] for s in tour] == list(range(1, len(tour) + 1)) and len(tour) >= 5
    for step in tour:
        # The address the stack signs the persona in by: the blueprint's, the one in the
        # persona's link (the view shows the prospect's people at the prospect's domain).
        signs_in_as = parse_qs(urlsplit(personas[step["persona"]]["login_url"]).query)["email"]
        assert [step["email"]] == signs_in_as
        assert step["talking_point"] and step["page"].startswith("/")
        assert step["route"] in found["urls"]
    sam = next(s for s in tour if s["persona"] == "Sam Carter")
    assert sam["route"] == "candidate"
    assert "DEMO_SHARE_TOUR" not in env  # the prospect's cut comes only with a guided share
