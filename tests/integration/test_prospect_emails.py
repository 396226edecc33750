"""The prospect's people under the prospect's domain, the same on both sides: for a demo made for a
prospect, every persona's address in the orchestrator's view (API, admin page, `democtl get`) is
the one the running demo's picker shows, in every scenario, and every persona's one-click link
still signs in. Also the domain rule itself, held to the stack's (they are separate packages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest

from demo_orchestrator.domain.prospect import prospect_domain
from splits_stack.services.freshen import prospect_domain as stack_prospect_domain
from tests.conftest import Server, splits_server

SCENARIOS = ("agency", "enterprise", "startup")
PROSPECT = {"company": "Ünïcode Robotics, Inc.", "industry": "Robotics"}


@pytest.mark.parametrize(
    "name",
    [
        "Acme Robotics, Inc.",
        "Ünïcode Robotics GmbH",
        "O'Brien & Sons Ltd.",
        "株式会社",
        "",
        "   ",
        "Inc",
        "A" * 300,
        "Co. Co. Co.",
        "x.y.z corp",
    ],
)
def test_the_orchestrator_and_the_stack_make_the_same_domain(name: str) -> None:
    assert prospect_domain(name) == stack_prospect_domain(name)
    assert re.fullmatch(r"[a-z0-9]{1,40}\.example", prospect_domain(name))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    made = splits_server(tmp_path_factory.mktemp("prospect-emails")).start()
    try:
        yield made
    finally:
        made.close()


def _picker_emails(server: Server, rep_link: str) -> set[str]:
    web = server.follow(rep_link)
    try:
        page = web.get("/personas")
        assert page.status_code == 200
        return {
            unescape(e)
            for e in re.findall(r'<div class="muted small">([^<@]+@[^<]+)</div>', page.text)
        }
    finally:
        web.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_persona_addresses_match_the_demo_and_their_links_sign_in(
    server: Server, scenario: str
) -> None:
    made = server.create(scenario=scenario, duration_hours=1, prospect=PROSPECT)
    instance = server.wait_status(made["id"], "ready", "failed", timeout=180)
    assert instance["status"] == "ready", instance
    domain = prospect_domain(PROSPECT["company"])
    shown = {p["email"] for p in instance["personas"]}
    assert any(e.endswith("@" + domain) for e in shown), shown  # the prospect's own people moved
    assert _picker_emails(server, instance["rep_login_url"]) == shown
    listed = server.http.get("/api/v1/demo-instances", params={"limit": 200}).json()["items"]
    assert next(i for i in listed if i["id"] == made["id"])["personas"] == instance["personas"]
    for step in instance["tour"]:
        assert step["email"] in shown
    for persona in instance["personas"]:
        web = server.follow(persona["login_url"])
        try:
            me = web.get("/personas")
            assert f"Continue as {persona['name'].split()[0]}" in unescape(me.text), persona["name"]
        finally:
            web.close()
    server.http.delete(f"/api/v1/demo-instances/{made['id']}")
