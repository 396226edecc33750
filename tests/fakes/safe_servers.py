"""Private PostgreSQL and Redis servers configured the safe way, for the doctor's tests.

This machine's shared servers are permissive on purpose (PostgreSQL `trust`, a Redis `default`
user without a password), so `democtl doctor` fails them. These run beside them on free ports:
- PostgreSQL from its own `initdb --auth=scram-sha-256` in a temp folder, the superuser `admin`
  with a password, and the doctor's fix applied: CONNECT on `postgres` and `template1` revoked
  from PUBLIC. initdb and postgres refuse to run as root, so as root they run as the `postgres`
  OS user (`Popen(user=...)`, so the pid we stop is the server's own);
- `redis-server` with `user default off` and an admin ACL user with a password, no persistence.
Both are stopped and their folders removed at the end of the session.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from demo_orchestrator.providers import processes

READY_WITHIN = 60.0  # seconds; initdb and a first start take a few on a loaded machine


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class SafePostgres:
    folder: Path
    port: int
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://admin:{self.password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> SafePostgres:
        bin_dir = postgres_bin()
        assert bin_dir is not None, "no PostgreSQL server binaries under /usr/lib/postgresql"
        as_root = os.geteuid() == 0
        user = {"user": "postgres", "group": "postgres", "extra_groups": []} if as_root else {}
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        data = self.folder / "data"
        made = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "--auth=scram-sha-256",
                "--username=admin",
                f"--pwfile={pwfile}",
                "--no-sync",
            ],
            check=False,
            capture_output=True,
            text=True,
            **user,  # type: ignore[arg-type]
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()}")
        log = (self.folder / "postgres.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=60",
            ],
            stdout=log,
            stderr=log,
            **user,  # type: ignore[arg-type]
        )
        deadline = time.monotonic() + READY_WITHIN
        while True:
            try:
                with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=2) as conn:
                    for database in ("postgres", "template1"):  # the doctor's fix
                        conn.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
                return self
            except psycopg.OperationalError:
                assert self.proc.poll() is None, (self.folder / "postgres.log").read_text()
                assert time.monotonic() < deadline, "private PostgreSQL did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class SafeRedis:
    folder: Path
    port: int
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"redis://admin:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> SafeRedis:
        server = shutil.which("redis-server")
        assert server is not None, "no redis-server on PATH"
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--user",
                "default",
                "off",
                "--user",
                "admin",
                "on",
                f">{self.password}",
                "~*",
                "&*",
                "+@all",
            ],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + READY_WITHIN
        client = redis.Redis.from_url(self.admin_url, socket_connect_timeout=2)
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    assert self.proc.poll() is None, (self.folder / "redis.log").read_text()
                    assert time.monotonic() < deadline, "private Redis did not start"
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class SafeServers:
    postgres: SafePostgres
    redis: SafeRedis

    def env(self) -> dict[str, str]:
        """What switches a `democtl serve` onto them (no DEMO_ALLOW_INSECURE: none is needed)."""
        return {
            "DEMO_DATABASE_PROVIDER": "postgres",
            "DEMO_POSTGRES_ADMIN_URL": self.postgres.admin_url,
            "DEMO_REDIS_URL": self.redis.admin_url,
        }


def start_safe_servers() -> tuple[SafeServers, Path]:
    folder = Path(tempfile.mkdtemp(prefix="demo-safe-servers-"))
    folder.chmod(0o711)  # the `postgres` OS user goes through it to its own folder
    (folder / "pg").mkdir()
    (folder / "redis").mkdir()
    pg = SafePostgres(folder / "pg", processes.free_port())
    cache = SafeRedis(folder / "redis", processes.free_port())
    try:
        pg.start()
        cache.start()
    except BaseException:
        pg.stop()
        cache.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return SafeServers(pg, cache), folder


def stop_safe_servers(servers: SafeServers, folder: Path) -> None:
    servers.redis.stop()
    servers.postgres.stop()
    shutil.rmtree(folder, ignore_errors=True)
