"""The wire between the local runtime and a fork-server: one JSON object per line, one request
per connection, over a Unix socket under DEMO_HOME.

Why this small: the fork-server must stay a plain stdlib process (whatever it imports, every demo
child inherits), and a request a line keeps both sides trivially debuggable
(`socat - UNIX-CONNECT:control.sock`). Requests: `{"op": "hello"}` -> who it is;
`{"op": "spawn", ...}` -> `{"pid", "started"}` of the child, already leading its own process
group; `{"op": "retire"}` -> it exits once its last child has. Every answer has `"ok"`, and
`"error"` when false. Stdlib only, like the fork-server.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SOCKET = "control.sock"
INFO = "server.json"
LOG = "server.log"
MAX_MESSAGE = 1 << 20  # a spawn carries the demo's environment: a few kB
# sun_path holds 108 bytes; DEMO_HOME can be deeper (pytest's tmp_path is), so a longer path is
# reached through an open file descriptor of its folder.
_SUN_PATH_MAX = 100

T = TypeVar("T")


class ProtocolError(OSError):
    """The other side answered something that is not a protocol message."""


def _at(path: Path, use: Callable[[str], T]) -> T:
    """Call `use` with an address for `path` that fits in sun_path."""
    if len(os.fsencode(path)) < _SUN_PATH_MAX:
        return use(str(path))
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        return use(f"/proc/self/fd/{folder}/{path.name}")
    finally:
        os.close(folder)


def listen(path: Path) -> socket.socket:
    """A listening socket at `path` (mode 0600), replacing a stale one atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _at(tmp, server.bind)
    os.chmod(tmp, 0o600)
    server.listen(64)
    os.replace(tmp, path)
    return server


def request(path: Path, message: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Send one request and return the answer; OSError when nobody answers at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        _at(path, conn.connect)
        send(conn, message)
        return receive(conn)


def send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def receive(conn: socket.socket) -> dict[str, Any]:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ProtocolError("message too long")
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"not a protocol message: {bytes(data[:80])!r}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("not a protocol message: not an object")
    return message


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end (SO_PEERCRED: pid, uid, gid as three ints)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)
