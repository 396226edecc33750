"""Share benchmark: how long "at once" is for the prospect's link.

Starts a real `democtl serve` (splits-network blueprint, its own DEMO_HOME), makes one agency
demo, then `--rounds` times: `POST .../share` until its link opens a session in the running demo
(the share reaches the demo by a reload in place), and `DELETE .../share` until that session and
the link are refused. Seconds per round (p50, max) as JSON.

    .venv/bin/python bench/share.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from demo_orchestrator.providers.processes import carrying, pidfile_processes, stop_groups

TOKEN = "bench-admin-token-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(port),
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_ADMIN_TOKEN=TOKEN,
        DEMO_PREBUILD_TEMPLATES="false",
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


def _until(check: Callable[[], bool], timeout: float = 60) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
    return time.monotonic() - started


def _ready(api: httpx.Client, ident: str) -> bool:
    return bool(api.get(f"/api/v1/demo-instances/{ident}").json()["status"] == "ready")


def _round(api: httpx.Client, url: str, ident: str) -> tuple[float, float]:
    """Seconds from the share to its link opening a session, and from the revoke to that
    session being refused."""
    started = time.monotonic()
    link = urlsplit(api.post(f"/api/v1/demo-instances/{ident}/share", json={}).json()["url"])
    with httpx.Client(base_url=url, headers={"Host": link.netloc}, timeout=10) as web:
        _until(lambda: web.get(f"{link.path}?{link.query}").status_code == 303)
        opened = time.monotonic() - started
        _until(lambda: _ready(api, ident))
        started = time.monotonic()
        api.delete(f"/api/v1/demo-instances/{ident}/share")
        _until(lambda: web.get("/api/companies").status_code == 401)
        closed = time.monotonic() - started
        _until(lambda: _ready(api, ident))
    return opened, closed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-share-"))
    proc, url = _serve(home)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    shared: list[float] = []
    revoked: list[float] = []
    try:
        made = api.post("/api/v1/demo-instances", json={"scenario": "agency", "duration_hours": 1})
        ident = made.json()["id"]
        _until(lambda: _ready(api, ident), 180)
        for _ in range(args.rounds):
            opened, closed = _round(api, url, ident)
            shared.append(opened)
            revoked.append(closed)
    finally:
        api.close()
        proc.terminate()
        proc.wait(timeout=30)
        # the demo and its fork-server outlive the server by design: stop what this run started
        strays = carrying("DEMO_ORCHESTRATOR_HOME", str(home.resolve()))
        strays |= set(pidfile_processes(home.resolve() / "runtime"))
        if strays:
            stop_groups(strays, grace=1)
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "share_to_link_open_s": {
                    "p50": round(statistics.median(shared), 3),
                    "max": round(max(shared), 3),
                },
                "revoke_to_session_refused_s": {
                    "p50": round(statistics.median(revoked), 3),
                    "max": round(max(revoked), 3),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
