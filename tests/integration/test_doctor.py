"""`democtl doctor` and the refusal at `serve`, on real servers of both kinds.

This machine's PostgreSQL (`trust`) and Redis (`default` user without a password) are permissive
on purpose: the doctor must fail them, and `serve` must refuse them unless
DEMO_ALLOW_INSECURE=true. Private servers configured the safe way (tests/fakes/safe_servers.py)
must pass, `serve` must start on them without the flag, and a demo made on them must be isolated
for real: its role is refused with a wrong password and cannot reach another demo's database or
`postgres`, its Redis user cannot touch another demo's keys or channels.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet

from demo_orchestrator.providers.ownership import Passwords
from tests.conftest import DEMOCTL, ROOT, Server, tiny_env
from tests.fakes.data_services import PG_ADMIN, REDIS_URL, new_owner
from tests.fakes.safe_servers import SafeServers

TINY_CACHE = ROOT / "tests" / "blueprints" / "tiny_cache.yaml"


def _env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return tiny_env(home, 0, **extra)


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEMOCTL, "doctor", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _permissive(owner: str) -> dict[str, str]:
    return {
        "DEMO_DATABASE_PROVIDER": "postgres",
        "DEMO_POSTGRES_ADMIN_URL": PG_ADMIN,
        "DEMO_REDIS_URL": REDIS_URL,
        "DEMO_CACHE_PROVIDER": "redis",
        "DEMO_BROKER_PROVIDER": "none",
        "DEMO_RESOURCE_OWNER": owner,
    }


@pytest.mark.postgres
@pytest.mark.redis
def test_doctor_fails_a_trust_postgres_and_a_redis_default_user_without_password(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path / "home", **_permissive(new_owner()))
    result = _doctor(env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    failed = {line.split(":")[0] for line in lines if line.startswith("fail")}
    assert failed >= {
        "fail postgres passwords",
        "fail postgres databases",
        "fail redis default user",
    }
    assert any("WRONG password" in line and "fix: in pg_hba.conf" in line for line in lines)
    assert any("postgres" in line and "REVOKE CONNECT" in line for line in lines)
    assert any("`ACL SETUSER default off`" in line for line in lines)
    # The doctor's throwaway role is gone.
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        left = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'demo_doctor_%'")
        assert left.fetchall() == []
    as_json = json.loads(_doctor(env, "--json").stdout)
    assert {f["check"] for f in as_json["findings"] if f["level"] == "fail"} >= {
        "postgres passwords",
        "redis default user",
    }


@pytest.mark.postgres
@pytest.mark.redis
def test_serve_refuses_permissive_servers_with_one_line_per_finding(tmp_path: Path) -> None:
    env = _env(tmp_path / "home", **_permissive(new_owner()))
    result = subprocess.run(
        [DEMOCTL, "serve", "--port", "0"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("fail postgres passwords:") for line in lines)
    assert any(line.startswith("fail redis default user:") for line in lines)
    assert any("refusing to start" in line and "DEMO_ALLOW_INSECURE=true" in line for line in lines)


@pytest.mark.postgres
@pytest.mark.redis
def test_serve_starts_on_permissive_servers_with_allow_insecure_and_says_so(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    server = Server(home, **_permissive(new_owner()), DEMO_ALLOW_INSECURE="true")
    try:
        server.start()
        assert server.http.get("/healthz").status_code == 200
    finally:
        server.close()
    log = (home / "server.log").read_text()
    assert "INSECURE (DEMO_ALLOW_INSECURE=true): fail postgres passwords" in log
    assert "demos on these servers are NOT isolated" in log


def test_the_embedded_default_starts_without_allow_insecure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = Server(home)
    try:
        server.start()
        assert server.http.get("/healthz").status_code == 200
    finally:
        server.close()
    assert "INSECURE" not in (home / "server.log").read_text()


def test_doctor_on_the_embedded_default_passes_and_finds_secrets_readable_by_others(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = _env(home)
    result = _doctor(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith("ok   file modes:")
    (home / "secret.key").write_text(Fernet.generate_key().decode())
    (home / "secret.key").chmod(0o644)
    result = _doctor(env)
    assert result.returncode == 1
    assert f"fail file modes: {home / 'secret.key'} is mode 0644" in result.stdout
    assert f"fix: chmod 600 {home / 'secret.key'}" in result.stdout


# -- the private servers configured the safe way ----------------------------------------------


def test_doctor_passes_servers_configured_the_safe_way(
    safe_servers: SafeServers, tmp_path: Path
) -> None:
    env = _env(tmp_path / "home", **safe_servers.env(), DEMO_BROKER_PROVIDER="none")
    result = _doctor(env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("fail")]
    assert any(line.startswith("ok   postgres passwords") for line in lines)
    assert any(line.startswith("ok   postgres databases") for line in lines)
    assert any(line.startswith("ok   redis default user") for line in lines)
    assert safe_servers.postgres.password not in result.stdout
    assert safe_servers.redis.password not in result.stdout


def test_a_demo_on_safe_servers_starts_without_allow_insecure_and_is_isolated(
    safe_servers: SafeServers, tmp_path: Path
) -> None:
    key = Fernet.generate_key().decode()
    owner = new_owner()
    server = Server(
        tmp_path / "home",
        **safe_servers.env(),
        DEMO_BROKER_PROVIDER="none",
        DEMO_BLUEPRINT="tiny-cache",
        DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY_CACHE)]),
        DEMO_SECRET_KEY=key,
        DEMO_RESOURCE_OWNER=owner,
    )
    try:
        server.start()
        first, second = server.create()["id"], server.create()["id"]
        for instance_id in (first, second):
            ready = server.wait_status(instance_id, "ready", "failed", timeout=120)
            assert ready["status"] == "ready", ready
        _isolated(safe_servers, Passwords(key.encode()), owner, first, second)
        for instance_id in (first, second):
            server.http.delete(f"/api/v1/demo-instances/{instance_id}")
            server.wait_status(instance_id, "deleted", timeout=60)
    finally:
        server.close()
    assert "INSECURE" not in (tmp_path / "home" / "server.log").read_text()


def _isolated(servers: SafeServers, passwords: Passwords, owner: str, one: str, other: str) -> None:
    role, other_db = one.replace("-", "_"), other.replace("-", "_")
    password = passwords.of("postgres", owner, role)
    port = servers.postgres.port

    def login(secret: str, database: str) -> str:
        url = f"postgresql://{role}:{secret}@127.0.0.1:{port}/{database}"
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            return str(exc)
        return "in"

    assert login(password, role) == "in"
    assert "password authentication failed" in login(password + "x", role)
    for database in (other_db, "postgres", "template1"):
        assert "permission denied for database" in login(password, database)

    user_password = passwords.of("redis", owner, one)
    demo = redis.Redis(
        port=servers.redis.port, username=one, password=user_password, decode_responses=True
    )
    intruder = redis.Redis(port=servers.redis.port, decode_responses=True)
    try:
        demo.set(f"{one}:mine", "1")
        assert demo.get(f"{one}:mine") == "1"
        for attempt in (
            lambda: demo.set(f"{other}:theirs", "1"),
            lambda: demo.get(f"{other}:boot"),
            lambda: demo.publish(f"{other}:events", "x"),
            lambda: demo.dbsize(),
            lambda: demo.execute_command("SCRIPT", "FLUSH"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=servers.redis.port, username=one, password="wrong").ping()
        # No credentials: the default user is off, so not even the handshake gets through.
        with pytest.raises((redis.exceptions.AuthenticationError, redis.exceptions.ResponseError)):
            intruder.get(f"{other}:boot")
    finally:
        demo.close()
        intruder.close()
