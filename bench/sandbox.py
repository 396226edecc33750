"""What the local runtime's sandbox costs: a demo of tests/blueprints/tiny_sandbox.yaml (one
service forked, one started by command) from `ensure` until both answer, with the sandbox on
(own uid, cgroup, mount namespace after the fork, bwrap) and off, in one run. Median and p95
over `--count` demos each, in milliseconds; prints JSON. Needs root for the `on` figures.

    .venv/bin/python bench/sandbox.py --count 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import NotReady
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.sandbox import SandboxSettings, sandbox_capabilities
from demo_orchestrator.providers.sqlite_db import SqliteDatabase
from tests.conftest import stop_everything_of

BLUEPRINT = ROOT / "tests" / "blueprints" / "tiny_sandbox.yaml"


def run(count: int, enabled: bool) -> dict[str, float]:
    settings = SandboxSettings(sandbox_enabled=enabled)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        runtime = LocalRuntime(home=home, stop_grace=1, sandbox=settings)
        database = SqliteDatabase(home=home, sandbox=settings)
        blueprint = load_blueprint(BLUEPRINT)
        scenario = blueprint.scenarios[0]
        timings = []
        ids = [f"demo-bench{i:02d}" for i in range(count + 1)]  # the first warms the fork-server
        try:
            for instance_id in ids:
                plain = InstanceSpec(
                    instance_id=instance_id, blueprint=blueprint, scenario=scenario
                )
                env = database.ensure(spec=plain).env
                spec = InstanceSpec(
                    instance_id=instance_id, blueprint=blueprint, scenario=scenario, env=env
                )
                started = time.perf_counter()
                while True:
                    try:
                        runtime.ensure(spec=spec)
                        break
                    except NotReady as exc:
                        time.sleep(exc.delay)
                runtime.wait_healthy(instance_id=instance_id, timeout=30)
                timings.append((time.perf_counter() - started) * 1000)
        finally:
            for instance_id in ids:
                runtime.destroy(instance_id=instance_id)
                database.destroy(instance_id=instance_id)
            runtime.close()
            stop_everything_of(home)
    measured = sorted(timings[1:])
    return {
        "median_ms": round(statistics.median(measured), 1),
        "p95_ms": round(measured[min(len(measured) - 1, int(len(measured) * 0.95))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    result = {
        "count": args.count,
        "capabilities": sandbox_capabilities(),
        "ensure_to_healthy_sandbox_off": run(args.count, False),
        "ensure_to_healthy_sandbox_on": run(args.count, True),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
