"""No secret in any log line: a full lifecycle on the embedded default (the reference stack on
SQLite, its fork-server, its demo processes) with every secret it makes collected, then every
line the orchestrator and the demos wrote is scanned for every one of them.

Logs are the server's own output (stdout and stderr, `server.log`) and every log file under
DEMO_HOME (each demo service's, the fork-server's). Secrets are the admin token and password, a
token and a user's password made through the API, a wrong password tried on the sign-in form,
the web session cookies, every persona's one-click sign-in token (and the rep's when the demo
has one), the demo's login secret and every secret value of its sealed environment, and the
contents of `secret.key`.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo_orchestrator.store.crypto import SecretBox
from tests.conftest import Server

ADMIN_PASSWORD = "Correct-Horse-Battery-7781"
WRONG_PASSWORD = "Almost-Correct-Horse-7782"
USER_PASSWORD = "Sales-Person-Passphrase-8890"
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)


@pytest.fixture
def server_tiny(make_server: Any) -> Server:
    server: Server = make_server().start()
    return server


def _hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*type=\"hidden\"[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def _sign_in(server: Server, password: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=20) as browser:
        form = _hidden_fields(browser.get("/login").text)
        form.update({"username": "admin", "password": password, "next": "/portal"})
        return browser.post("/login", data=form)


def _sealed_secrets(home: Path, instance_id: str) -> list[str]:
    """The demo's login secret and every secret-looking value of its sealed environment."""
    box = SecretBox((home / "secret.key").read_bytes().strip())
    with closing(sqlite3.connect(home / "orchestrator.db")) as db:
        row = db.execute("SELECT secrets FROM instances WHERE id = ?", (instance_id,)).fetchone()
    sealed = row[0]
    values = box.open(sealed)
    found = [values["login_secret"]]
    for name, value in (values.get("env") or {}).items():
        if SECRET_NAMES.search(name):
            found.append(str(value))
        password = urlsplit(str(value)).password if "://" in str(value) else None
        if password:
            found.append(password)
    return found


def _sign_in_tokens(instance: dict[str, Any]) -> list[str]:
    links = [p["login_url"] for p in instance["personas"] if p.get("login_url")]
    if instance.get("rep_login_url"):
        links.append(instance["rep_login_url"])
    tokens = [parse_qs(urlsplit(link).query).get("token", [""])[0] for link in links]
    tokens += [urlsplit(link).path.rsplit("/", 1)[-1] for link in links]  # /login/<token> forms
    return [t for t in tokens if len(t) >= 16]


def _follow(server: Server, link: str) -> httpx.Response:
    """Open a sign-in link through the router, as a browser on the demo's host would."""
    parts = urlsplit(link)
    with httpx.Client(
        base_url=server.url, headers={"Host": parts.netloc}, trust_env=False, timeout=20
    ) as browser:
        answer = browser.get(f"{parts.path}?{parts.query}")
        return answer


def _log_lines(home: Path) -> list[tuple[Path, str]]:
    files = [home / "server.log", *(p for p in home.rglob("*.log") if p != home / "server.log")]
    lines = []
    for path in files:
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            lines += [(path, line) for line in text.splitlines()]
    return lines


def test_a_whole_lifecycle_logs_no_secret(make_server: Any, tmp_path: Path) -> None:
    """The embedded default: the reference stack on SQLite, forked demos."""
    home = tmp_path / "home"
    server: Server = make_server(
        home,
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ).start()
    lifecycle_leaks_nothing(server, home)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_a_lifecycle_on_the_data_services_logs_no_secret(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    """Per-demo PostgreSQL roles, Redis ACL users and RabbitMQ users: their passwords too."""
    from tests.fakes.data_services import service_env

    home = tmp_path / "home"
    server: Server = make_server(
        home,
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **service_env(owner),
    ).start()
    sealed = lifecycle_leaks_nothing(server, home)
    assert len(sealed) >= 4, f"the data services' passwords were not collected: {len(sealed)}"


def lifecycle_leaks_nothing(server: Server, home: Path) -> list[str]:
    """Run the lifecycle and scan every log line; return the demo's sealed secrets found."""
    secrets = [server.token, ADMIN_PASSWORD, WRONG_PASSWORD, USER_PASSWORD]
    secrets.append((home / "secret.key").read_text().strip())

    made = server.http.post("/api/v1/tokens", json={"user": "sam", "role": "sales"})
    assert made.status_code == 201, made.text
    secrets.append(made.json()["token"])
    user = {"name": "pat", "role": "viewer", "password": USER_PASSWORD}
    assert server.http.post("/api/v1/users", json=user).status_code == 201

    assert _sign_in(server, WRONG_PASSWORD).status_code in (401, 403, 429)
    signed = _sign_in(server, ADMIN_PASSWORD)
    assert signed.status_code == 303, signed.text[:300]
    secrets += [value for value in signed.cookies.values() if len(value) >= 16]

    created = server.create(scenario="agency", name="Acme evaluation", prospect={"company": "Acme"})
    ready = server.wait_status(created["id"], "ready", "failed", timeout=120)
    assert ready["status"] == "ready", ready
    instance_id = ready["id"]
    tokens = _sign_in_tokens(ready)
    assert tokens, "the demo has no sign-in link to try"
    sealed = _sealed_secrets(home, instance_id)
    secrets += tokens + sealed

    for link in [p["login_url"] for p in ready["personas"] if p.get("login_url")][:2]:
        answer = _follow(server, link)
        assert answer.status_code in (302, 303), answer.text[:300]
        secrets += [v for v in answer.cookies.values() if len(v) >= 16]
    bad = _follow(server, ready["personas"][0]["login_url"].replace("token=", "token=0"))
    assert bad.status_code < 500

    extended = server.http.post(f"/api/v1/demo-instances/{instance_id}/extend", json={"hours": 1})
    assert extended.status_code == 200, extended.text
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/reset").status_code == 202
    server.wait_status(instance_id, "ready", timeout=120)
    # The demo's own logs go with it: read them before the delete.
    assert list((home / "runtime" / instance_id).rglob("*.log")), "no log of the demo found"
    lines = _log_lines(home)
    assert server.http.delete(f"/api/v1/demo-instances/{instance_id}").status_code == 202
    server.wait_status(instance_id, "deleted", timeout=60)
    server.stop()  # everything flushed

    lines += _log_lines(home)
    assert any("demo-orchestrator on http" in line for _, line in lines)  # the scan sees logs
    leaks = [
        f"{path.relative_to(home)}: {line[:200]}"
        for path, line in lines
        for secret in secrets
        if secret and secret in line
    ]
    assert not leaks, "\n".join(leaks[:20])
    return sealed


def test_a_demo_log_read_through_the_api_shows_no_sign_in_token(server_tiny: Server) -> None:
    """The tiny blueprint's service logs every request line, as most web servers do: a persona's
    sign-in through the router lands in its log with the token. Read through the API (and the
    admin page, the same service call) that line comes redacted."""
    ready = server_tiny.wait_status(server_tiny.create()["id"], "ready")
    link = next(p["login_url"] for p in ready["personas"] if p.get("login_url"))
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert _follow(server_tiny, link).status_code < 500
    url = f"/api/v1/demo-instances/{ready['id']}/logs"
    deadline = time.monotonic() + 15
    while "login?" not in (shown := server_tiny.http.get(url, params={"tail": 1000}).text):
        assert time.monotonic() < deadline, "the sign-in never reached the demo's log"
        time.sleep(0.05)
    assert token not in shown
    assert "token=[redacted]" in shown
