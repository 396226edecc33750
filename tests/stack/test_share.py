"""The prospect's share on a real stack server: the current share's token opens a session that
reads the demo, no other token does (another nonce or mode, the rep's, a persona's), every method
that writes is refused on every path (403), the share grants no persona sign-in and shows no
sign-in link, and signing out ends it."""

from __future__ import annotations

import html
import re
from typing import Any

from splits_stack.services.identity import login_token, rep_token, share_token
from tests.stack.conftest import PERSONA_LINK, client

SECRET = "test-secret"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PATHS = ("/applications/1/move", "/api/companies", "/approvals/1", "/jobs/1", "/auth/switch")


def test_a_share_session_reads_and_never_writes(stacks: Any) -> None:
    stack = stacks("agency", DEMO_SHARE="guided:nonce-1", DEMO_SHARE_TOUR='[{"title": "t"}]')
    ident = stack.env["DEMO_INSTANCE_ID"]
    with client(stack) as http:
        for wrong in (
            share_token(SECRET, ident, "guided", "nonce-0"),
            share_token(SECRET, ident, "read_only", "nonce-1"),
            share_token("other", ident, "guided", "nonce-1"),
            rep_token(SECRET, ident),
            login_token(SECRET, "jordan.reyes@northbridge.example"),
        ):
            assert http.get("/auth/share", params={"token": wrong}).status_code == 403
            assert http.get("/api/companies").status_code == 401
        opened = http.get(
            "/auth/share", params={"token": share_token(SECRET, ident, "guided", "nonce-1")}
        )
        assert opened.status_code == 303 and opened.headers["location"] == "/?tour=1"
        assert http.get("/api/companies").json()["total"] > 0
        home = http.get("/", params={"tour": "1"})
        assert home.status_code == 200 and "data-tour-panel" in home.text
        for method in WRITES:
            for path in PATHS:
                refused = http.request(method, path, headers={"Accept": "application/json"})
                assert refused.status_code == 403, (method, path, refused.text[:200])
                assert "read-only" in refused.json()["detail"]
        picker = http.get("/personas").text
        assert "token=" not in picker and not re.findall(PERSONA_LINK, picker)
        assert "Switch persona" not in html.unescape(home.text)
        http.get("/auth/logout")
        assert http.get("/api/companies").status_code == 401


def test_an_unshared_demo_refuses_every_share_token(stacks: Any) -> None:
    stack = stacks("agency")
    ident = stack.env["DEMO_INSTANCE_ID"]
    with client(stack) as http:
        for mode in ("read_only", "guided"):
            token = share_token(SECRET, ident, mode, "")
            assert http.get("/auth/share", params={"token": token}).status_code == 403
