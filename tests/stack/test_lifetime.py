"""The end of a demo, the stack's side (issue 15, item 5): a running stack reads its expiry,
status and prospect from the orchestrator's `/self` endpoint (contract 4) with its own token, in
the background, and shows a banner from the first warning lead time; nothing when nothing is
known. The orchestrator here is a small real HTTP server keeping contract 4."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from splits_stack.devserver import StackProcess, free_port
from splits_stack.services.identity import login_token
from splits_stack.services.lifetime import Lifetime, LifetimeWatch
from splits_stack.web.gateway import RELOAD_PATH
from tests.stack.conftest import as_rep, sign_in

TOKEN = "activity-token-for-the-test-0123456789"
PREFIX = "/api/v1/demo-instances/"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeOrchestrator:
    """Contract 4's `GET /api/v1/demo-instances/{id}/self`, one answer per demo id (set by the
    test); 401 problem+json on a wrong token, 404 for an unknown id. Keeps what it was asked."""

    def __init__(self) -> None:
        self.demos: dict[str, dict[str, Any]] = {}
        self.asked: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.asked.append((self.path, self.headers.get("authorization", "")))
                instance = self.path.removeprefix(PREFIX).removesuffix("/self")
                if not (self.path.startswith(PREFIX) and self.path.endswith("/self")):
                    self._answer(404, {"title": "Not Found", "status": 404, "detail": "no route"})
                elif self.headers.get("authorization") != f"Bearer {TOKEN}":
                    self._answer(
                        401, {"title": "Unauthorized", "status": 401, "detail": "wrong token"}
                    )
                elif instance not in fake.demos:
                    self._answer(404, {"title": "Not Found", "status": 404, "detail": instance})
                else:
                    self._answer(200, fake.demos[instance])

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                kind = "application/json" if status == 200 else "application/problem+json"
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def demo(
        self,
        *,
        minutes_left: float | None,
        status: str = "ready",
        clock_ahead: timedelta = timedelta(0),
        company: str = "Globex",
    ) -> str:
        """A new demo id answering as told; `clock_ahead`: the orchestrator's clock runs ahead."""
        instance = f"demo-{uuid.uuid4().hex[:6]}"
        now = datetime.now(UTC) + clock_ahead
        self.demos[instance] = {
            "id": instance,
            "status": status,
            "expires_at": iso(now + timedelta(minutes=minutes_left))
            if minutes_left is not None
            else None,
            "warning_minutes": [15, 5],
            "prospect": {"company": company, "industry": "Logistics"},
            "contact": {"name": "Dana Sales", "email": "dana@vendor.example"},
            "now": iso(now),
        }
        return instance

    def env(self, instance: str, token: str = TOKEN) -> dict[str, str]:
        return {
            "DEMO_INSTANCE_ID": instance,
            "DEMO_ORCHESTRATOR_URL": self.url,
            "DEMO_ACTIVITY_TOKEN": token,
        }


@pytest.fixture(scope="module")
def orchestrator() -> Iterator[FakeOrchestrator]:
    fake = FakeOrchestrator()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def known(http: httpx.Client, attempts: int = 50) -> dict[str, Any]:
    """The lifetime endpoint once the stack's read at start has landed (it runs in the
    background, so the first answers may still know nothing)."""
    answer: dict[str, Any] = {}
    for _ in range(attempts):
        response = http.get("/__demo/lifetime")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        answer = response.json()
        if answer["status"] is not None:
            return answer
    raise AssertionError(f"the stack never learnt its lifetime: {answer}")


def banner(html: str) -> str:
    start = html.index("data-demo-ending")
    return html[start : html.index("</div>", start)]


def test_a_standalone_stack_knows_nothing_and_shows_no_banner(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "priya.nair@client.example") as http:
        assert http.get("/__demo/lifetime").json() == {
            "status": None,
            "expires_at": None,
            "seconds_left": None,
            "warn_seconds": None,
            "warn": False,
            "ended": False,
            "prospect": None,
            "contact": None,
        }
        page = http.get("/")
        assert page.status_code == 200
        assert " hidden>" in banner(page.text) and "/static/live.js" in page.text


def test_the_lifetime_endpoint_needs_a_session(stacks: Any, orchestrator: FakeOrchestrator) -> None:
    stack = stacks("agency", **orchestrator.env(orchestrator.demo(minutes_left=10)))
    with httpx.Client(base_url=stack.base, headers={"Host": "x.portal.localhost"}) as anonymous:
        refused = anonymous.get("/__demo/lifetime")
        assert refused.status_code in (303, 401) and "expires_at" not in refused.text


def test_near_expiry_the_banner_shows_the_time_left_in_every_session(
    stacks: Any, orchestrator: FakeOrchestrator
) -> None:
    instance = orchestrator.demo(minutes_left=10)
    stack = stacks("agency", **orchestrator.env(instance))
    with sign_in(stack, "priya.nair@client.example") as portal:
        answer = known(portal)
        assert answer["status"] == "ready" and answer["warn"] and not answer["ended"]
        assert 9 * 60 <= answer["seconds_left"] <= 10 * 60
        assert answer["warn_seconds"] == 15 * 60  # the largest lead time
        assert answer["expires_at"] == orchestrator.demos[instance]["expires_at"]
        assert answer["contact"] == {"name": "Dana Sales", "email": "dana@vendor.example"}
        shown = banner(portal.get("/").text)
        assert " hidden" not in shown and "This demo ends in" in shown
        assert "10 min" in shown or "9 min" in shown
    with sign_in(stack, "sam.carter@mail.example", "candidate") as candidate:
        shown = banner(candidate.get("/applications").text)
        assert " hidden" not in shown and "This demo ends in" in shown
    with as_rep(stack) as rep:
        assert known(rep)["warn"]
    # the stack asked with its own token, on contract 4's path, and never logged the token
    assert (f"{PREFIX}{instance}/self", f"Bearer {TOKEN}") in orchestrator.asked
    assert stack.log_path is not None and TOKEN not in stack.log_path.read_text()


def test_far_from_expiry_there_is_no_banner_yet(
    stacks: Any, orchestrator: FakeOrchestrator
) -> None:
    stack = stacks("agency", **orchestrator.env(orchestrator.demo(minutes_left=90)))
    with sign_in(stack, "priya.nair@client.example") as http:
        answer = known(http)
        assert not answer["warn"] and not answer["ended"] and answer["seconds_left"] > 80 * 60
        shown = banner(http.get("/").text)
        assert " hidden" in shown and 'data-warn-seconds="900"' in shown  # the script counts on


def test_an_ended_demo_says_so(stacks: Any, orchestrator: FakeOrchestrator) -> None:
    stack = stacks(
        "agency", **orchestrator.env(orchestrator.demo(minutes_left=-1, status="expired"))
    )
    with sign_in(stack, "sam.carter@mail.example", "candidate") as http:
        answer = known(http)
        assert answer["ended"] and answer["warn"] and answer["seconds_left"] == 0
        shown = banner(http.get("/applications").text)
        assert " hidden" not in shown and "This demo has ended" in shown
        assert 'data-ended="true"' in shown


def test_the_countdown_follows_the_orchestrators_clock(
    stacks: Any, orchestrator: FakeOrchestrator
) -> None:
    """Expiry is the orchestrator's: a stack whose clock is an hour behind still has 10 min."""
    instance = orchestrator.demo(minutes_left=10, clock_ahead=timedelta(hours=1))
    stack = stacks("agency", **orchestrator.env(instance))
    with sign_in(stack, "priya.nair@client.example") as http:
        answer = known(http)
        assert 9 * 60 <= answer["seconds_left"] <= 10 * 60 and answer["warn"]


def test_a_wrong_token_or_an_absent_orchestrator_leaves_the_demo_working(
    stacks: Any, orchestrator: FakeOrchestrator
) -> None:
    wrong = stacks("agency", **orchestrator.env(orchestrator.demo(minutes_left=3), "wrong-token"))
    absent = stacks(
        "agency",
        DEMO_ORCHESTRATOR_URL=f"http://127.0.0.1:{free_port()}",
        DEMO_ACTIVITY_TOKEN=TOKEN,
    )
    for stack in (wrong, absent):
        with sign_in(stack, "priya.nair@client.example") as http:
            assert http.get("/__demo/lifetime").json()["expires_at"] is None
            page = http.get("/")
            assert page.status_code == 200 and " hidden" in banner(page.text)
        assert stack.log_path is not None and TOKEN not in stack.log_path.read_text()
    assert any(auth == "Bearer wrong-token" for _, auth in orchestrator.asked)


def test_a_reload_reads_the_orchestrator_again(
    templates: dict[str, Path], tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    """The warm pool's personalize step reloads the stack: the new expiry and prospect show at
    once, without waiting for the 30 s between reads."""
    instance = orchestrator.demo(minutes_left=120, company="Globex")
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["agency"], database)
    path = tmp_path / "settings.json"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_RELOAD_TOKEN": "the-reload-token",
        "DEMO_SETTINGS_FILE": str(path),
        "DEMO_LOGIN_SECRET": "test-secret",
        **orchestrator.env(instance),
    }
    path.write_text(json.dumps({"version": "v1", "env": env}))
    stack = StackProcess(
        env["DATABASE_URL"], env={"DEMO_SETTINGS_FILE": str(path)}, log_path=tmp_path / "log"
    ).start()
    host = {"Host": f"{instance}.portal.localhost"}
    email = "priya.nair@client.example"
    try:
        with httpx.Client(base_url=stack.base, headers=host, timeout=10) as http:
            signed = http.get(
                "/auth/demo-login",
                params={"email": email, "token": login_token("test-secret", email)},
            )
            assert signed.status_code == 303
            first = known(http)
            assert not first["warn"] and first["prospect"]["company"] == "Globex"
            orchestrator.demos[instance] = {
                **orchestrator.demos[instance],
                "expires_at": iso(datetime.now(UTC) + timedelta(minutes=4)),
                "prospect": {"company": "Initech", "industry": "Software"},
                "now": iso(datetime.now(UTC)),
            }
            path.write_text(json.dumps({"version": "v2", "env": env}))
            reloaded = http.post(RELOAD_PATH, headers={"Authorization": "Bearer the-reload-token"})
            assert reloaded.status_code == 200 and reloaded.json()["version"] == "v2"
            answer: dict[str, Any] = {}
            for _ in range(50):
                answer = http.get("/__demo/lifetime").json()
                if answer["warn"]:
                    break
            assert answer["warn"] and answer["seconds_left"] <= 4 * 60
            assert answer["prospect"] == {"company": "Initech", "industry": "Software"}
        assert TOKEN not in (tmp_path / "log").read_text()
    finally:
        stack.stop()


# ---- the watch itself, on a clock the test turns ------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_reads_at_most_every_30_seconds_while_pages_are_viewed() -> None:
    clock = Clock()
    reads: list[float] = []

    def fetch() -> dict[str, Any]:
        reads.append(clock.now)
        at = datetime.fromtimestamp(clock.now, UTC)
        return {"status": "ready", "expires_at": iso(at + timedelta(minutes=20)), "now": iso(at)}

    watch = LifetimeWatch(fetch, clock=clock)
    watch.start()
    assert watch.fresh()["seconds_left"] == 20 * 60  # read at start
    for _ in range(5):  # page views within the 30 s: no new read
        clock.now += 5
        watch.touch()
        watch.fresh()
    assert len(reads) == 1
    clock.now += 5  # 30 s after the first read
    assert watch.fresh()["seconds_left"] == 20 * 60
    assert len(reads) == 2
    watch.start()  # a reload reads again whatever the interval
    watch.fresh()
    assert len(reads) == 3


def test_the_watch_keeps_the_last_answer_when_the_orchestrator_goes_away() -> None:
    clock = Clock()
    answers: list[dict[str, Any] | Exception] = []

    def fetch() -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    watch = LifetimeWatch(fetch, clock=clock)
    answers.append(RuntimeError("orchestrator not up yet"))
    assert watch.fresh()["expires_at"] is None
    assert watch.banner() is None  # nothing known: no banner
    now = datetime.fromtimestamp(clock.now, UTC)
    answers.append(
        {"status": "ready", "expires_at": iso(now + timedelta(minutes=16)), "now": iso(now)}
    )
    watch.start()
    assert watch.fresh()["warn"] is False
    answers.append(RuntimeError("orchestrator unreachable"))
    clock.now += 90
    shown = watch.fresh()
    assert shown["warn"] is True and shown["seconds_left"] == 16 * 60 - 90
    clock.now += 16 * 60
    assert watch.view()["ended"] is True  # the time is up even with nobody to ask


def test_lead_times_and_statuses() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    answer = {
        "status": "deleted",
        "expires_at": iso(at + timedelta(hours=1)),
        "warning_minutes": [5, 30],
        "now": iso(at),
    }
    made = Lifetime.from_answer(answer, at.timestamp())
    assert made.warn_seconds == 30 * 60 and made.view(at.timestamp())["ended"] is True
    made = Lifetime.from_answer({**answer, "status": "ready"}, at.timestamp())
    assert made.view(at.timestamp())["warn"] is False
    assert made.view(at.timestamp() + 31 * 60)["warn"] is True
    no_expiry = Lifetime.from_answer({"status": "ready", "expires_at": None}, at.timestamp())
    assert no_expiry.view(at.timestamp())["seconds_left"] is None
    assert no_expiry.warn_seconds == 15 * 60  # DEMO_EXPIRY_WARNING_MINUTES' default
