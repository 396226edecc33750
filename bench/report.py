"""Every instant-demos target measured in one run: one JSON and a small PNG chart for the README.

Runs the benches of this folder one after the other on this machine (each starts its own server
and cleans up after itself), takes each figure the targets name from their JSON and sets it beside
its target. The chart shows each figure as a share of its target (left of the line: met).

    .venv/bin/pip install -e '.[bench]'        # matplotlib, for the chart
    .venv/bin/python bench/report.py           # the full set (about 10 minutes on 2 cores)
    .venv/bin/python bench/report.py --quick   # smaller counts, the same shape
    .venv/bin/python bench/report.py --only instant,router --out /tmp/report

Data services (PostgreSQL, Redis, RabbitMQ) are taken from the usual local addresses; pass
`--no-services` where none runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

SERVICES = [
    "DEMO_DATABASE_PROVIDER=postgres",
    "DEMO_POSTGRES_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres",
    "DEMO_REDIS_URL=redis://127.0.0.1:6379/0",
    "DEMO_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/",
    "DEMO_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672",
    "DEMO_ALLOW_INSECURE=true",  # this machine's PostgreSQL and Redis are permissive on purpose
]


@dataclass(frozen=True)
class Target:
    """One figure of the issue's targets: where it is in a bench's JSON and the bound it meets."""

    name: str
    run: str
    path: tuple[str, ...]
    bound: float
    unit: str
    at_least: bool = False  # a floor (requests/s passed through), not a ceiling

    def measured(self, runs: dict[str, Any]) -> float | None:
        value: Any = runs.get(self.run)
        for key in self.path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) else None


TARGETS = [
    Target("create -> ready, median", "instant", ("create_to_ready_seconds", "median"), 0.25, "s"),
    Target("create -> ready, p95", "instant", ("create_to_ready_seconds", "p95"), 0.5, "s"),
    Target(
        "create -> ready from the pool, median",
        "instant",
        ("create_to_ready_from_pool_seconds", "median"),
        0.1,
        "s",
    ),
    Target(
        "create -> ready on postgres+redis+rabbitmq, median",
        "services",
        ("create_to_ready_seconds", "median"),
        1.0,
        "s",
    ),
    Target(
        "wake on first request, median",
        "instant",
        ("wake_on_first_request_seconds", "median"),
        1.0,
        "s",
    ),
    Target("reset, median", "instant", ("reset_seconds", "median"), 1.0, "s"),
    Target("delete -> all gone, median", "instant", ("delete_to_gone_seconds", "median"), 2.0, "s"),
    Target(
        "router / direct requests/s, /healthz",
        "router",
        ("paths", "/healthz", "ratio_rps"),
        0.7,
        "ratio",
        at_least=True,
    ),
    Target(
        "router / direct requests/s, /api/jobs",
        "router",
        ("paths", "/api/jobs?limit=20", "ratio_rps"),
        0.7,
        "ratio",
        at_least=True,
    ),
    Target(
        "router added latency, /healthz, median",
        "router",
        ("paths", "/healthz", "added_ms_median"),
        2.0,
        "ms",
    ),
    Target(
        "router added latency, /api/jobs, median",
        "router",
        ("paths", "/api/jobs?limit=20", "added_ms_median"),
        2.0,
        "ms",
    ),
    Target("API list of 1,000, page 50, p99", "api_list", ("list_limit_50_ms", "p99"), 50.0, "ms"),
    Target(
        "API list p99, 1,000 sleeping + 300 awake demos, page 50",
        "api_list_sleeping",
        ("list_limit_50_ms", "p99"),
        50.0,
        "ms",
    ),
    Target(
        "unique memory per awake demo (density)",
        "density",
        ("demo_process_uss_mb_median",),
        15.0,
        "MB",
    ),
    Target(
        "API list p99 with the 300 awake demos held",
        "density",
        ("api_list_limit_50_ms_with_demos_held", "p99"),
        50.0,
        "ms",
    ),
]


def commands(quick: bool, services: bool) -> dict[str, list[str]]:
    """Each bench of the report and its arguments."""
    count = "3" if quick else "10"
    density = "30" if quick else "300"
    python = sys.executable
    runs = {
        "instant": [python, str(BENCH / "instant.py"), "--count", count],
        "router": [python, str(BENCH / "router.py")],
        "api_list": [python, str(BENCH / "api_list.py"), "--instances", "1000"]
        + (["--requests", "50"] if quick else []),
        # the density target's other half: 1,000 sleeping demos held (they have no processes,
        # so records are what they are) beside 300 awake ones and a warm pool
        "api_list_sleeping": [
            python,
            str(BENCH / "api_list.py"),
            "--instances",
            "300",
            "--sleeping",
            "1000",
            "--pool",
            "50",
        ]
        + (["--requests", "50"] if quick else []),
        "density": [
            python,
            str(BENCH / "provision.py"),
            "--count",
            density,
            "--concurrency",
            "4",
            "--settle",
            "2" if quick else "12",
        ],
    }
    if services:
        runs["services"] = [
            python,
            str(BENCH / "provision.py"),
            "--count",
            "3" if quick else "10",
            "--concurrency",
            "1",
            "--settle",
            "0",
        ] + [arg for pair in SERVICES for arg in ("--env", pair)]
    return runs


def run_one(argv: list[str], timeout: float) -> dict[str, Any]:
    """A bench's JSON, or {"error": ...} with the tail of what it said when it failed."""
    if not Path(argv[1]).exists():
        return {"error": f"{Path(argv[1]).name} is not in bench/"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"ran past {timeout:.0f} s"}
    took = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail), "seconds": took}
    try:
        found: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    except ValueError:
        return {"error": "no JSON in its output", "seconds": took}
    found["bench_seconds"] = took
    return found


def judge(runs: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        value = target.measured(runs)
        met = None
        if value is not None:
            met = value >= target.bound if target.at_least else value <= target.bound
        rows.append(
            {
                "name": target.name,
                "measured": value,
                "target": target.bound,
                "unit": target.unit,
                "bound": "at least" if target.at_least else "at most",
                "met": met,
            }
        )
    return rows


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Each figure as a share of its target (floors inverted, so left of 1 is always met)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["measured"] is not None]
    shares = [
        (r["target"] / r["measured"] if r["measured"] else 10.0)
        if r["bound"] == "at least"
        else r["measured"] / r["target"]
        for r in shown
    ]
    labels = [
        f"{r['name']}: {r['measured']:.3g} {r['unit']} "
        f"({'>=' if r['bound'] == 'at least' else '<='} {r['target']:g})"
        for r in shown
    ]
    colours = ["#2e7d32" if r["met"] else "#c62828" for r in shown]
    figure, axes = plt.subplots(figsize=(9, 0.38 * len(shown) + 1.0), dpi=100)
    axes.barh(range(len(shown)), shares, color=colours)
    axes.axvline(1.0, color="#333", linewidth=1)
    axes.set_yticks(range(len(shown)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("share of target (log; left of the line: met)", fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.set_title("Instant demos on this 2-core machine (bench/report.py)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit or None,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main(
    argv: list[str] | None = None, run: Callable[[list[str], float], dict[str, Any]] = run_one
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, the same shape")
    parser.add_argument("--no-services", action="store_true", help="skip postgres+redis+rabbitmq")
    parser.add_argument("--only", default="", help="comma-separated runs, e.g. instant,router")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per bench")
    args = parser.parse_args(argv)

    planned = commands(args.quick, not args.no_services)
    wanted = [name for name in args.only.split(",") if name] or list(planned)
    unknown = sorted(set(wanted) - set(planned))
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(planned)}")
    report: dict[str, Any] = {"machine": machine(), "quick": args.quick, "runs": {}}
    for name in wanted:
        print(f"report: running {name} ...", file=sys.stderr, flush=True)
        report["runs"][name] = run(planned[name], args.timeout)
    report["targets"] = judge(report["runs"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    try:
        chart(report["targets"], args.out / "report.png")
    except ImportError:
        print("report: no matplotlib, no chart (pip install -e '.[bench]')", file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
