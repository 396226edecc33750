"""Event streams benchmark: the API list of 1,000 demos with and without 200 open event streams.

DESIGN target: list of 1,000 instances p99 <= 50 ms, also with 200 event streams open. The store
is filled as in `bench/api_list.py` (records only, no processes; the engine is off), one
`democtl serve` answers. Each round lists `--requests` pages of 50 with no stream open, then
opens `--streams` event streams (`GET /api/v1/demo-instances/{id}/events` on as many demos, raw
sockets whose bytes are read and dropped by one thread), waits until each has its `snapshot`,
and lists `--requests` pages again; the streams close at the end of the round. Rounds alternate
so the noise of this shared machine falls on both alike. Prints JSON: p50/p95/p99 in ms of both,
side by side.

    .venv/bin/python bench/streams.py --instances 1000 --streams 200 --requests 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_list import TINY, TOKEN, fill, free_port, percentiles, store


@contextmanager
def serve(args: argparse.Namespace) -> Iterator[tuple[httpx.Client, int]]:
    home = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    with store(args.store, home) as url:
        fill(url, home, args.instances, 0, 0)
        port = free_port()
        env.update(
            DEMO_HOME=str(home),
            DEMO_PORT=str(port),
            DEMO_STORE_URL=url,
            DEMO_ADMIN_TOKEN=TOKEN,
            DEMO_BLUEPRINT="tiny",
            DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY)]),
            DEMO_ENGINE="false",  # API only: the records have no processes
            DEMO_MAX_STREAMS_PER_USER=str(args.streams),
            DEMO_MAX_STREAMS=str(args.streams),
        )
        log = (home / "serve.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "democtl"), "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"server did not start; log: {home / 'serve.log'}")
                time.sleep(0.05)
            with httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {TOKEN}"},
                trust_env=False,
                timeout=60,
            ) as client:
                yield client, port
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


class Streams:
    """`count` open event streams on raw sockets; one thread reads (and drops) what comes."""

    def __init__(self, port: int, ids: list[str]) -> None:
        self.selector = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        self.snapshots = 0
        self.refused = 0
        self._lock = threading.Lock()
        for instance_id in ids:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                f"GET /api/v1/demo-instances/{instance_id}/events HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
            )
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, bytearray())
            self.socks.append(sock)
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            for key, _ in self.selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                seen: bytearray = key.data
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.selector.unregister(sock)
                    continue
                if len(seen) < 4096:  # only the start matters: status line and snapshot
                    before = b"event: snapshot" in seen
                    refused_before = seen.startswith(b"HTTP/1.1 429")
                    seen.extend(chunk)
                    with self._lock:
                        if not before and b"event: snapshot" in seen:
                            self.snapshots += 1
                        if not refused_before and seen.startswith(b"HTTP/1.1 429"):
                            self.refused += 1

    def wait_open(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.snapshots + self.refused < len(self.socks):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.snapshots} of {len(self.socks)} streams opened")
            time.sleep(0.01)
        if self.refused:
            raise SystemExit(f"{self.refused} streams refused (429)")

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        for sock in self.socks:
            sock.close()
        self.selector.close()


def timed_list(client: httpx.Client, requests: int) -> list[float]:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get("/api/v1/demo-instances", params={"limit": 50})
        timings.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"list: {answer.status_code} {answer.text[:300]}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200, help="list calls per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    without: list[float] = []
    with_streams: list[float] = []
    with serve(args) as (client, port):
        ids = [
            i["id"]
            for i in client.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"]
        ]
        ids = (ids * (args.streams // max(1, len(ids)) + 1))[: args.streams]
        timed_list(client, 20)  # warm up
        for _ in range(args.rounds):
            without += timed_list(client, args.requests)
            streams = Streams(port, ids)
            try:
                streams.wait_open()
                with_streams += timed_list(client, args.requests)
            finally:
                streams.close()
    result: dict[str, Any] = {
        "store": args.store,
        "instances": args.instances,
        "streams": args.streams,
        "requests": args.requests * args.rounds,
        "list_50_ms": {
            "without_streams": percentiles(without),
            f"with_{args.streams}_streams": percentiles(with_streams),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
