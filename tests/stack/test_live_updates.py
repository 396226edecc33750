"""Stage changes pushed live to the other personas' open pages (issue 15, item 4): server-sent
events at `/__demo/events`, scoped to what each viewer may see, in-process and through RabbitMQ
(where another process of the same demo made the change), ended cleanly by a reload, and
streamed through the orchestrator's host router."""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from splits_stack.devserver import StackProcess
from splits_stack.services.events import LiveHub
from splits_stack.services.identity import login_token
from splits_stack.web.gateway import RELOAD_PATH
from tests.services import RABBITMQ_URL
from tests.stack.conftest import as_rep

MOVABLE = ("applied", "screening", "interview", "offer")
WAIT_S = 15.0  # how long a test waits for an event before it fails (not a timed assertion)


class EventStream:
    """`GET /__demo/events` read on a thread of its own; events land in a queue."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.ended = threading.Event()
        self.error: Exception | None = None
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with self.http.stream(
                "GET", "/__demo/events", timeout=httpx.Timeout(10, read=None)
            ) as response:
                self._response = response
                self.status = response.status_code
                self.headers = dict(response.headers)
                name, data = "message", ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        name = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        data += line.partition(":")[2].strip()
                    elif line == "":
                        if data:
                            self.events.put((name, json.loads(data)))
                        name, data = "message", ""
        except Exception as exc:  # noqa: BLE001 - hung up by the test from its own thread
            self.error = exc
        finally:
            self.ended.set()

    def next(self, name: str = "stage") -> dict[str, Any]:
        """The next event called `name` (others before it are skipped)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            left = deadline - time.monotonic()
            try:
                got, data = self.events.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no {name!r} event arrived") from None
            if got == name:
                return data

    def close(self) -> None:
        """Hang up as a browser leaving the page does: shut the socket the reader waits on."""
        if self._response is not None:
            sock = self._response.extensions["network_stream"].get_extra_info("socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already gone
        self._thread.join(5)


@contextmanager
def persona(
    base: str, host: str, email: str, secret: str = "test-secret"
) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"Host": host}, timeout=10) as http:
        answer = http.get(
            "/auth/demo-login", params={"email": email, "token": login_token(secret, email)}
        )
        assert answer.status_code == 303, answer.text
        yield http


@contextmanager
def listening(http: httpx.Client) -> Iterator[EventStream]:
    stream = EventStream(http)
    try:
        stream.next("hello")  # subscribed: what happens from now on reaches it
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        yield stream
    finally:
        stream.close()


def move(http: httpx.Client, app: dict[str, Any]) -> str:
    to = "screening" if app["stage"] != "screening" else "interview"
    answer = http.post(f"/applications/{app['id']}/move", data={"stage": to})
    assert answer.status_code in (200, 303), answer.text
    return to


class Demo:
    """Who is who in a running demo, read through the rep's session (the whole demo)."""

    def __init__(self, rep: httpx.Client) -> None:
        self.users = rep.get("/api/users", params={"limit": 500}).json()["items"]
        self.apps = rep.get("/api/applications", params={"limit": 500}).json()["items"]
        self.jobs = {
            j["id"]: j for j in rep.get("/api/jobs", params={"limit": 500}).json()["items"]
        }

    def candidates_with_movable_apps(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        found = []
        for user in self.users:
            if user["role"] != "candidate":
                continue
            mine = [
                a
                for a in self.apps
                if a["candidate_id"] == user["candidate_id"] and a["stage"] in MOVABLE
            ]
            if mine:
                found.append((user, mine[0]))
        return found

    def company_of(self, app: dict[str, Any]) -> int:
        return int(self.jobs[app["job_id"]]["company_id"])

    def admin_of(self, company_id: int) -> dict[str, Any] | None:
        return next(
            (
                u
                for u in self.users
                if u["role"] in ("company_admin", "founder") and u["company_id"] == company_id
            ),
            None,
        )


def test_a_stage_change_reaches_the_candidates_page_and_nobody_elses(stacks: Any) -> None:
    stack = stacks("agency", DEMO_INSTANCE_ID="demo-live01")
    portal, candidate = "demo-live01.portal.localhost", "demo-live01.candidate.localhost"
    with as_rep(stack) as rep:
        demo = Demo(rep)
    pairs = demo.candidates_with_movable_apps()
    (alice, alice_app), (bob, bob_app) = next(
        (a, b)
        for a in pairs
        for b in pairs
        if a[0]["id"] != b[0]["id"] and demo.admin_of(demo.company_of(b[1])) is not None
    )
    admin = demo.admin_of(demo.company_of(alice_app))
    assert admin is not None, "the job's company has an admin persona"
    outsider = next(
        u
        for u in demo.users
        if u["role"] == "company_admin"
        and u["company_id"] not in (demo.company_of(alice_app), demo.company_of(bob_app))
    )
    outsider_app = next(
        a
        for a in demo.apps
        if demo.company_of(a) == outsider["company_id"]
        and a["stage"] in MOVABLE
        and a["id"] not in (alice_app["id"], bob_app["id"])
    )

    with (
        persona(stack.base, candidate, alice["email"]) as alice_web,
        persona(stack.base, candidate, bob["email"]) as bob_web,
        persona(stack.base, portal, admin["email"]) as admin_web,
        persona(stack.base, portal, outsider["email"]) as outsider_web,
        listening(alice_web) as alice_stream,
        listening(bob_web) as bob_stream,
        listening(outsider_web) as outsider_stream,
        listening(admin_web) as admin_stream,
    ):
        stage = move(admin_web, alice_app)
        seen = alice_stream.next()
        assert seen["application_id"] == alice_app["id"] and seen["stage"] == stage
        assert seen["from_stage"] == alice_app["stage"] and seen["stage_label"] == stage.title()
        assert seen["job_id"] == alice_app["job_id"]
        assert "@" not in json.dumps(seen), "no e-mail address travels to a page"
        assert admin_stream.next()["application_id"] == alice_app["id"]  # their company's job

        # The next change each of the others sees is their own: Alice's went to nobody else.
        bob_admin = demo.admin_of(demo.company_of(bob_app))
        assert bob_admin is not None
        with persona(stack.base, portal, bob_admin["email"]) as bob_admin_web:
            move(bob_admin_web, bob_app)
        assert bob_stream.next()["application_id"] == bob_app["id"]
        move(outsider_web, outsider_app)
        assert outsider_stream.next()["application_id"] == outsider_app["id"]


def test_the_rep_sees_every_change(stacks: Any) -> None:
    stack = stacks("agency", DEMO_INSTANCE_ID="demo-live02")
    with as_rep(stack) as rep, listening(rep) as stream:
        demo = Demo(rep)
        app = next(a for a in demo.apps if a["stage"] in MOVABLE)
        admin = demo.admin_of(demo.company_of(app))
        assert admin is not None
        with persona(stack.base, "demo-live02.portal.localhost", admin["email"]) as web:
            stage = move(web, app)
        seen = stream.next()
        assert (seen["application_id"], seen["stage"]) == (app["id"], stage)


def test_the_event_stream_needs_a_session(stacks: Any) -> None:
    stack = stacks("agency", DEMO_INSTANCE_ID="demo-live02")
    with httpx.Client(base_url=stack.base, headers={"Host": "x.candidate.localhost"}) as anonymous:
        refused = anonymous.get("/__demo/events")
        assert refused.status_code in (303, 401)
        assert not refused.headers.get("content-type", "").startswith("text/event-stream")


@pytest.mark.rabbitmq
def test_through_rabbitmq_a_change_made_by_another_process_reaches_the_page(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """Two processes of one demo on one database and one broker: the admin's move on the first
    reaches the candidate's stream on the second, which only the broker can carry."""
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["startup"], database)
    instance = f"demo-{uuid.uuid4().hex[:6]}"
    env = {
        "AMQP_URL": RABBITMQ_URL,
        "DEMO_INSTANCE_ID": instance,
        "DEMO_LOGIN_SECRET": "test-secret",
    }
    url = f"sqlite:///{database}"
    first = StackProcess(url, env=env, log_path=tmp_path / "first.log").start()
    second = StackProcess(url, env=env, log_path=tmp_path / "second.log").start()
    try:
        with httpx.Client(
            base_url=first.base, headers={"Host": f"{instance}.portal.localhost"}
        ) as h:
            from splits_stack.services.identity import rep_token

            assert h.get("/auth/rep-login", params={"token": rep_token("test-secret", instance)})
            demo = Demo(h)
        user, app = demo.candidates_with_movable_apps()[0]
        admin = demo.admin_of(demo.company_of(app))
        assert admin is not None
        with (
            persona(second.base, f"{instance}.candidate.localhost", user["email"]) as web,
            listening(web) as stream,
            persona(first.base, f"{instance}.portal.localhost", admin["email"]) as admin_web,
        ):
            stage = move(admin_web, app)
            seen = stream.next()
            assert (seen["application_id"], seen["stage"]) == (app["id"], stage)
    finally:
        first.stop()
        second.stop()


def test_a_reload_ends_the_streams_cleanly_and_new_ones_follow_the_new_stack(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["agency"], database)
    path = tmp_path / "settings.json"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_RELOAD_TOKEN": "the-reload-token",
        "DEMO_SETTINGS_FILE": str(path),
        "DEMO_LOGIN_SECRET": "test-secret",
        "DEMO_INSTANCE_ID": "demo-live03",
    }
    path.write_text(json.dumps({"version": "v1", "env": env}))
    stack = StackProcess(env["DATABASE_URL"], env={"DEMO_SETTINGS_FILE": str(path)}).start()
    portal = "demo-live03.portal.localhost"
    try:
        with as_rep_of(stack.base, portal, "demo-live03") as rep:
            demo = Demo(rep)
            with listening(rep) as stream:
                path.write_text(json.dumps({"version": "v2", "env": env}))
                answer = rep.post(RELOAD_PATH, headers={"Authorization": "Bearer the-reload-token"})
                assert answer.status_code == 200
                stream.next("bye")
                assert stream.ended.wait(WAIT_S), "the stream did not end with the old stack"
            app = next(a for a in demo.apps if a["stage"] in MOVABLE)
            admin = demo.admin_of(demo.company_of(app))
            assert admin is not None
            with listening(rep) as stream, persona(stack.base, portal, admin["email"]) as web:
                stage = move(web, app)
                assert stream.next()["stage"] == stage
    finally:
        stack.stop()


@contextmanager
def as_rep_of(base: str, host: str, instance: str) -> Iterator[httpx.Client]:
    from splits_stack.services.identity import rep_token

    with httpx.Client(base_url=base, headers={"Host": host}, timeout=10) as http:
        answer = http.get("/auth/rep-login", params={"token": rep_token("test-secret", instance)})
        assert answer.status_code == 303
        yield http


# ---- through the orchestrator's router ------------------------------------------------------


class ServerThread:
    """uvicorn serving `app` on a free loopback port, in its own thread and event loop."""

    def __init__(self, app: ASGIApp, router: Any = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_level="warning", proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.router = router
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        await self.server.serve(sockets=[self.sock])
        if self.router is not None:
            await self.router.aclose()

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "router did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def test_the_stream_works_through_the_orchestrators_router(stacks: Any) -> None:
    from demo_orchestrator.router import HostRouter, RouteDecision, Upstream

    stack = stacks("agency", DEMO_INSTANCE_ID="demo-live04")

    async def resolve(instance_id: str, route: str) -> RouteDecision:
        if instance_id != "demo-live04":
            return RouteDecision("not_found", instance_id)
        return RouteDecision(
            "proxy", instance_id, Upstream("127.0.0.1", stack.port), status="ready"
        )

    router = HostRouter(Starlette(), base_domain="localhost", resolve=resolve)
    with ServerThread(router, router) as front:
        base = f"http://127.0.0.1:{front.port}"
        portal = f"demo-live04.portal.localhost:{front.port}"
        with as_rep_of(base, portal, "demo-live04") as rep, listening(rep) as stream:
            demo = Demo(rep)
            app = next(a for a in demo.apps if a["stage"] in MOVABLE)
            admin = demo.admin_of(demo.company_of(app))
            assert admin is not None
            with persona(base, portal, admin["email"]) as web:
                stage = move(web, app)
            seen = stream.next()
            assert (seen["application_id"], seen["stage"]) == (app["id"], stage)
            assert stream.headers.get("x-accel-buffering") == "no"


# ---- the hub itself -------------------------------------------------------------------------


def test_the_hub_caps_streams_and_ends_them_on_close(tmp_path: Path) -> None:
    from splits_stack.db import make_engine
    from splits_stack.web.access import Viewer
    from splits_stack.web.live import stream

    hub = LiveHub(make_engine(f"sqlite:///{tmp_path / 'x.db'}"), limit=2)

    async def scenario() -> list[Any]:
        first, second = hub.subscribe(), hub.subscribe()
        assert first is not None and second is not None
        assert hub.subscribe() is None and hub.full  # the cap
        assert stream(hub, Viewer(user=None, rep=True)) is None  # the route answers 503 then
        hub.unsubscribe(second)
        third = hub.subscribe()
        assert third is not None and hub.streams == 2
        hub.unsubscribe(third)
        for _ in range(3):  # a stream whose client left before it began holds no place
            assert stream(hub, Viewer(user=None, rep=True)) is not None
        assert hub.streams == 1
        third = hub.subscribe()
        assert third is not None
        hub.close()
        assert hub.subscribe() is None  # closed for good
        return [await first.inbox.get(), await third.inbox.get()]

    assert asyncio.run(scenario()) == [None, None]


def test_who_may_see_which_change() -> None:
    from splits_stack.web.access import Viewer
    from splits_stack.web.live import may_see

    event = {"candidate_id": 7, "company_id": 3, "recruiter_ids": [2, 5]}

    def user(role: str, **ids: int) -> Viewer:
        return Viewer(
            user={"role": role, "company_id": None, "candidate_id": None, **ids}, rep=False
        )

    assert may_see(Viewer(user=None, rep=True), event)  # the rep: the whole demo
    assert not may_see(Viewer(user=None, rep=False), event)
    assert may_see(user("candidate", candidate_id=7), event)
    assert not may_see(user("candidate", candidate_id=8), event)
    assert not may_see(user("candidate"), event)
    assert may_see(user("recruiter", recruiter_id=5), event)
    assert not may_see(user("recruiter", recruiter_id=4), event)
    for role in ("company_admin", "hiring_manager", "founder"):
        assert may_see(user(role, company_id=3), event)
        assert not may_see(user(role, company_id=4), event)
        assert not may_see(user(role), event)
    # a prospect's share views as its persona, with that persona's scope
    shared = Viewer(user={"role": "company_admin", "company_id": 4}, rep=False, share="guided")
    assert not may_see(shared, event)


def test_a_quiet_stream_sends_heartbeats_and_ends_when_the_hub_closes(tmp_path: Path) -> None:
    from splits_stack.db import make_engine
    from splits_stack.web.access import Viewer
    from splits_stack.web.live import stream

    hub = LiveHub(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))

    async def scenario() -> list[str]:
        body = stream(hub, Viewer(user=None, rep=True), heartbeat=0.01)
        assert body is not None
        said = [await anext(body) for _ in range(3)]  # retry, hello, then nothing to say
        hub.close()
        said += [chunk async for chunk in body]
        return said

    said = asyncio.run(scenario())
    assert said[0].startswith("retry: ") and said[1].startswith("event: hello")
    assert said[2] == ": heartbeat\n\n"
    assert said[-1] == "event: bye\ndata: {}\n\n" and hub.streams == 0
