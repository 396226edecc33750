"""`democtl doctor`: does this deployment enforce what demo isolation assumes?

Per-demo roles, ACL users and vhosts isolate nothing on a server that lets anyone in (PostgreSQL
with `trust`, a Redis `default` user without a password), and secrets in a world-readable
`DEMO_HOME` are anyone's. Nothing in the engine would notice: every step succeeds. So the checks
live in one place, run by `democtl doctor` (each finding printed with its fix) and by `serve` at
start, which refuses to run data-service providers that would isolate nothing unless
`DEMO_ALLOW_INSECURE=true`.

The checks of an outside server belong to its provider (`Provider.doctor()`, a do-nothing default
a third-party provider can override); this module adds the orchestrator's own (file modes, the
uid it runs as, the sandbox) and decides what blocks a start.
"""

from __future__ import annotations

import importlib
import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.providers.base import Finding, Provider
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

# Provider kinds whose `fail` findings stop `serve`: their isolation is the server's to enforce.
DATA_SERVICE_KINDS = ("database", "cache", "broker")


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # Indexes of the findings that come from a data-service provider.
    from_data_services: set[int] = field(default_factory=set)

    @property
    def failed(self) -> bool:
        return any(f.level == "fail" for f in self.findings)

    def refusals(self) -> list[Finding]:
        """The `fail`s that make `serve` refuse to start: a data server that isolates nothing."""
        return [
            f
            for i, f in enumerate(self.findings)
            if f.level == "fail" and i in self.from_data_services
        ]


def diagnose(settings: Settings, providers: Iterable[Provider | None]) -> Report:
    """Every check: the orchestrator's own, then each provider's (in slot order)."""
    report = Report(findings=own_findings(settings))
    for provider in providers:
        if provider is None:
            continue
        try:
            found = provider.doctor()
        except DemoError as exc:  # a hook must not raise; say so rather than crash the start
            found = [Finding("warn", f"{provider.name}", f"could not be checked: {exc.detail}")]
        for finding in found:
            if provider.kind in DATA_SERVICE_KINDS:
                report.from_data_services.add(len(report.findings))
            report.findings.append(finding)
    return report


def own_findings(settings: Settings) -> list[Finding]:
    return [*_file_modes(settings), *_identity(settings)]


def _file_modes(settings: Settings) -> list[Finding]:
    """Secrets and the store must be readable by the orchestrator's uid only."""
    home = settings.home.resolve()
    if not home.exists():
        return [Finding("ok", "file modes", f"{home} does not exist yet (made 0700 at start)")]
    found: list[Finding] = []
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        found.append(
            Finding(
                "warn",
                "file modes",
                f"DEMO_HOME {home} is mode {mode:04o}: other users can list it",
                f"chmod 700 {home}",
            )
        )
    secrets = [home / "secret.key", home / "admin-token", home / "admin-password"]
    store = settings.resolved_store_url()
    if store.startswith("sqlite:///"):
        secrets.append(Path(store.removeprefix("sqlite:///")))
    for path in secrets:
        if not path.is_file():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found.append(
                Finding(
                    "fail",
                    "file modes",
                    f"{path} is mode {mode:04o}: other users (and demos under another uid) "
                    "can read it",
                    f"chmod 600 {path}",
                )
            )
    if not found:
        found.append(Finding("ok", "file modes", f"{home} and its secrets are private"))
    return found


def _identity(settings: Settings) -> list[Finding]:
    """Running as root is fine only when demos do not run as root with us."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if settings.runtime != "local":
        return [Finding("ok", "uid", f"demos run in the {settings.runtime} runtime, not here")]
    capabilities = sandbox_capabilities()
    if capabilities is None:
        return [
            Finding(
                "warn",
                "sandbox",
                "demos run under the orchestrator's own uid"
                + (" (root)" if root else "")
                + ": a demo can read DEMO_HOME, the store and every other demo's credentials",
                "run the orchestrator as a dedicated unprivileged user; this build has no "
                "demo sandbox",
            )
        ]
    return [_sandbox_finding(capabilities, root)]


def sandbox_capabilities() -> dict[str, Any] | None:
    """What the local runtime's sandbox can do here (own uid, cgroup, bubblewrap), or None when
    this build has none. The sandbox is built apart (issue 12, scope 1): its
    `providers.sandbox.sandbox_capabilities()` is used as soon as it exists."""
    try:
        module = importlib.import_module("demo_orchestrator.providers.sandbox")
    except ImportError:
        return None
    probe: Callable[[], Any] | None = getattr(module, "sandbox_capabilities", None)
    if probe is None:
        return None
    found = probe()
    if isinstance(found, dict):
        return found
    return dict(vars(found)) if hasattr(found, "__dict__") else {"sandbox": found}


def _sandbox_finding(capabilities: dict[str, Any], root: bool) -> Finding:
    described = ", ".join(f"{k}={v}" for k, v in sorted(capabilities.items()))
    confined = any(bool(v) for v in capabilities.values())
    if confined:
        return Finding("ok", "sandbox", f"demos are sandboxed ({described})")
    return Finding(
        "warn",
        "sandbox",
        f"demos are not sandboxed here ({described})" + (" and we run as root" if root else ""),
        "see README, Sandbox: run as root with cgroups and bubblewrap, or as a dedicated user",
    )


def format_finding(finding: Finding) -> str:
    """One line: level, check, what was found, and the fix."""
    fix = f" -> fix: {finding.fix}" if finding.fix and finding.level != "ok" else ""
    return f"{finding.level:<4} {finding.check}: {finding.detail}{fix}"


def run_doctor(settings: Settings) -> Report:
    """`democtl doctor`: build the configured providers (as `serve` would), check, close them."""
    from demo_orchestrator.providers.registry import load_slots

    slots = load_slots(settings)
    built = [slots["runtime"], slots["database"], slots["cache"], slots["broker"]]
    try:
        return diagnose(settings, built)
    finally:
        for provider in built:
            if provider is not None:
                provider.close()


def admit(settings: Settings, report: Report) -> list[str]:
    """What `serve` does with a report: the one-line reasons it refuses to start (none when it
    may start). With `DEMO_ALLOW_INSECURE=true` it starts anyway and logs each as a warning."""
    for finding in report.findings:
        if finding.level != "ok" and finding not in report.refusals():
            log.warning("doctor: %s", format_finding(finding))
    refusals = [format_finding(f) for f in report.refusals()]
    if refusals and settings.allow_insecure:
        for line in refusals:
            log.warning("INSECURE (DEMO_ALLOW_INSECURE=true): %s", line)
        log.warning(
            "INSECURE: starting although %d data-service check(s) failed: demos on these "
            "servers are NOT isolated from each other; never use this with real data",
            len(refusals),
        )
        return []
    return refusals
