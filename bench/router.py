"""Router speed, side by side in one run: the same requests sent to one demo directly and through
the embedded router (`democtl serve`, one Python process). Prints JSON.

Throughput is `wrk` with `--connections` keep-alive connections (one wrk thread, so the load
generator takes at most one of the machine's cores); the added latency is the difference of the
medians with one connection, where no queueing hides it. Both ways send the same `Host` and the
a persona's session cookie, so the demo does the same work. Each round runs both ways back to back
(the order swapped every other round) and gives one ratio; the figures are the medians over
`--rounds` rounds, so a neighbour's load on this shared machine hits both sides of a pair.

    apt-get install -y wrk
    .venv/bin/python bench/router.py                      # splits-network, /healthz and /api/jobs
    .venv/bin/python bench/router.py --blueprint tiny --seconds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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

from demo_orchestrator.providers.processes import carrying, free_port, stop_groups

PATHS = {
    "splits-network": ["/healthz", "/api/jobs?limit=20"],
    "tiny": ["/healthz", "/api/items"],
}
TOKEN = "bench-admin-token-0123456789"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, headers: dict[str, str], connections: int, seconds: int) -> dict[str, float]:
    """One wrk run: requests/s and latency percentiles (ms); non-2xx answers fail the bench."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    output = run.stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    result = {"rps": round(rps, 1)}
    for label, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        found = re.search(rf"^\s+{label}%\s+(\S+)", output, re.MULTILINE)
        result[key] = round(_ms(found.group(1)), 3) if found else float("nan")  # type: ignore[union-attr]
    return result


class Server:
    """`democtl serve` on a free port with one demo of `blueprint`."""

    def __init__(self, blueprint: str, home: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home = home
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
        env.update(
            DEMO_HOME=str(home),
            DEMO_PORT=str(self.port),
            DEMO_ADMIN_TOKEN=TOKEN,
            DEMO_BLUEPRINT=blueprint,
            DEMO_IDLE_MINUTES="0",
        )
        if blueprint == "tiny":
            env["DEMO_BLUEPRINT_PATHS"] = json.dumps([str(ROOT / "tests/blueprints/tiny.yaml")])
        democtl = str(Path(sys.executable).parent / "democtl")
        self.process = subprocess.Popen(
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
        wait(self._healthy, 60)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def demo(self) -> dict[str, Any]:
        instance: dict[str, Any] = self.api.post(
            "/api/v1/demo-instances", json={"scenario": "agency", "duration_hours": 1}
        ).json()
        iid = instance["id"]

        def ready() -> bool:
            nonlocal instance
            instance = self.api.get(f"/api/v1/demo-instances/{iid}").json()
            return bool(instance["status"] == "ready")

        wait(ready, 180)
        return instance

    def close(self) -> None:
        self.api.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        # Fork-servers run in sessions of their own and outlive the server (to be adopted by the
        # next one): stop them and their children, every process that carries this home.
        strays = carrying("DEMO_ORCHESTRATOR_HOME", str(self.home.resolve()))
        if strays:
            stop_groups(strays, grace=1)


def session_cookie(server: Server, instance: dict[str, Any], host: str) -> str:
    """Sign in through the rep's one-click link (else a persona's), through the router; the
    Cookie header. The demo's JSON API answers only a signed-in session."""
    links = [instance["rep_login_url"]] if instance.get("rep_login_url") else []
    links += [p["login_url"] for p in instance["personas"] if p.get("login_url")]
    if not links:
        return ""
    login = httpx.URL(links[0])
    target = login.raw_path.decode()
    with httpx.Client(base_url=server.base, trust_env=False, timeout=30) as web:
        response = web.get(target, headers={"Host": host}, follow_redirects=False)
        if response.status_code >= 400:
            raise SystemExit(f"sign-in failed: {response.status_code}")
        return "; ".join(f"{k}={v}" for k, v in web.cookies.items())


def demo_port(server: Server, instance_id: str, route: str) -> int:
    state = json.loads((server.home / "runtime" / instance_id / "runtime.json").read_text())
    for service in state.values():
        if route in (service.get("routes") or [route]) and service.get("port"):
            return int(service["port"])
    raise SystemExit(f"no port for {instance_id} in runtime.json: {state}")


def paired(
    base_a: str,
    base_b: str,
    path: str,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    swap: bool,
) -> tuple[dict[str, float], dict[str, float]]:
    """One wrk run each way, back to back (order swapped every other round, against drift)."""
    ways = [base_a, base_b][::-1] if swap else [base_a, base_b]
    runs = {base: wrk(base + path, headers, connections, seconds) for base in ways}
    return runs[base_a], runs[base_b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blueprint", default="splits-network", choices=sorted(PATHS))
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    server = Server(args.blueprint, Path(tempfile.mkdtemp(prefix="bench-router-")))
    try:
        instance = server.demo()
        route = "portal"
        host = f"{instance['id']}.{route}.localhost:{server.port}"
        headers = {"Host": host}
        cookie = session_cookie(server, instance, host)
        if cookie:
            headers["Cookie"] = cookie
        direct_base = f"http://127.0.0.1:{demo_port(server, instance['id'], route)}"
        report: dict[str, Any] = {
            "blueprint": args.blueprint,
            "connections": args.connections,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "paths": {},
        }
        for path in PATHS[args.blueprint]:
            for base in (direct_base, server.base):  # warm both ways up, check both answer 2xx
                wrk(base + path, headers, 2, 1)
            rounds = []
            for index in range(args.rounds):
                swap = index % 2 == 1
                loaded = paired(
                    direct_base, server.base, path, headers, args.connections, args.seconds, swap
                )
                single = paired(direct_base, server.base, path, headers, 1, args.seconds, swap)
                rounds.append(
                    {
                        "direct": loaded[0],
                        "router": loaded[1],
                        "direct_1_connection": single[0],
                        "router_1_connection": single[1],
                        "ratio_rps": round(loaded[1]["rps"] / loaded[0]["rps"], 3),
                        "added_ms_median": round(single[1]["p50_ms"] - single[0]["p50_ms"], 3),
                    }
                )
            report["paths"][path] = {
                "ratio_rps": statistics.median(r["ratio_rps"] for r in rounds),
                "added_ms_median": statistics.median(r["added_ms_median"] for r in rounds),
                "rounds": rounds,
            }
        print(json.dumps(report, indent=2))
    finally:
        server.close()


if __name__ == "__main__":
    main()
