"""Encrypts secrets at rest (provider passwords, login secrets) with Fernet.

The key comes from `DEMO_SECRET_KEY`, or in the embedded default from `DEMO_HOME/secret.key`,
created on first start with mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from demo_orchestrator.domain.errors import PermanentError


def private_home(home: Path) -> None:
    """DEMO_HOME made, or fixed, 0700: it holds the store, the key and every demo's files.
    Never a shared folder (sticky or world-writable, like /tmp): that one keeps its mode."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = home.stat().st_mode
    if not mode & (stat.S_ISVTX | stat.S_IWOTH):
        os.chmod(home, 0o700)


def load_or_create_key(home: Path, configured: str | None) -> bytes:
    if configured:
        key = configured.encode()
    else:
        path = home / "secret.key"
        private_home(home)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            os.chmod(path, 0o600)  # a key made before modes were enforced
            key = path.read_bytes().strip()
        else:
            key = Fernet.generate_key()
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    try:
        Fernet(key)
    except ValueError as exc:
        raise PermanentError(
            "DEMO_SECRET_KEY is not a Fernet key; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from exc
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def open(self, sealed: str | None) -> dict[str, Any]:
        if not sealed:
            return {}
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise PermanentError(
                "stored secrets cannot be decrypted: DEMO_SECRET_KEY differs from the key they "
                "were sealed with"
            ) from exc
        return data
