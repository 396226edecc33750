"""Pytest plugin: tests that need an outside service say so with a marker, and a missing service
is reported once, clearly, instead of as dozens of `Connection refused` errors.

Markers: `postgres`, `redis`, `rabbitmq` (AMQP and the management API), `browser` (Debian's
chromium) and `promtool` (Debian's prometheus package, for the alert rules' tests). Once per session, after collection, the plugin checks only the services the selected
tests need (short time-outs, in parallel). A test that needs a missing service is skipped, and
the run ends with one line per missing service naming it and how many tests it skipped. Under
`CI=true` a missing service fails the run before any test runs: CI never skips silently.

`scripts/services.sh` (run by `make test`) starts what it can; this plugin covers the rest.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
RABBITMQ_MANAGEMENT_URL = os.environ.get(
    "TEST_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"
)
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 2.0  # seconds; a local server answers in milliseconds
FIXTURES = {"owner": ("postgres", "redis", "rabbitmq")}  # its clean-up visits all three servers


class Unavailable(Exception):
    """A check's own finding, said as is in the summary line."""


def redacted(url: str) -> str:
    """The URL with its password replaced by `***`, fit for a summary line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _postgres() -> None:
    import psycopg

    psycopg.connect(POSTGRES_URL, connect_timeout=int(TIMEOUT)).close()


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def _rabbitmq() -> None:
    import httpx
    import pika  # type: ignore[import-untyped]

    parameters = pika.URLParameters(RABBITMQ_URL)
    parameters.socket_timeout = parameters.stack_timeout = TIMEOUT
    parameters.connection_attempts = 1
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as exc:  # its str() is often empty; repr() says why
        raise Unavailable(f"AMQP: {exc!r}") from exc
    try:
        answer = httpx.get(
            f"{RABBITMQ_MANAGEMENT_URL}/api/overview", timeout=TIMEOUT, trust_env=False
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"management API: {exc!r}") from exc
    if answer.status_code != 200:
        raise Unavailable(f"management API answered {answer.status_code}")


def _browser() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        raise Unavailable("not installed (apt-get install chromium)")


def _promtool() -> None:
    if shutil.which("promtool") is None:
        raise Unavailable("not on PATH (apt-get install prometheus)")


@dataclass(frozen=True)
class Service:
    name: str
    where: str  # what the summary line names
    check: Callable[[], None]  # raises when the service does not answer


SERVICES = {
    s.name: s
    for s in (
        Service("postgres", redacted(POSTGRES_URL), _postgres),
        Service("redis", redacted(REDIS_URL), _redis),
        Service(
            "rabbitmq",
            f"{redacted(RABBITMQ_URL)} and {redacted(RABBITMQ_MANAGEMENT_URL)}",
            _rabbitmq,
        ),
        Service("browser", str(CHROMIUM), _browser),
        Service("promtool", "$PATH (Debian's prometheus package)", _promtool),
    )
}


def _why(service: Service) -> str | None:
    """None when the service answers, else a short reason."""
    try:
        service.check()
    except Unavailable as exc:
        return str(exc)[:200]
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable", say which
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
    return None


def strict() -> bool:
    """CI=true: a missing service fails the run instead of skipping tests."""
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def needs(item: pytest.Item) -> set[str]:
    return {m.name for m in item.iter_markers() if m.name in SERVICES}


class ServiceChecks:
    """Collects the missing services once per session and reports them at the end."""

    def __init__(self) -> None:
        self.missing: dict[str, str] = {}  # name -> reason
        self.skipped: dict[str, int] = {}  # name -> tests skipped for it

    def line(self, name: str) -> str:
        count = self.skipped.get(name, 0)
        tests = f"{count} test{'s' if count != 1 else ''}"
        outcome = f"{tests} need it; CI=true fails the run" if strict() else f"{tests} skipped"
        where = SERVICES[name].where
        return f"services: {name} not reachable at {where} ({self.missing[name]}) — {outcome}"

    @pytest.hookimpl(trylast=True)  # after -m/-k deselection: count only what runs
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            for fixture, services in FIXTURES.items():
                unmarked = set(services) - needs(item)
                info = getattr(item, "_fixtureinfo", None)
                defs = info.name2fixturedefs.get(fixture) if info is not None else None
                if defs and defs[-1].func.__module__ != "tests.conftest":
                    continue  # a module's own fixture of that name cleans up what it says
                if fixture in getattr(item, "fixturenames", ()) and unmarked:
                    raise pytest.UsageError(
                        f"{item.nodeid} uses the `{fixture}` fixture, which needs "
                        f"{', '.join(services)}: mark it with {', '.join(sorted(unmarked))}"
                    )
        wanted = sorted(set().union(*(needs(item) for item in items)))
        # Warnings are errors in this suite; a client library's warning must not read as "down".
        with warnings.catch_warnings(), ThreadPoolExecutor(max(len(wanted), 1)) as pool:
            warnings.simplefilter("ignore")
            reasons = dict(zip(wanted, pool.map(lambda n: _why(SERVICES[n]), wanted), strict=True))
        self.missing = {name: why for name, why in reasons.items() if why is not None}
        if not self.missing:
            return
        for item in items:
            absent = sorted(needs(item) & self.missing.keys())
            for name in absent:
                self.skipped[name] = self.skipped.get(name, 0) + 1
            if absent and not strict():
                reason = "; ".join(f"{n} not reachable at {SERVICES[n].where}" for n in absent)
                item.add_marker(pytest.mark.skip(reason=f"services: {reason}"))
        if strict():  # the summary lines say which and why
            pytest.exit(
                f"CI=true: every service the tests need must answer, missing: "
                f"{', '.join(sorted(self.missing))} (scripts/services.sh starts them)",
                returncode=pytest.ExitCode.TESTS_FAILED,
            )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for name in sorted(self.missing):
            terminalreporter.write_line(self.line(name), yellow=not strict(), red=strict())


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ServiceChecks(), "demo-service-checks")
