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

import logging
import stat
from collections.abc import Iterable
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
    """Running as root is fine only when demos do not run as root with us: the local runtime's
    sandbox (providers/sandbox.py) gives each demo its own uid, folder, cgroup and bubblewrap."""
    if settings.runtime != "local":
        return [Finding("ok", "uid", f"demos run in the {settings.runtime} runtime, not here")]
    from demo_orchestrator.providers.sandbox import SandboxSettings, sandbox_capabilities

    if not SandboxSettings().sandbox_enabled:
        return [
            Finding(
                "warn",
                "sandbox",
                "DEMO_SANDBOX_ENABLED=false: demos run under the orchestrator's own uid and can "
                "read DEMO_HOME, the store and every other demo's credentials",
                "unset DEMO_SANDBOX_ENABLED (it is for development only)",
            )
        ]
    return [_sandbox_finding(sandbox_capabilities())]


def _sandbox_finding(capabilities: dict[str, Any]) -> Finding:
    missing = [str(m) for m in capabilities.get("missing") or []]
    if missing:
        return Finding(
            "warn",
            "sandbox",
            "demos are only partly confined: " + "; ".join(missing),
            "run the orchestrator as root on a host with a writable memory cgroup and Debian's "
            "bubblewrap (README, Sandbox)",
        )
    cgroup = capabilities.get("cgroup")
    return Finding(
        "ok",
        "sandbox",
        f"each demo runs under a uid of its own, in a private folder, a memory cgroup ({cgroup} "
        "at " + str(capabilities.get("cgroup_folder")) + "), bubblewrap for command-started "
        "services and a mount namespace of its own for forked ones",
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
