"""One error hierarchy for the whole orchestrator.

Every error carries the HTTP status it maps to and a `detail` a person can act on; the API renders
any of them as RFC 9457 problem+json through one handler. The engine retries `TemporaryError`
(after `delay` seconds) and gives up on `PermanentError`. Third-party failures are wrapped in a
`ProviderError` (a `TemporaryError`) with `raise ... from exc`, never leaked raw.
"""

from __future__ import annotations

from demo_orchestrator.domain.redaction import redact


class DemoError(Exception):
    status: int = 500
    title: str = "Internal error"
    type_slug: str = "internal"

    def __init__(self, detail: str) -> None:
        # Details reach API answers, pages, step records and logs: never a credential in them
        # (a wrapped driver error may quote a URL with its password).
        detail = redact(detail)
        super().__init__(detail)
        self.detail = detail


class BadRequest(DemoError):
    status = 422
    title = "Invalid request"
    type_slug = "invalid-request"


class InvalidBlueprint(BadRequest):
    title = "Invalid blueprint"
    type_slug = "invalid-blueprint"


class Unauthorized(DemoError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(DemoError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(DemoError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(DemoError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class QuotaExceeded(DemoError):
    status = 429
    title = "Quota exceeded"
    type_slug = "quota-exceeded"


class NotImplementedYet(DemoError):
    status = 501
    title = "Not implemented"
    type_slug = "not-implemented"


class InvalidTransition(Conflict):
    title = "Invalid state transition"
    type_slug = "invalid-transition"


class PermanentError(DemoError):
    """A step failed in a way retrying cannot fix (bad configuration, a command that exits 1)."""

    title = "Permanent failure"
    type_slug = "permanent-failure"


class TemporaryError(DemoError):
    """A step failed in a way that may pass on retry (a server down, a port race)."""

    status = 503
    title = "Temporary failure"
    type_slug = "temporary-failure"

    def __init__(self, detail: str, *, delay: float = 0.5) -> None:
        super().__init__(detail)
        self.delay = delay


class NotReady(TemporaryError):
    """Not there yet, and nothing is wrong: a process still starting, a cloud project still
    coming up. The engine frees its worker, asks again after `delay` seconds, and counts no retry;
    only when the step has waited longer than `timeout` seconds (None: the engine's own limit for
    the step) does it become a failed attempt."""

    title = "Not ready yet"
    type_slug = "not-ready"

    def __init__(self, detail: str, *, delay: float = 0.05, timeout: float | None = None) -> None:
        super().__init__(detail, delay=delay)
        self.timeout = timeout


class ProviderError(TemporaryError):
    """A provider's outside system failed; wraps the original with `from exc`."""

    title = "Provider failure"
    type_slug = "provider-failure"
