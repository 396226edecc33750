"""A small REST client of the orchestrator's API, used by `democtl` (like kubectl uses the API).

Errors come back as `ClientError` with the server's problem+json `detail`, so the CLI prints one
actionable line. The token comes from `DEMO_TOKEN`, else from the embedded server's token file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


class ClientError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def default_url() -> str:
    return os.environ.get("DEMO_URL", "http://127.0.0.1:8000").rstrip("/")


def default_token() -> str | None:
    token = os.environ.get("DEMO_TOKEN")
    if token:
        return token
    home = Path(os.environ.get("DEMO_HOME", Path.cwd() / ".demo"))
    path = home / "admin-token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class Client:
    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 30
    ) -> None:
        self.url = (url or default_url()).rstrip("/")
        token = token or default_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise ClientError(
                f"cannot reach the orchestrator at {self.url}; is `democtl serve` running? "
                "(set DEMO_URL to point elsewhere)"
            ) from exc
        except httpx.HTTPError as exc:
            raise ClientError(f"request to {self.url} failed: {exc}") from exc
        if response.status_code >= 400:
            raise ClientError(_problem_detail(response), status=response.status_code)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def events(self, instance_id: str, *, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (event, data) from the instance's server-sent events."""
        path = f"/api/v1/demo-instances/{instance_id}/events"
        try:
            with self._http.stream(
                "GET", path, timeout=httpx.Timeout(10, read=timeout)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_problem_detail(response), status=response.status_code)
                event, data = "message", ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "":
                        if data:
                            yield event, json.loads(data)
                        event, data = "message", ""
        except httpx.ReadTimeout as exc:
            raise ClientError(
                f"no news from {instance_id} for {timeout:g} s; still waiting? try `democtl get {instance_id}`"
            ) from exc
        except httpx.ConnectError as exc:
            raise ClientError(f"cannot reach the orchestrator at {self.url}") from exc


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return f"HTTP {response.status_code}"
