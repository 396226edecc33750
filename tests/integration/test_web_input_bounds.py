"""The web forms take the same bounds as the API (the checks live in the services): a control
character in a field, an enormous number of hours or a date at the calendar's edge is an
answer the user can act on, never a 500 and never a demo that fails later. Real server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server

PASSWORD = "Web-Form-Bounds-Passphrase-42"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client, str]]:
    server = Server(tmp_path_factory.mktemp("web"), DEMO_ADMIN_PASSWORD=PASSWORD)
    browser = httpx.Client(base_url=server.url, trust_env=False, timeout=20)
    try:  # a failed sign-in must not leave the server (and its demos) running
        server.start()
        page = browser.get("/login").text
        login = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
        login.update({"username": "admin", "password": PASSWORD})
        signed = browser.post("/login", data=login)
        assert signed.status_code == 303, signed.text[:300]
        form = browser.get("/portal/admin/demo-instances/new").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        yield server, browser, csrf.group(1)
    finally:
        browser.close()
        server.close()


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("name", "Acme\x1b[2J", "name: contains the control"),
        ("company", "Acme\x00Corp", "prospect.company: contains the control"),
        ("notes", "fine\nthen\x07", "notes: contains the control"),
        ("starts_at", "0001-01-01T00:00", "starts_at"),
    ],
)
def test_create_form_refuses_and_creates_nothing(
    web: tuple[Server, httpx.Client, str], field: str, value: str, named: str
) -> None:
    server, browser, csrf = web
    before = server.http.get("/api/v1/demo-instances").json()["items"]
    form = {"csrf_token": csrf, "duration_hours": "1", field: value}
    answer = browser.post("/portal/admin/demo-instances", data=form)
    assert answer.status_code == 422, answer.text[:300]
    assert named in answer.text
    assert server.http.get("/api/v1/demo-instances").json()["items"] == before


def test_extending_by_an_enormous_number_is_refused(
    web: tuple[Server, httpx.Client, str],
) -> None:
    server, browser, csrf = web
    instance_id = server.create()["id"]
    answer = browser.post(
        f"/portal/demo-instances/{instance_id}/extend",
        data={"csrf_token": csrf, "hours": "1e308"},
        follow_redirects=True,
    )
    assert answer.status_code < 500
    assert "cap on a demo" in answer.text


@pytest.mark.parametrize("query", [{"to": "9999-12-31"}, {"from": "0001-01-01"}])
def test_usage_page_at_the_calendar_edges_is_a_422(
    web: tuple[Server, httpx.Client, str], query: dict[str, str]
) -> None:
    _, browser, _ = web
    answer = browser.get("/portal/admin/usage", params=query)
    assert answer.status_code == 422, answer.text[:300]
    assert "between 1970-01-01 and 8999-12-31" in answer.text
