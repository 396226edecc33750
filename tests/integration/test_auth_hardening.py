"""Sign-in and tokens that hold (issue 12, item 5), on a real `democtl serve` and its SQLite store:
the throttle answers 429 with Retry-After, failed sign-ins are audited, unknown names cost the same
argon2 check as known ones, the password policy refuses short, common and name-based passwords,
the login form refuses posts without its CSRF pair, tokens are listed, expire and are revoked at
once, disabled users are shut out, and the engine's actor names are reserved."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_orchestrator.domain.errors import TemporaryError
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.engine.signin import (
    SignIn,
    SignInRefused,
    SignInThrottled,
    Throttle,
    address_key,
)
from tests.conftest import DEMOCTL, Server, sign_in
from tests.fakes.engine import Rig
from tests.services import REDIS_URL

GOOD = "plum-orbit-cascade-41"  # passes the policy for every user name used here
ADMIN = Principal("admin", "admin")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's store: its SQLite file, or a scratch PostgreSQL database (migration 0007 and
    the token and user queries on both backends)."""
    if request.param == "sqlite":
        return {}
    return {"DEMO_STORE_URL": request.getfixturevalue("pg_databases")()}


def _user(server: Server, name: str, role: str = "sales", password: str = GOOD) -> None:
    made = server.http.post(
        "/api/v1/users", json={"name": name, "role": role, "password": password}
    )
    assert made.status_code == 201, made.text


def _failures(server: Server, name: str) -> list[dict[str, Any]]:
    items = server.http.get("/api/v1/audit", params={"limit": 1000}).json()["items"]
    return [a for a in items if a["action"] == "sign-in.failed" and a["actor"] == name]


def _browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, trust_env=False)


def _bearer(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )


# -- throttle and audit ----------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_name_with_429_and_every_failure_is_audited(
    make_server: Any,
) -> None:
    server: Server = make_server().start()
    _user(server, "tess")
    with _browser(server) as browser:
        answers = [sign_in(browser, "tess", f"wrong-guess-{i}") for i in range(5)]
        assert [a.status_code for a in answers] == [401] * 5
        assert "Wrong user name or password" in answers[0].text
        locked = sign_in(browser, "tess", "wrong-guess-5")
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        assert (
            "Too many failed sign-ins" in locked.text
            and "text/html" in locked.headers["content-type"]
        )
        # while locked, even the right password is refused: a locked name cannot be probed
        right = sign_in(browser, "tess", GOOD)
        assert right.status_code == 429 and "demo_session" not in browser.cookies
        # another name from the same address is not locked by tess's count
        _user(server, "theo")
        assert sign_in(browser, "theo", GOOD).status_code == 303
        assert sign_in(browser, "ghost", "whatever-it-is").status_code == 401
    reasons = [a["detail"]["reason"] for a in reversed(_failures(server, "tess"))]
    assert reasons == ["wrong password"] * 5 + ["throttled", "throttled"]
    assert all(a["source"] == "127.0.0.1" for a in _failures(server, "tess"))
    assert [a["detail"]["reason"] for a in _failures(server, "ghost")] == ["unknown user"]
    audit_text = server.http.get("/api/v1/audit", params={"limit": 1000}).text
    assert (
        "wrong-guess" not in audit_text
        and GOOD not in audit_text
        and "whatever-it-is" not in audit_text
    )


def test_an_address_spraying_many_names_is_throttled_too(make_server: Any) -> None:
    server: Server = make_server(DEMO_LOGIN_RATE_PER_ADDRESS="8/minute").start()
    _user(server, "una")
    with _browser(server) as browser:
        sprayed = [sign_in(browser, f"name{i}", "not-a-password").status_code for i in range(8)]
        assert sprayed == [401] * 8
        refused = sign_in(browser, "una", GOOD)  # a fresh name, but the address is spent
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert _failures(server, "una")[0]["detail"] == {"reason": "throttled"}


def test_unknown_names_cost_one_argon2_check_against_a_dummy_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(tmp_path)
    accounts = rig.orchestrator.accounts
    accounts.create_user(name="vic", role="sales", password=GOOD, actor=ADMIN)
    checked: list[str] = []
    real_verify = SignIn.verify

    def watch(self: SignIn, password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(SignIn, "verify", watch)
    for name in ("nobody", "someone-else", ""):
        with pytest.raises(SignInRefused):
            accounts.signin.sign_in(name, "a-guess-here", source="10.0.0.1")
    with pytest.raises(SignInRefused):
        accounts.signin.sign_in("vic", "a-guess-here", source="10.0.0.2")
    assert accounts.signin.sign_in("vic", GOOD, source="10.0.0.3").name == "vic"
    assert len(checked) == 5  # exactly one check per attempt, known name or not
    dummy, vic_hash = checked[0], checked[3]
    assert dummy.startswith("$argon2") and checked[:3] == [dummy] * 3
    assert vic_hash.startswith("$argon2") and vic_hash != dummy and checked[4] == vic_hash
    # a throttled attempt is refused before any password is looked at
    for _ in range(4):  # with the one above, five failures: the default per-name limit
        with pytest.raises(SignInRefused):
            accounts.signin.sign_in("vic", "a-guess-here", source="10.0.0.4")
    before = len(checked)
    with pytest.raises(SignInThrottled):
        accounts.signin.sign_in("vic", GOOD, source="10.0.0.5")
    assert len(checked) == before


@pytest.mark.redis
def test_replicas_share_the_counts_through_redis() -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    one, two = (
        Throttle(per_user="3/minute", per_address="100/minute", storage_url=REDIS_URL)
        for _ in range(2)
    )
    for throttle in (one, two, one):
        assert throttle.wait_seconds(user=name, address="10.1.1.1") == 0
        throttle.failed(user=name, address="10.1.1.1")
    assert 1 <= two.wait_seconds(user=name, address="10.9.9.9") <= 60  # the other replica's hits
    memory = Throttle(per_user="3/minute", per_address="100/minute", storage_url="memory://")
    assert memory.wait_seconds(user=name, address="10.1.1.1") == 0  # memory: per replica
    down = Throttle(per_user="3/minute", per_address="9/minute", storage_url="redis://127.0.0.1:1")
    with pytest.raises(TemporaryError, match="cannot be reached"):
        down.wait_seconds(user=name, address="10.1.1.1")


def test_a_bad_throttle_setting_is_a_clear_start_error(make_server: Any) -> None:
    for env, message in (
        ({"DEMO_LOGIN_THROTTLE_STORAGE": "mongo-ish://x"}, "DEMO_LOGIN_THROTTLE_STORAGE is not"),
        ({"DEMO_LOGIN_RATE_PER_USER": "five a minute"}, "is not a rate like 5/minute"),
    ):
        server: Server = make_server(**env)
        with pytest.raises(RuntimeError, match="server exited"):
            server.start()
        assert message in (server.home / "server.log").read_text()


def test_ipv6_clients_are_counted_by_their_64_block() -> None:
    throttle = Throttle(per_user="100/minute", per_address="2/minute", storage_url="memory://")
    for host in ("2001:db8:1:2::a", "2001:db8:1:2:ffff::b"):  # two addresses, one subscriber
        assert throttle.wait_seconds(user="x", address=host) == 0
        throttle.failed(user=f"name-{host}", address=host)
    assert throttle.wait_seconds(user="y", address="2001:db8:1:2::c") >= 1
    assert throttle.wait_seconds(user="y", address="2001:db8:1:3::c") == 0  # the next /64
    assert address_key("::ffff:10.0.0.1") == address_key("10.0.0.1") == "10.0.0.1"


# -- login CSRF ------------------------------------------------------------------------------


def test_the_login_form_refuses_posts_without_its_csrf_pair(make_server: Any) -> None:
    server: Server = make_server().start()
    _user(server, "wes")
    form = {"username": "wes", "password": GOOD}
    with _browser(server) as attacker, _browser(server) as victim:
        bare = victim.post("/login", data=form)  # what a foreign page's auto-submitted form sends
        assert bare.status_code == 403 and "demo_session" not in victim.cookies
        assert "sign in again" in bare.text
        # the attacker's own token, replayed in the victim's browser (another cookie)
        attacker.get("/login")
        page = attacker.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        victim.get("/login")
        stolen = victim.post("/login", data={**form, "csrf_token": token})
        assert stolen.status_code == 403 and "demo_session" not in victim.cookies
        # a cookie tossed in and a field made up to match it: the field must be sealed
        forged = httpx.Client(
            base_url=server.url, trust_env=False, cookies={"demo_login_csrf": "x" * 32}
        )
        with forged:
            made_up = forged.post("/login", data={**form, "csrf_token": "x" * 32})
            assert made_up.status_code == 403 and "demo_session" not in forged.cookies
        assert sign_in(victim, "wes", GOOD).status_code == 303
        assert "demo_session" in victim.cookies


# -- password policy and reserved names ------------------------------------------------------


def test_the_password_policy_and_reserved_names_refuse_with_a_reason(make_server: Any) -> None:
    server: Server = make_server().start()
    cases = {
        "short-pw-1": "at least 12 characters",
        "password1234": "common password",
        "xander-was-here-2026": "must not contain the user name",
        "zxcvbnm12345678": "too easy to guess",
    }
    for password, reason in cases.items():
        answer = server.http.post(
            "/api/v1/users", json={"name": "Xander", "role": "sales", "password": password}
        )
        assert answer.status_code == 422, password
        assert answer.headers["content-type"] == "application/problem+json"
        assert reason in answer.json()["detail"], answer.json()
    for name in ("system", "System", "warm-pool"):
        user = server.http.post(
            "/api/v1/users", json={"name": name, "role": "admin", "password": GOOD}
        )
        assert user.status_code == 422 and "reserved" in user.json()["detail"]
        token = server.http.post("/api/v1/tokens", json={"user": name, "role": "admin"})
        assert token.status_code == 422 and "reserved" in token.json()["detail"]
    names = [u["name"] for u in server.http.get("/api/v1/users").json()["items"]]
    assert names == ["admin"]


def test_a_weak_admin_password_is_a_clear_start_error(make_server: Any) -> None:
    server: Server = make_server(DEMO_ADMIN_PASSWORD="password1234")
    with pytest.raises(RuntimeError, match="server exited"):
        server.start()
    log = (server.home / "server.log").read_text()
    assert "DEMO_ADMIN_PASSWORD is refused: the password is a common password" in log
    assert "password1234" not in log


# -- tokens ----------------------------------------------------------------------------------


def test_tokens_are_listed_expire_and_are_revoked_at_once(
    make_server: Any, store: dict[str, str]
) -> None:
    server: Server = make_server(**store).start()
    now = datetime.now(UTC)
    for bad, why in (
        ((now - timedelta(minutes=1)).isoformat(), "in the past"),
        ((now + timedelta(days=4000)).isoformat(), "days ahead"),
        ("9999-12-31T23:59:59-05:00", "days ahead"),
        ("2030-01-01T00:00:00", "timezone"),
    ):
        refused = server.http.post(
            "/api/v1/tokens", json={"user": "sam", "role": "sales", "expires_at": bad}
        )
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
        assert why in refused.json()["detail"], refused.json()

    made = server.http.post("/api/v1/tokens", json={"user": "sam", "role": "sales", "name": "ci"})
    assert made.status_code == 201
    sam = made.json()
    assert set(sam) == {
        "id",
        "name",
        "user",
        "role",
        "created_at",
        "expires_at",
        "revoked_at",
        "token",
    }
    assert sam["name"] == "ci" and sam["expires_at"] is None and isinstance(sam["id"], int)
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    brief = server.http.post(
        "/api/v1/tokens", json={"user": "sam", "role": "sales", "expires_at": soon}
    ).json()
    assert datetime.fromisoformat(brief["expires_at"]) == datetime.fromisoformat(soon)
    other = server.http.post("/api/v1/tokens", json={"user": "rita", "role": "sales"}).json()

    listed = server.http.get("/api/v1/tokens")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(t["user"], t["name"]) for t in items] == [
        ("admin", "bootstrap"),
        ("sam", "ci"),
        ("sam", "sam"),
        ("rita", "rita"),
    ]
    keys = {"id", "name", "user", "role", "created_at", "expires_at", "revoked_at"}
    assert all(set(t) == keys for t in items)
    for secret in (sam["token"], other["token"], brief["token"], server.token):
        assert secret not in listed.text
    with _bearer(server, sam["token"]) as as_sam:
        own = as_sam.get("/api/v1/tokens").json()["items"]
        assert [t["id"] for t in own] == [sam["id"], brief["id"]]  # only sam's own
        assert as_sam.delete(f"/api/v1/tokens/{other['id']}").status_code == 404
        assert as_sam.delete(f"/api/v1/tokens/{items[0]['id']}").status_code == 404
        assert as_sam.post("/api/v1/users/rita/disable").status_code == 403
        assert as_sam.get("/api/v1/users").status_code == 403

    with _bearer(server, other["token"]) as as_rita:
        assert as_rita.get("/api/v1/scenarios").status_code == 200
        assert server.http.delete(f"/api/v1/tokens/{other['id']}").status_code == 204
        revoked = as_rita.get("/api/v1/scenarios")
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert server.http.delete(f"/api/v1/tokens/{other['id']}").status_code == 204  # idempotent
    assert server.http.delete("/api/v1/tokens/999999").status_code == 404
    assert server.http.delete("/api/v1/tokens/nope").status_code == 422
    assert server.http.delete(f"/api/v1/tokens/{2**40}").status_code == 422  # not a 500
    after = {t["id"]: t for t in server.http.get("/api/v1/tokens").json()["items"]}
    assert after[other["id"]]["revoked_at"] is not None and after[sam["id"]]["revoked_at"] is None

    with _bearer(server, brief["token"]) as as_brief:
        deadline = time.monotonic() + 30
        while (answer := as_brief.get("/api/v1/scenarios")).status_code == 200:
            assert time.monotonic() < deadline, "the token never expired"
            time.sleep(0.2)
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    actions = [a["action"] for a in server.http.get("/api/v1/audit").json()["items"]]
    assert "token.revoke" in actions and actions.count("token.create") == 3


# -- disabling users -------------------------------------------------------------------------


def test_a_disabled_user_is_shut_out_at_once(make_server: Any, store: dict[str, str]) -> None:
    server: Server = make_server(**store).start()
    _user(server, "dora")
    token = server.http.post("/api/v1/tokens", json={"user": "dora", "role": "sales"}).json()
    with _browser(server) as browser, _bearer(server, token["token"]) as as_dora:
        assert sign_in(browser, "dora", GOOD).status_code == 303
        assert browser.get("/portal/demos").status_code == 200
        assert as_dora.get("/api/v1/scenarios").status_code == 200

        disabled = server.http.post("/api/v1/users/dora/disable")
        assert disabled.status_code == 200 and disabled.json()["disabled_at"]

        gone = browser.get("/portal/demos")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        refused = as_dora.get("/api/v1/scenarios")
        assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
        again = sign_in(browser, "dora", GOOD)
        assert again.status_code == 401 and "disabled" in again.text
    assert [a["detail"]["reason"] for a in _failures(server, "dora")] == ["disabled"]
    users = {u["name"]: u for u in server.http.get("/api/v1/users").json()["items"]}
    assert users["dora"]["disabled_at"] and users["admin"]["disabled_at"] is None
    assert set(users["dora"]) == {
        "name",
        "role",
        "created_at",
        "disabled_at",
        "web_sign_in",
        "email",
    }
    assert users["dora"]["web_sign_in"] and GOOD not in str(users)
    assert server.http.post("/api/v1/users/admin/disable").status_code == 422  # not yourself
    assert server.http.post("/api/v1/users/nobody/disable").status_code == 404
    more = server.http.post("/api/v1/tokens", json={"user": "dora", "role": "sales"})
    assert more.status_code == 409 and "disabled" in more.json()["detail"]


# -- the CLI ---------------------------------------------------------------------------------


def test_the_cli_lists_and_revokes_tokens_and_lists_and_disables_users(make_server: Any) -> None:
    server: Server = make_server().start()

    def democtl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DEMOCTL, *args], env=server.env, capture_output=True, text=True, check=False
        )

    made = democtl("token", "create", "--role", "viewer", "--name", "vera", "--json")
    assert made.returncode == 0, made.stderr
    vera = json.loads(made.stdout)
    listed = democtl("token", "list", "--json")
    assert listed.returncode == 0 and vera["token"] not in listed.stdout
    assert [t["user"] for t in json.loads(listed.stdout)["items"]] == ["admin", "vera"]
    table = democtl("token", "list")
    assert table.returncode == 0 and "vera" in table.stdout and "never" in table.stdout
    revoked = democtl("token", "revoke", str(vera["id"]))
    assert revoked.returncode == 0 and f"token {vera['id']} revoked" in revoked.stdout
    with _bearer(server, vera["token"]) as as_vera:
        assert as_vera.get("/api/v1/scenarios").status_code == 401
    missing = democtl("token", "revoke", "4242")
    assert missing.returncode == 1 and "no token 4242" in missing.stderr
    bad = democtl("token", "revoke", "abc")
    assert bad.returncode == 1 and "not a token id" in bad.stderr
    expiring = democtl(
        "token", "create", "--role", "sales", "--name", "sid", "--expires", "2001-01-01T00:00Z"
    )
    assert expiring.returncode == 1 and "in the past" in expiring.stderr

    _user(server, "uma")
    users = democtl("user", "list", "--json")
    assert users.returncode == 0
    assert [u["name"] for u in json.loads(users.stdout)["items"]] == ["admin", "uma", "vera"]
    disabled = democtl("user", "disable", "uma", "--json")
    assert disabled.returncode == 0 and json.loads(disabled.stdout)["disabled_at"]
    plain = democtl("user", "list")
    assert plain.returncode == 0 and "uma" in plain.stdout
    unknown = democtl("user", "disable", "nobody")
    assert unknown.returncode == 1 and "no user 'nobody'" in unknown.stderr
    weak = subprocess.run(
        [DEMOCTL, "user", "create", "--role", "sales", "--name", "ned", "--password-stdin"],
        input="password1234\n",
        env=server.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert weak.returncode == 1 and "common password" in weak.stderr
    assert weak.stderr.count("\n") == 1  # one line
