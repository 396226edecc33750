"""Booked-demo benchmark: how far ahead of its start a booked demo is ready, on a real
`democtl serve`; prints JSON.

First `--history` demos are made at once, one after the other, so the scenario has measured
provisioning times (the warm-up demo that builds the seeded template is not one of them: it is
deleted before they start, but the store keeps its times too). Then `--bookings` demos are booked
`--ahead` seconds ahead; each is polled until `ready`: the hand-off (when it left `scheduled`), the
lead time the engine used (start minus hand-off), the make time (hand-off to ready) and the margin
(ready before the start: what the meeting gets). A margin below zero is a demo late for its
meeting.

    .venv/bin/python bench/booking.py --blueprint tiny --history 5 --bookings 3 --ahead 40
    .venv/bin/python bench/booking.py --env DEMO_BOOKING_LEAD_FACTOR=1.2
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_orchestrator.providers.processes import (
    carrying,
    free_port,
    marked_processes,
    pidfile_processes,
    stop_groups,
)

TOKEN = "bench-admin-token-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blueprint", default="tiny")
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--bookings", type=int, default=3)
    parser.add_argument("--ahead", type=float, default=40.0, help="seconds from booking to start")
    parser.add_argument("--env", action="append", default=[], help="DEMO_KEY=VALUE, repeatable")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-booking-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(port),
        DEMO_ADMIN_TOKEN=TOKEN,
        DEMO_BLUEPRINT=args.blueprint,
        DEMO_STOP_GRACE_SECONDS="2",
        DEMO_BOOKING_LEAD_FLOOR_SECONDS="1",  # measure the derived lead, not the floor
        DEMO_MAX_INSTANCES_PER_OWNER=str(max(20, args.bookings + 2)),
        DEMO_CREATE_RATE_PER_USER="100000/minute",
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
        made: list[float] = []
        for _ in range(args.history + 1):  # the first builds the seeded template
            began = time.monotonic()
            instance = api.post("/api/v1/demo-instances", json={"duration_hours": 1}).json()
            _wait(lambda i=instance: _status(api, i["id"]) == "ready", 600)
            made.append(time.monotonic() - began)
            api.delete(f"/api/v1/demo-instances/{instance['id']}")
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=args.ahead)
        booked = [
            api.post(
                "/api/v1/demo-instances",
                json={"duration_hours": 0.5, "starts_at": start.isoformat()},
            ).json()
            for _ in range(args.bookings)
        ]
        handed: dict[str, datetime] = {}
        ready: dict[str, datetime] = {}
        deadline = time.monotonic() + args.ahead + 600
        while len(ready) < len(booked) and time.monotonic() < deadline:
            for instance in booked:
                if instance["id"] in ready:
                    continue
                status = _status(api, instance["id"])
                now = datetime.now(UTC)
                if status != "scheduled":
                    handed.setdefault(instance["id"], now)
                if status == "ready":
                    ready[instance["id"]] = now
                if status == "failed":
                    raise SystemExit(f"{instance['id']} failed")
            time.sleep(0.05)
        rows = [
            {
                "id": i["id"],
                "lead_seconds": round((start - handed[i["id"]]).total_seconds(), 2),
                "make_seconds": round((ready[i["id"]] - handed[i["id"]]).total_seconds(), 2),
                "ready_before_start_seconds": round((start - ready[i["id"]]).total_seconds(), 2),
            }
            for i in booked
            if i["id"] in ready
        ]
        print(
            json.dumps(
                {
                    "blueprint": args.blueprint,
                    "history_make_seconds": {
                        "median": round(statistics.median(made[1:]), 3) if made[1:] else None,
                        "max": round(max(made[1:]), 3) if made[1:] else None,
                    },
                    "bookings": rows,
                    "late": len(booked) - sum(r["ready_before_start_seconds"] > 0 for r in rows),
                    "min_margin_seconds": min(
                        (r["ready_before_start_seconds"] for r in rows), default=None
                    ),
                },
                indent=2,
            )
        )
    finally:
        api.close()
        server.terminate()
        server.wait(timeout=30)
        strays = carrying("DEMO_ORCHESTRATOR_HOME", str(home.resolve()))
        strays |= set(marked_processes("DEMO_ORCHESTRATOR_HOME", str(home.resolve())))
        strays |= set(pidfile_processes(home.resolve() / "runtime"))
        if strays:
            stop_groups(strays, grace=1)


def _status(api: httpx.Client, instance_id: str) -> str:
    return str(api.get(f"/api/v1/demo-instances/{instance_id}").json()["status"])


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
