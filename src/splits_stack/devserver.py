"""Run a stack as a child process on a free port and wait until it is healthy.

Used by the integration tests, the browser tests and `bench/seed.py` (which measures start-up
time), the same way the orchestrator's local runtime starts it: `python -m splits_stack serve`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StackProcess:
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    ready_s: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, site: str, instance: str = "demo-test") -> str:
        """Browser-facing URL on a `*.localhost` host that routes to `site` (portal/candidate)."""
        return f"http://{instance}.{site}.localhost:{self.port}"

    def start(self, timeout_s: float = 15.0) -> StackProcess:
        env = {**os.environ, "DATABASE_URL": self.database_url, **self.env}
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "splits_stack",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        if out is not subprocess.DEVNULL:
            out.close()  # type: ignore[union-attr]
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"stack exited with {self.proc.returncode}; log: {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        self.ready_s = time.perf_counter() - started
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"stack on port {self.port} not healthy after {timeout_s}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
