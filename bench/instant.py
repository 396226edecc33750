"""Instant demos, measured side by side in one run on one embedded server: create -> ready with
and without the warm pool, a pool claim with a prospect (personalised), wake on the first
request, reset, a rotation of the sign-in links, delete -> gone. Prints JSON.

create -> ready is what a user sees: from the POST until both of the demo's hosts answer through
the router with seeded data; a personalised claim and a reset until the demo is `ready` again and
answers (read through the rep's session, `bench/demo_session.py`); a rotation until the new rep
link reads data. Each figure is a median and p95 over `--count` demos. Beside the reset, claim and rotation times,
how many of the demos' processes were restarted (a service that reloads in place keeps its pid).

    .venv/bin/python bench/instant.py --count 10
    .venv/bin/python bench/instant.py --blueprint tiny
    .venv/bin/python bench/instant.py --blueprint tiny-fork
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_session import read  # bench/, beside this script

from demo_orchestrator.providers.processes import (
    carrying,
    free_port,
    marked_processes,
    pidfile_processes,
    stop_groups,
)

PROBES = {"splits-network": "/api/jobs?limit=1", "tiny": "/api/items", "tiny-fork": "/api/items"}
BLUEPRINT_FILES = {"tiny": "tiny.yaml", "tiny-fork": "tiny_fork.yaml"}
TOKEN = "bench-admin-token-0123456789"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "p95": round(percentile(values, 0.95), 3),
        "n": len(values),
    }


def wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)


class Bench:
    def __init__(self, blueprint: str, home: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.probe = PROBES[blueprint]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
        env.update(
            DEMO_HOME=str(home),
            DEMO_PORT=str(self.port),
            DEMO_ADMIN_TOKEN=TOKEN,
            DEMO_BLUEPRINT=blueprint,
            DEMO_IDLE_MINUTES="0",
            DEMO_MAX_INSTANCES_PER_OWNER="200",
            DEMO_CREATE_RATE_PER_USER="100000/minute",  # the bench creates fast on purpose
        )
        if blueprint in BLUEPRINT_FILES:
            path = ROOT / "tests/blueprints" / BLUEPRINT_FILES[blueprint]
            env["DEMO_BLUEPRINT_PATHS"] = json.dumps([str(path)])
        democtl = str(Path(sys.executable).parent / "democtl")
        self.server = subprocess.Popen(
            [democtl, "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(home / "server.log").open("wb"),
        )
        self.api = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
            trust_env=False,
        )
        self.web = httpx.Client(timeout=30, trust_env=False)
        wait(lambda: self._healthy(), 60)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def answers(self, instance: dict[str, Any]) -> bool:
        for route in instance["urls"]:
            host = f"{instance['id']}.{route}.localhost:{self.port}"
            try:  # through the rep's session, as any tool outside the demo reads it
                response = read(
                    self.web, self.base, host, self.probe, instance.get("rep_login_url")
                )
            except httpx.HTTPError:
                return False
            if response is None or response.status_code != 200:
                return False
        return True

    def status(self, instance_id: str) -> str:
        return str(self.api.get(f"/api/v1/demo-instances/{instance_id}").json()["status"])

    def create(self, scenario: str, **extra: Any) -> tuple[dict[str, Any], float]:
        started = time.monotonic()
        instance = self.api.post(
            "/api/v1/demo-instances", json={"scenario": scenario, "duration_hours": 1, **extra}
        ).json()
        if extra:  # a claim to personalise: ready again with its prospect, then answering
            wait(lambda: self.status(instance["id"]) == "ready" and self.answers(instance), 120)
        else:
            wait(lambda: self.answers(instance), 120)
        return instance, time.monotonic() - started

    def pids(self, instance_id: str) -> set[int]:
        path = self.home / "runtime" / instance_id / "runtime.json"
        try:
            return {int(s["pid"]) for s in json.loads(path.read_text()).values()}
        except (OSError, ValueError):
            return set()

    def pool(self, scenario: str, target: int) -> None:
        self.api.put(f"/api/v1/warm-pool/{scenario}", json={"target": target})

    def pool_ready(self, scenario: str) -> int:
        items = self.api.get("/api/v1/warm-pool").json()["items"]
        return int(next(i for i in items if i["scenario"] == scenario)["ready"])

    def close(self) -> None:
        self.api.close()
        self.web.close()
        self.server.terminate()
        self.server.wait(timeout=30)
        # Demos started by command, forked demos (their pidfiles) and the fork-servers, which
        # outlive an orchestrator by design.
        home = str(self.home.resolve())
        strays = set(marked_processes("DEMO_ORCHESTRATOR_HOME", home))
        strays |= carrying("DEMO_ORCHESTRATOR_HOME", home)
        strays |= set(pidfile_processes(self.home.resolve() / "runtime"))
        if strays:
            stop_groups(strays, grace=1)


def _members(bench: Bench, made: list[tuple[dict[str, Any], float]]) -> list[str]:
    """Ids of the pool members now waiting (demos of this run not yet handed to anyone)."""
    taken = {i["id"] for i, _ in made}
    return [p.name for p in (bench.home / "runtime").glob("demo-*") if p.name not in taken]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--blueprint", default="splits-network", choices=sorted(PROBES))
    parser.add_argument("--scenario", default="agency")
    args = parser.parse_args()
    bench = Bench(args.blueprint, Path(tempfile.mkdtemp(prefix="bench-instant-")))
    scenario = args.scenario
    try:
        warm, _ = bench.create(scenario)  # builds the seeded template: not measured
        bench.api.delete(f"/api/v1/demo-instances/{warm['id']}")
        cold = [bench.create(scenario) for _ in range(args.count)]
        bench.pool(scenario, args.count)
        wait(lambda: bench.pool_ready(scenario) >= args.count, 60 + 10 * args.count)
        pooled = [bench.create(scenario) for _ in range(args.count)]
        wait(lambda: bench.pool_ready(scenario) >= args.count, 60 + 10 * args.count)
        claimed: list[float] = []
        personalised: list[tuple[dict[str, Any], float]] = []
        claim_restarts = 0
        for n in range(args.count):
            before = {i: bench.pids(i) for i in _members(bench, cold + pooled + personalised)}
            prospect = {"company": f"Prospect {n}", "industry": "Logistics"}
            instance, seconds = bench.create(scenario, prospect=prospect)
            claimed.append(seconds)
            claim_restarts += len(before.get(instance["id"], set()) - bench.pids(instance["id"]))
            personalised.append((instance, seconds))
        bench.pool(scenario, 0)
        demos = [instance for instance, _ in cold + pooled + personalised]

        woken: list[float] = []
        for instance in demos[: args.count]:
            bench.api.post(f"/api/v1/demo-instances/{instance['id']}/sleep")
        for instance in demos[: args.count]:
            wait(lambda i=instance: bench.status(i["id"]) == "sleeping", 30)
            started = time.monotonic()
            wait(lambda i=instance: bench.answers(i), 30)
            woken.append(time.monotonic() - started)

        reset: list[float] = []
        reset_restarts = 0
        for instance in demos[: args.count]:
            pids_before = bench.pids(instance["id"])
            started = time.monotonic()
            bench.api.post(f"/api/v1/demo-instances/{instance['id']}/reset")
            wait(lambda i=instance: bench.status(i["id"]) == "ready" and bench.answers(i), 60)
            reset.append(time.monotonic() - started)
            reset_restarts += len(pids_before - bench.pids(instance["id"]))

        rotated: list[float] = []  # new sign-in links until they read data (old ones are dead)
        rotate_restarts = 0
        for instance in demos[: args.count]:
            pids_before = bench.pids(instance["id"])
            started = time.monotonic()
            fresh = bench.api.post(f"/api/v1/demo-instances/{instance['id']}/rotate-links").json()
            wait(lambda i=fresh: bench.status(i["id"]) == "ready" and bench.answers(i), 60)
            rotated.append(time.monotonic() - started)
            rotate_restarts += len(pids_before - bench.pids(instance["id"]))

        gone: list[float] = []
        for instance in demos:
            started = time.monotonic()
            bench.api.delete(f"/api/v1/demo-instances/{instance['id']}")
            wait(lambda i=instance: bench.status(i["id"]) == "deleted", 60)
            gone.append(time.monotonic() - started)
        print(
            json.dumps(
                {
                    "blueprint": args.blueprint,
                    "scenario": scenario,
                    "create_to_ready_seconds": summary([s for _, s in cold]),
                    "create_to_ready_from_pool_seconds": summary([s for _, s in pooled]),
                    "wake_on_first_request_seconds": summary(woken),
                    "pool_claim_personalised_seconds": summary(claimed),
                    "pool_claim_restarted_processes": claim_restarts,
                    "reset_seconds": summary(reset),
                    "reset_restarted_processes": reset_restarts,
                    "rotate_links_seconds": summary(rotated) if rotated else None,
                    "rotate_links_restarted_processes": rotate_restarts,
                    "delete_to_gone_seconds": summary(gone),
                },
                indent=2,
            )
        )
    finally:
        bench.close()


if __name__ == "__main__":
    main()
