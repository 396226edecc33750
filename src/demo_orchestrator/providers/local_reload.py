"""Reload in place, the runtime's side of the contract with a service that names a `reload_path`.

Per demo service, `runtime/<id>/settings/<service>.json` holds `{"version", "env"}`: exactly the
environment a fresh start of the service would get, plus `DEMO_SETTINGS_FILE` (that file) and
`DEMO_RELOAD_TOKEN` (a per-demo, per-service secret, derived from a key kept under `runtime/`, so
nothing per demo is stored and no demo can reload another). To apply new settings the runtime
rewrites the file atomically (mode 0600: it holds the demo's secrets) with a new version and
POSTs to the reload path with `Authorization: Bearer <token>`; the service re-reads the file,
reopens its database and other connections, and answers `{"version": ...}` of the file it now
serves from. In a sandboxed demo the file lives in its private folder instead, owned by its uid
(nobody else's), since the runtime folder is out of its reach. Anything else (an error, another version, no answer in time) is a refusal, and the
runtime restarts the service instead.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx

from demo_orchestrator.providers.sandbox import Lease, own_folder

KEY_FILE = ".reload-key"
SETTINGS_FOLDER = "settings"


class Reloads:
    def __init__(
        self,
        root: Path,
        http: httpx.Client,
        timeout: float,
        private: Callable[[str], Lease | None] = lambda _: None,
    ) -> None:
        self.root = root  # DEMO_HOME/runtime
        self.http = http
        self.timeout = timeout
        self.private = private  # the demo's sandbox, if any

    def environment(self, instance_id: str, service: str, env: dict[str, str]) -> dict[str, str]:
        """`env` plus what a service that reloads in place needs: its settings file and token."""
        return {
            **env,
            "DEMO_SETTINGS_FILE": str(self.settings_path(instance_id, service)),
            "DEMO_RELOAD_TOKEN": self.token(instance_id, service),
        }

    def settings_path(self, instance_id: str, service: str) -> Path:
        lease = self.private(instance_id)
        folder = lease.folder if lease else self.root / instance_id
        return folder / SETTINGS_FOLDER / f"{service}.json"

    def write(self, instance_id: str, service: str, env: dict[str, str], digest: str) -> str:
        """Write `{"version", "env"}` atomically; the new version (`digest` and a nonce, so
        that a reset with the same settings is confirmed as a reload of its own)."""
        version = f"{digest}.{secrets.token_hex(4)}"
        path = self.settings_path(instance_id, service)
        lease = self.private(instance_id)
        if lease is not None:
            own_folder(path.parent, 0, 0o711)  # root's: the demo reads its file, swaps nothing
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if lease is not None:
            os.fchown(fd, lease.uid, lease.gid)
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": version, "env": env}, handle)
        os.replace(tmp, path)
        return version

    def ask(self, *, port: int, path: str, token: str, version: str) -> str | None:
        """POST the reload; None when the service confirmed `version`, else why not."""
        try:
            answer = self.http.post(
                f"http://127.0.0.1:{port}{path}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(self.timeout, connect=min(0.5, self.timeout)),
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} from {path}"
        if answer.status_code != 200:
            return f"{path} answered {answer.status_code}"
        try:
            confirmed = answer.json().get("version")
        except (ValueError, AttributeError):
            confirmed = None
        if confirmed != version:
            return f"it confirmed version {confirmed!r}, not {version!r}"
        return None

    def token(self, instance_id: str, service: str) -> str:
        return hmac.new(self._key(), f"{instance_id}/{service}".encode(), "sha256").hexdigest()

    def _key(self) -> bytes:
        path = self.root / KEY_FILE
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        tmp = path.with_name(f"{KEY_FILE}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # the first writer wins; every runtime then reads the same key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_bytes()
