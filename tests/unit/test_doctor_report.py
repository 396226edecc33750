"""What `serve` does with the doctor's findings: only a data-service provider's `fail` refuses a
start, DEMO_ALLOW_INSECURE turns refusals into logged warnings, a provider hook that raises is
reported rather than fatal, and secrets readable by others are found."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import ProviderError
from demo_orchestrator.engine.doctor import admit, diagnose, format_finding
from demo_orchestrator.providers.base import Finding, Provider
from demo_orchestrator.settings import Settings


class Checked(Provider):
    """A provider whose doctor hook reports what it is given."""

    name = "checked"

    def __init__(self, *found: Finding) -> None:
        self.found = list(found)

    def doctor(self) -> list[Finding]:
        return self.found


class CheckedRuntime(Checked):
    kind = "runtime"


class CheckedCache(Checked):
    kind = "cache"


class CheckedDatabase(Checked):
    kind = "database"


class Broken(Provider):
    kind = "cache"
    name = "broken"

    def doctor(self) -> list[Finding]:
        raise ProviderError("Redis at redis://h:6379/0 is unreachable")


FAIL = Finding("fail", "server auth", "lets anyone in", "require passwords")


def _settings(tmp_path: Path, **extra: object) -> Settings:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    return Settings(home=home, **extra)  # type: ignore[arg-type]


def test_only_a_data_service_fail_refuses_a_start(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    runtime = diagnose(settings, [CheckedRuntime(FAIL)])
    assert runtime.failed and admit(settings, runtime) == []
    cache = diagnose(settings, [CheckedCache(FAIL), None])
    assert admit(settings, cache) == [format_finding(FAIL)]
    assert format_finding(FAIL) == "fail server auth: lets anyone in -> fix: require passwords"


def test_allow_insecure_starts_and_logs_each_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, allow_insecure=True)
    with caplog.at_level(logging.WARNING):
        assert admit(settings, diagnose(settings, [CheckedDatabase(FAIL)])) == []
    assert "INSECURE (DEMO_ALLOW_INSECURE=true): fail server auth" in caplog.text
    assert "NOT isolated" in caplog.text


def test_a_hook_that_raises_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    report = diagnose(settings, [Broken()])
    (finding,) = [f for f in report.findings if f.check == "broken"]
    assert finding.level == "warn" and "unreachable" in finding.detail
    assert admit(settings, report) == []


def test_secrets_readable_by_others_fail(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = settings.home / "secret.key"
    key.write_text("k")
    os.chmod(key, 0o644)
    found = [f for f in diagnose(settings, []).findings if f.check == "file modes"]
    assert [f.level for f in found] == ["fail"] and f"chmod 600 {key}" in found[0].fix
    os.chmod(key, 0o600)
    found = [f for f in diagnose(settings, []).findings if f.check == "file modes"]
    assert [f.level for f in found] == ["ok"]


def test_the_sandbox_finding_says_what_confines_demos_and_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from demo_orchestrator.engine import doctor
    from demo_orchestrator.settings import Settings

    partial = doctor._sandbox_finding(
        {"root": True, "cgroup": None, "missing": ["no writable memory cgroup (v2 or v1)"]}
    )
    assert partial.level == "warn" and "no writable memory cgroup" in partial.detail
    full = doctor._sandbox_finding(
        {"root": True, "cgroup": "v1", "cgroup_folder": "/x", "missing": []}
    )
    assert full.level == "ok" and "uid of its own" in full.detail
    monkeypatch.setenv("DEMO_SANDBOX_ENABLED", "false")
    [off] = doctor._identity(Settings(home=tmp_path))
    assert off.level == "warn" and "DEMO_SANDBOX_ENABLED=false" in off.detail
