"""Sign-in benchmark: the throttle's behaviour and whether answer times tell user names apart.

Starts a real `democtl serve` (tiny blueprint, its own DEMO_HOME) twice:
1. with the default throttle: wrong passwords for one name until the first 429 (attempts before
   it, `Retry-After`), then fresh names from the same address until the address's 429;
2. with the throttle opened wide (so timing is not cut short): `--requests` sign-ins of unknown
   names and of a known name with a wrong password, interleaved, p50/p95 in ms each. The same
   argon2 work for both is the point (tests check the structure: one dummy-hash check per unknown
   name); here the times are measured. Prints JSON.

    .venv/bin/python bench/signin.py --requests 40
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "blueprints" / "tiny.yaml"
TOKEN = "bench-admin-token-0123456789"
PASSWORD = "plum-orbit-cascade-41"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(home: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(port),
        DEMO_BLUEPRINT="tiny",
        DEMO_BLUEPRINT_PATHS=f'["{TINY}"]',
        DEMO_ADMIN_TOKEN=TOKEN,
        DEMO_PREBUILD_TEMPLATES="false",
        **extra,
    )
    democtl = str(Path(sys.executable).parent / "democtl")
    log = (home / "server.log").open("ab")
    proc = subprocess.Popen([democtl, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit(f"server did not start; see {home / 'server.log'}")


def _browser(url: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, trust_env=False, timeout=30)
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return client, found.group(1)


def _attempt(client: httpx.Client, csrf: str, name: str, password: str) -> httpx.Response:
    return client.post("/login", data={"username": name, "password": password, "csrf_token": csrf})


def _add_user(url: str) -> None:
    answer = httpx.post(
        f"{url}/api/v1/users",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"name": "known", "role": "sales", "password": PASSWORD},
        trust_env=False,
    )
    answer.raise_for_status()


def throttle(home: Path) -> dict[str, Any]:
    home.mkdir(parents=True)
    proc, url = _serve(home)
    try:
        _add_user(url)
        client, csrf = _browser(url)
        per_user = 0
        while (answer := _attempt(client, csrf, "known", "wrong-guess")).status_code == 401:
            per_user += 1
        user_retry = answer.headers.get("retry-after")
        right_while_locked = _attempt(client, csrf, "known", PASSWORD).status_code
        names = 0
        while (answer := _attempt(client, csrf, f"n{names}", "wrong-guess")).status_code == 401:
            names += 1
        return {
            "per_user_failures_before_429": per_user,
            "per_user_retry_after_s": int(user_retry or 0),
            "right_password_while_locked": right_while_locked,
            # the per-name lock's failures count towards the address too
            "address_failures_before_429": per_user + names,
            "address_retry_after_s": int(answer.headers.get("retry-after") or 0),
        }
    finally:
        proc.terminate()
        proc.wait(15)


def timing(home: Path, requests: int) -> dict[str, Any]:
    home.mkdir(parents=True)
    wide = "100000/minute"
    proc, url = _serve(home, DEMO_LOGIN_RATE_PER_USER=wide, DEMO_LOGIN_RATE_PER_ADDRESS=wide)
    try:
        _add_user(url)
        client, csrf = _browser(url)
        times: dict[str, list[float]] = {"unknown_name": [], "known_name_wrong_password": []}
        for i in range(requests):
            for case, name in (
                ("unknown_name", f"ghost{i}"),
                ("known_name_wrong_password", "known"),
            ):
                started = time.perf_counter()
                assert _attempt(client, csrf, name, "wrong-guess").status_code == 401
                times[case].append((time.perf_counter() - started) * 1000)
        return {
            case: {
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": round(sorted(values)[int(len(values) * 0.95) - 1], 1),
            }
            for case, values in times.items()
        }
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        result = {
            "throttle_defaults": throttle(Path(scratch) / "one"),
            "timing": timing(Path(scratch) / "two", args.requests),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
