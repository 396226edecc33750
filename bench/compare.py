"""Side by side: the provisioning benchmark and the store transactions per create, for an older
commit and for this tree, in one run with their rounds interleaved (this machine is shared and
noisy; only figures taken together compare). Prints JSON.

The older commit's `src` is exported with `git archive` to a temporary folder and put first on
PYTHONPATH, so the same virtualenv (same dependencies) runs both.

    .venv/bin/python bench/compare.py --baseline 2ef97e9 --rounds 3 --count 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def export(revision: str) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "src", "blueprints"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{revision[:8]}-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def run(script: str, src: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{script} on {src} failed:\n{result.stderr[-2000:]}")
    return dict(json.loads(result.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a commit to compare this tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--blueprint", default="splits-network")
    args = parser.parse_args()
    trees = {"baseline": export(args.baseline), "current": ROOT / "src"}
    provision: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            provision[name].append(
                run(
                    "provision.py",
                    trees[name],
                    "--count",
                    str(args.count),
                    "--concurrency",
                    str(args.concurrency),
                    "--blueprint",
                    args.blueprint,
                )
            )
    transactions = {
        name: run("transactions.py", src, "--count", "5") for name, src in trees.items()
    }

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        def med(path: tuple[str, ...]) -> float:
            values = []
            for item in runs:
                value: Any = item
                for key in path:
                    value = value[key]
                values.append(float(value))
            return round(statistics.median(values), 3)

        return {
            "create_to_ready_median_s": med(("create_to_ready_seconds", "median")),
            "create_to_ready_p95_s": med(("create_to_ready_seconds", "p95")),
            "delete_to_gone_median_s": med(("delete_to_gone_seconds", "median")),
            "orchestrator_rss_mb": med(("orchestrator_rss_mb",)),
            "demo_uss_mb_median": med(("demo_process_uss_mb_median",)),
            "demo_pss_mb_median": med(("demo_process_pss_mb_median",)),
            "pss_mb_per_demo": med(("pss_mb_per_demo",)),
            "idle_demo_uss_mb_median": med(("idle", "demo_process_uss_mb_median")),
            "idle_pss_mb_per_demo": med(("idle", "pss_mb_per_demo")),
            "fork_server_rss_mb": med(("fork_server_rss_mb",)),
            "rounds": [r["create_to_ready_seconds"]["median"] for r in runs],
        }

    print(
        json.dumps(
            {
                "baseline": args.baseline,
                "blueprint": args.blueprint,
                "count": args.count,
                "concurrency": args.concurrency,
                "provision": {name: summary(runs) for name, runs in provision.items()},
                "write_transactions_per_create": {
                    name: t["write_transactions_per_create"]["median"]
                    for name, t in transactions.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
