"""The rep's tour panel on a real stack server, without a browser: it lists `DEMO_TOUR`'s steps
to the rep's session only (also when the rep is signed in as a persona), never to a persona alone
nor to a prospect's share (a guided share keeps its own panel, without talking points), and not
at all without a tour; the current step follows the page and the last "Go"; "Go" switches persona
and page (through the other host's rep sign-in for a candidate step) and needs the panel's token;
the deep link `/auth/rep-login?token=..&step=N` lands on step N as its persona."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from splits_stack.devserver import StackProcess
from splits_stack.services.identity import SESSION_COOKIE, rep_token, share_token
from splits_stack.web import tour
from splits_stack.web.gateway import RELOAD_PATH
from tests.stack.conftest import as_rep, blueprint, client, sign_in

SECRET = "test-secret"


def tour_env(scenario: str) -> str:
    """`DEMO_TOUR` as the orchestrator gives it (contract 2), from the blueprint's tour."""
    found = next(s for s in blueprint()["scenarios"] if s["name"] == scenario)
    people = {p["name"]: p for p in found["personas"]}
    return json.dumps(
        [
            {
                "step": n,
                "persona": s["persona"],
                "email": people[s["persona"]]["email"],
                "route": people[s["persona"]].get("route") or "portal",
                "page": s["page"],
                "action": s["action"],
                "talking_point": s["talking_point"],
                "expect": s.get("expect"),
            }
            for n, s in enumerate(found["tour"], start=1)
        ]
    )


AGENCY = json.loads(tour_env("agency"))
CANDIDATE_STEP = next(s["step"] for s in AGENCY if s["route"] == "candidate")


def _agency(stacks: Any, **env: str) -> StackProcess:
    return stacks("agency", DEMO_TOUR=tour_env("agency"), **env)  # type: ignore[no-any-return]


def _items(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-tour-item="(\d+)"', page)]


def _current(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-tour-item="(\d+)" aria-current="step"', page)]


def _token(page: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert found, "the panel has no Go form"
    return found.group(1)


def _go(http: httpx.Client, number: int, token: str) -> httpx.Response:
    return http.post(f"{tour.GO_PATH}/{number}", data={"token": token})


def _persona(http: httpx.Client) -> str:
    """Who the session is: the signed-in name from a portal page's top bar."""
    page = http.get("/jobs").text
    found = re.search(r"<div><strong>([^<]+)</strong>", page)
    return html.unescape(found.group(1)) if found else ""


def test_the_rep_sees_every_step_with_its_talking_point_and_the_current_one(
    stacks: Any,
) -> None:
    stack = _agency(stacks)
    with as_rep(stack) as rep:
        picker = rep.get("/personas").text
        assert "data-rep-tour" in picker
        assert _items(picker) == [s["step"] for s in AGENCY]
        assert _current(picker) == []  # nothing gone to yet, and no persona's page
        for step in AGENCY:
            assert step["talking_point"] in html.unescape(picker)
        went = _go(rep, 1, _token(picker))
        assert went.status_code == 303 and went.headers["location"] == AGENCY[0]["page"]
        home = rep.get("/")
        assert home.status_code == 200 and _current(home.text) == [1]
        assert "Jordan Reyes" in home.text
        # The page of another step of the same persona is that step...
        recruiters = next(s["step"] for s in AGENCY if s["page"] == "/recruiters")
        assert _current(rep.get("/recruiters").text) == [recruiters]
        # ...a page of no step shows the last one gone to...
        assert _current(rep.get("/candidates").text) == [1]
        # ...and of two steps on one page, the one gone to.
        matches = next(s["step"] for s in AGENCY if s["page"].endswith("#matches"))
        assert _go(rep, matches, _token(home.text)).headers["location"] == "/jobs/1#matches"
        assert _current(rep.get("/jobs/1").text) == [matches]


def test_go_switches_persona_and_needs_the_rep_and_the_panels_token(stacks: Any) -> None:
    stack = _agency(stacks)
    priya = next(s for s in AGENCY if s["persona"] == "Priya Nair")
    with as_rep(stack) as rep:
        token = _token(rep.get("/personas").text)
        assert _go(rep, 1, token).status_code == 303
        jordan = rep.cookies.get(SESSION_COOKIE)
        refused = _go(rep, priya["step"], "0" * 64)
        assert refused.status_code == 403 and "reload the page" in refused.text
        assert rep.cookies.get(SESSION_COOKIE) == jordan  # nobody was switched
        went = _go(rep, priya["step"], token)
        assert went.status_code == 303 and went.headers["location"] == priya["page"]
        assert rep.cookies.get(SESSION_COOKIE) != jordan
        assert _persona(rep) == "Priya Nair"
        assert _current(rep.get(priya["page"]).text) == [priya["step"]]
        beyond = _go(rep, len(AGENCY) + 1, token)
        assert beyond.status_code == 400 and f"steps 1 to {len(AGENCY)}" in beyond.text
    # A persona alone has no tour, and its "Go" is refused even with a rep's token.
    with sign_in(stack, "jordan.reyes@northbridge.example") as persona:
        assert "data-rep-tour" not in persona.get("/").text
        answer = _go(persona, priya["step"], token)
        assert answer.status_code == 403 and "rep" in answer.text
        assert _persona(persona) == "Jordan Reyes"


def test_a_candidate_step_goes_through_the_candidate_hosts_rep_sign_in(stacks: Any) -> None:
    stack = _agency(stacks)
    step = AGENCY[CANDIDATE_STEP - 1]
    with as_rep(stack) as rep:
        went = _go(rep, CANDIDATE_STEP, _token(rep.get("/personas").text))
    assert went.status_code == 303
    there = httpx.URL(went.headers["location"])
    assert there.host.split(".")[1] == "candidate" and there.path == "/auth/rep-login"
    assert there.params["step"] == str(CANDIDATE_STEP)
    with client(stack, "candidate") as http:
        landed = http.get("/auth/rep-login", params=dict(there.params))
        assert landed.status_code == 303 and landed.headers["location"] == step["page"]
        page = http.get(step["page"])
        assert page.status_code == 200 and step["persona"] in page.text
        assert _current(page.text) == [CANDIDATE_STEP]  # the rep's panel, on this host too


def test_the_deep_link_lands_on_the_step_as_its_persona(stacks: Any) -> None:
    stack = _agency(stacks)
    link = {"token": rep_token(SECRET, stack.env["DEMO_INSTANCE_ID"])}
    second = AGENCY[1]
    with client(stack) as http:
        plain = http.get("/auth/rep-login", params=link)
        assert plain.status_code == 303 and plain.headers["location"] == "/personas"
        assert http.cookies.get(SESSION_COOKIE) is None
    with client(stack) as http:
        landed = http.get("/auth/rep-login", params={**link, "step": "2"})
        assert landed.status_code == 303 and landed.headers["location"] == second["page"]
        assert _persona(http) == second["persona"]
        assert _current(http.get(second["page"].split("#")[0]).text) == [2]
    with client(stack) as http:
        for wrong, says in (("99", f"steps 1 to {len(AGENCY)}"), ("two", "step must be")):
            bad = http.get("/auth/rep-login", params={**link, "step": wrong})
            assert bad.status_code == 400 and says in html.unescape(bad.text)
        wrong_token = http.get("/auth/rep-login", params={"token": "0" * 64, "step": "2"})
        assert wrong_token.status_code == 403
        assert http.cookies.get(SESSION_COOKIE) is None


def test_no_panel_for_a_share_or_without_a_tour(stacks: Any) -> None:
    guided_tour = json.dumps([{"title": "Open the dashboard", "path": "/", "persona": "Jordan"}])
    stack = _agency(stacks, DEMO_SHARE="guided:n-1", DEMO_SHARE_TOUR=guided_tour)
    ident = stack.env["DEMO_INSTANCE_ID"]
    with client(stack) as http:
        opened = http.get(
            "/auth/share", params={"token": share_token(SECRET, ident, "guided", "n-1")}
        )
        assert opened.status_code == 303
        home = http.get("/", params={"tour": "1"}).text
        assert "data-tour-panel" in home and "data-rep-tour" not in home
        assert AGENCY[0]["talking_point"] not in html.unescape(home)
        assert _go(http, 1, "0" * 64).status_code == 403  # a share writes nothing
    shared = _agency(stacks, DEMO_SHARE="read_only:n-2")
    with client(shared) as http:
        token = share_token(SECRET, shared.env["DEMO_INSTANCE_ID"], "read_only", "n-2")
        assert http.get("/auth/share", params={"token": token}).status_code == 303
        page = http.get("/").text
        assert "data-rep-tour" not in page and "data-tour-panel" not in page
    without = stacks("agency")
    with as_rep(without) as rep:
        assert "data-rep-tour" not in rep.get("/personas").text
        assert _go(rep, 1, "0" * 64).status_code == 403


def test_the_tour_is_read_from_the_settings_file_when_settings_have_no_field(
    tmp_path: Path,
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": "3", "env": {"DEMO_TOUR": tour_env("startup")}}))
    settings = SimpleNamespace(settings_file=str(path), settings_version="3")
    stack = SimpleNamespace(settings=settings)
    found = tour.steps(stack)  # type: ignore[arg-type]
    assert [s.number for s in found] == [1, 2, 3, 4]
    assert found[-1].route == "candidate" and found[2].path == "/jobs/1"
    given = SimpleNamespace(tour=tour_env("agency"), settings_file="", settings_version="")
    assert len(tour.steps(SimpleNamespace(settings=given))) == len(AGENCY)  # type: ignore[arg-type]


def test_a_reload_in_place_brings_the_tour_and_takes_it_away(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """What a warm-pool claim or a share does: new settings in the file, then a reload; the stack
    serves the tour of the settings it now has (it may hold no `tour` field of its own)."""
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["startup"], database)
    path = tmp_path / "settings.json"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_INSTANCE_ID": "demo-tourrl",
        "DEMO_RELOAD_TOKEN": "reload-token",
        "DEMO_SETTINGS_FILE": str(path),
        "DEMO_LOGIN_SECRET": SECRET,
    }
    path.write_text(json.dumps({"version": "v1", "env": env}))
    stack = StackProcess(
        env["DATABASE_URL"],
        env={"DEMO_SETTINGS_FILE": str(path), "DEMO_INSTANCE_ID": "demo-tourrl"},
    ).start()
    reload = {"Authorization": "Bearer reload-token"}
    try:
        with as_rep(stack) as rep:
            assert "data-rep-tour" not in rep.get("/personas").text
            startup = {**env, "DEMO_TOUR": tour_env("startup")}
            path.write_text(json.dumps({"version": "v2", "env": startup}))
            assert rep.post(RELOAD_PATH, headers=reload).json()["version"] == "v2"
            picker = rep.get("/personas").text
            assert _items(picker) == [1, 2, 3, 4]
            went = _go(rep, 2, _token(picker))
            assert went.status_code == 303 and went.headers["location"] == "/jobs/1"
            path.write_text(json.dumps({"version": "v3", "env": env}))
            assert rep.post(RELOAD_PATH, headers=reload).json()["version"] == "v3"
            assert "data-rep-tour" not in rep.get("/jobs/1").text
    finally:
        stack.stop()
