"""A small client of the Supabase Management API (https://api.supabase.com/v1).

It exists so the provider reads as a sequence of steps while the awkward parts live here once:
the bearer token (never logged: it only travels in a header), time-outs with errors that say
which call did not answer, rate limits (the API allows about 120 requests a minute per scope and
answers 429 with `Retry-After` or `X-RateLimit-Reset`, seconds until the window resets; nothing
is wrong then, so the engine gets a `NotReady` with that delay and asks again once the window
has reset, rather than a worker sleeping here), and the mapping of statuses onto our error
hierarchy (401/403: a configuration problem; 5xx: retry).
"""

from __future__ import annotations

from typing import Any

import httpx

from demo_orchestrator.domain.errors import NotReady, PermanentError, ProviderError
from demo_orchestrator.providers.ownership import Unreachable, redact


class SupabaseApi:
    def __init__(self, *, base_url: str, token: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = True,
    ) -> Any:
        """The decoded JSON answer; None for a 404 when `missing_ok`."""
        call = f"{method} {path}"
        where = f"Supabase Management API at {redact(self.base_url)}"
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"{where} did not answer {call} within {self.timeout:g}s", delay=1.0
            ) from exc
        except httpx.TransportError as exc:
            raise Unreachable(f"{where} is unreachable ({type(exc).__name__})") from exc
        if response.status_code == 429:
            wait = retry_after(response)
            raise NotReady(
                f"{where} rate-limited {call}; the limit resets in {wait:g}s", delay=wait
            )
        return self._decode(response, call, where, missing_ok)

    @staticmethod
    def _decode(response: httpx.Response, call: str, where: str, missing_ok: bool) -> Any:
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status in (401, 403):
            raise PermanentError(
                f"{where} refused DEMO_SUPABASE_ACCESS_TOKEN for {call} ({status}); check the "
                "token and that it may manage the organization"
            )
        if status >= 400:
            reason = response.text[:300].replace("\n", " ")
            error = ProviderError if status >= 500 or status == 408 else PermanentError
            raise error(f"{where}: {call} answered {status}: {reason}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{where}: {call} answered non-JSON content") from exc


def retry_after(response: httpx.Response) -> float:
    """Seconds to wait from `Retry-After` or `X-RateLimit-Reset` (both seconds), 1 by default."""
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue
    return 1.0
