"""Provisioning benchmark: create N demos (with a given concurrency) on a fresh embedded server,
then delete them; print JSON.

create -> ready is measured as a user sees it: from the POST until both of the demo's hosts answer
through the router with seeded data. delete -> gone: from the DELETE until the instance is
`deleted` and none of its processes is alive. Memory: the orchestrator's RSS with every demo ready,
each demo's processes' RSS, USS (unique memory) and PSS (proportional: shared pages divided among
the processes sharing them), once every demo is ready and again after `--settle` seconds idle;
the fork-servers' own memory; and the PSS of the whole set (demos and fork-servers) per demo,
which is what each awake demo costs the machine. Demo processes are found by their pidfiles
(forked) or their environment (started by command), so the script measures older trees too.

    .venv/bin/python bench/provision.py --count 20 --concurrency 4
    .venv/bin/python bench/provision.py --blueprint tiny        # the test blueprint
    # on this machine's permissive PostgreSQL (trust): serve refuses it without the last --env
    .venv/bin/python bench/provision.py --env DEMO_DATABASE_PROVIDER=postgres \
        --env DEMO_POSTGRES_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        --env DEMO_ALLOW_INSECURE=true
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_session import read  # bench/, beside this script

from demo_orchestrator.providers.processes import (
    carrying,
    free_port,
    is_alive,
    marked_processes,
    pidfile_processes,
    stop_groups,
)

PROBES = {"splits-network": "/api/jobs?limit=1", "tiny": "/api/items"}
TOKEN = "bench-admin-token-0123456789"


def memory_kb(pid: int) -> tuple[int, int, int]:
    """(RSS, USS, PSS) of a process in kB, from /proc/<pid>/smaps_rollup."""
    rss = uss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0])
            elif key == "Pss":
                pss = int(value.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                uss += int(value.split()[0])
    except OSError:
        pass
    return rss, uss, pss


def demo_pids(home: Path) -> dict[int, str]:
    """pid -> instance of every demo process: forked (pidfile) or started by command (environ)."""
    found = marked_processes("DEMO_ORCHESTRATOR_HOME", str(home))
    found.update(pidfile_processes(home / "runtime"))
    return found


def fork_server_pids(home: Path) -> set[int]:
    found = set()
    for path in (home / "forkservers").glob("*/server.json"):
        info = json.loads(path.read_text())
        if is_alive(int(info["pid"]), info.get("started")):
            found.add(int(info["pid"]))
    return found


def memory(home: Path, count: int) -> dict[str, Any]:
    """Medians per demo process, the fork-servers' own, and the whole set's PSS per demo."""
    demos = [memory_kb(pid) for pid in demo_pids(home)]
    servers = [memory_kb(pid) for pid in fork_server_pids(home)]

    def median_mb(values: list[tuple[int, int, int]], index: int) -> float | None:
        return round(statistics.median(v[index] for v in values) / 1024, 1) if values else None

    pss_total = sum(v[2] for v in demos + servers) / 1024
    return {
        "demo_process_rss_mb_median": median_mb(demos, 0),
        "demo_process_uss_mb_median": median_mb(demos, 1),
        "demo_process_pss_mb_median": median_mb(demos, 2),
        "fork_servers": len(servers),
        "fork_server_rss_mb": round(sum(v[0] for v in servers) / 1024, 1),
        "fork_server_uss_mb": round(sum(v[1] for v in servers) / 1024, 1),
        "pss_sum_mb": round(pss_total, 1),
        "pss_mb_per_demo": round(pss_total / count, 2) if count else None,
    }


def list_latency(api: httpx.Client, requests: int) -> dict[str, float]:
    """Median and p99 of the API list's first page (50) while every demo is held."""
    api.get("/api/v1/demo-instances", params={"limit": 50})  # warm up
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = api.get("/api/v1/demo-instances", params={"limit": 50})
        timings.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return {
        "median": round(statistics.median(timings), 2),
        "p99": round(percentile(timings, 0.99), 2),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--scenario", default=None)
    parser.add_argument("--blueprint", default="splits-network", choices=sorted(PROBES))
    parser.add_argument(
        "--settle", type=float, default=12, help="idle seconds before the second memory look"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DEMO_ setting for the server (e.g. DEMO_DATABASE_PROVIDER=postgres), repeatable",
    )
    parser.add_argument(
        "--list-requests", type=int, default=200, help="API list pages timed while demos are held"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-provision-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(port),
        DEMO_ADMIN_TOKEN=TOKEN,
        DEMO_BLUEPRINT=args.blueprint,
        DEMO_STOP_GRACE_SECONDS="2",
        # Density runs hold hundreds of demos: quotas (200 live, 20 per owner) must not refuse them.
        DEMO_MAX_INSTANCES=str(max(200, args.count + 1)),
        DEMO_MAX_INSTANCES_PER_OWNER=str(max(20, args.count + 1)),
        DEMO_CREATE_RATE_PER_USER="100000/minute",  # ...nor the create rate
    )
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("DEMO_"):
            raise SystemExit(f"--env takes DEMO_KEY=VALUE, not {pair!r}")
        env[key] = value
    if args.blueprint == "tiny":
        env["DEMO_BLUEPRINT_PATHS"] = json.dumps([str(ROOT / "tests" / "blueprints" / "tiny.yaml")])
    democtl = str(Path(sys.executable).parent / "democtl")
    server = subprocess.Popen(
        [democtl, "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60, trust_env=False
    )
    try:
        _wait(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200, 60)
        scenario = args.scenario
        # Warm-up: the first demo of a scenario builds its seeded template (not measured).
        warm = api.post("/api/v1/demo-instances", json=_body(scenario)).json()
        template_started = time.monotonic()
        _wait(
            lambda: api.get(f"/api/v1/demo-instances/{warm['id']}").json()["status"] == "ready", 600
        )
        template_seconds = time.monotonic() - template_started
        api.delete(f"/api/v1/demo-instances/{warm['id']}")
        probe = PROBES[args.blueprint]

        def create_one(_: int) -> tuple[str, float]:
            started = time.monotonic()
            instance = api.post("/api/v1/demo-instances", json=_body(scenario)).json()
            rep = instance.get("rep_login_url")  # seeded data is read through the rep's session
            for route in instance["urls"]:
                host = f"{instance['id']}.{route}.localhost:{port}"
                _wait(lambda h=host: _answers(base, h, probe, rep), 120)
            return instance["id"], time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            created = list(pool.map(create_one, range(args.count)))
        wall = time.monotonic() - started
        ready = [seconds for _, seconds in created]

        at_ready = memory(home.resolve(), args.count)
        server_rss = memory_kb(server.pid)[0]
        listing = list_latency(api, args.list_requests)  # the API still answers with all held
        time.sleep(args.settle)  # idle: worker threads of the demos time out (anyio: 10 s)
        idle = memory(home.resolve(), args.count)

        def delete_one(instance_id: str) -> float:
            started = time.monotonic()
            api.delete(f"/api/v1/demo-instances/{instance_id}")
            _wait(
                lambda: (
                    api.get(f"/api/v1/demo-instances/{instance_id}").json()["status"] == "deleted"
                    and instance_id not in demo_pids(home.resolve()).values()
                ),
                60,
            )
            return time.monotonic() - started

        with ThreadPoolExecutor(args.concurrency) as pool:
            gone = list(pool.map(delete_one, [i for i, _ in created]))

        print(
            json.dumps(
                {
                    "blueprint": args.blueprint,
                    "scenario": scenario or "default",
                    "count": args.count,
                    "concurrency": args.concurrency,
                    "template_build_seconds": round(template_seconds, 3),
                    "create_to_ready_seconds": {
                        "median": round(statistics.median(ready), 3),
                        "p95": round(percentile(ready, 0.95), 3),
                        "max": round(max(ready), 3),
                    },
                    "creates_per_second": round(args.count / wall, 2),
                    "delete_to_gone_seconds": {
                        "median": round(statistics.median(gone), 3),
                        "p95": round(percentile(gone, 0.95), 3),
                    },
                    "orchestrator_rss_mb": round(server_rss / 1024, 1),
                    "orchestrator_rss_mb_per_ready_demo": round(server_rss / 1024 / args.count, 2),
                    "api_list_limit_50_ms_with_demos_held": listing,
                    "settings": sorted(args.env),
                    **at_ready,
                    "idle_seconds": args.settle,
                    "idle": idle,
                },
                indent=2,
            )
        )
    finally:
        api.close()
        server.terminate()
        server.wait(timeout=30)
        strays = carrying("DEMO_ORCHESTRATOR_HOME", str(home.resolve()))  # fork-servers too
        strays |= set(demo_pids(home.resolve()))
        if strays:
            stop_groups(strays, grace=1)


def _body(scenario: str | None) -> dict[str, Any]:
    return {"duration_hours": 1, **({"scenario": scenario} if scenario else {})}


_PROBES = threading.local()


def _answers(base: str, host: str, probe: str, rep_login_url: str | None) -> bool:
    # One kept-alive client per thread, like a browser's: `httpx.get` builds a client and its TLS
    # context per call (tens of ms on a loaded machine), which the figure must not count.
    client = getattr(_PROBES, "client", None)
    if client is None:
        client = _PROBES.client = httpx.Client(timeout=5, trust_env=False)
    try:
        response = read(client, base, host, probe, rep_login_url)
    except httpx.HTTPError:
        return False
    return (
        response is not None and response.status_code == 200 and response.json().get("total", 0) > 0
    )


def _wait(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
