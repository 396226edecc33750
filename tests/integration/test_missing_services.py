"""A missing service is handled clearly (tests/services.py): pytest runs a few marked tests in a
subprocess with Redis pointed at a closed port. Without CI the run passes, skips what needs Redis
and ends with one summary line naming it; with CI=true the same run fails and names it, so CI
never skips silently. Both runs go in parallel to keep this quick."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.services import redacted

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "redis://127.0.0.1:1/0"
# Every test of this module needs Redis.
SELECTION = ["tests/integration/test_redis_provider.py"]


def _start(ci: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "CI"}
    env["TEST_REDIS_URL"] = CLOSED
    if ci:
        env["CI"] = "true"
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SELECTION],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_missing_service_skips_its_tests_with_one_summary_line_and_fails_under_ci() -> None:
    plain, ci = _start(ci=False), _start(ci=True)
    plain_out, _ = plain.communicate(timeout=60)
    ci_out, _ = ci.communicate(timeout=60)

    assert plain.returncode == 0, plain_out
    lines = [line for line in plain_out.splitlines() if line.startswith("services: redis")]
    assert len(lines) == 1, plain_out
    assert lines[0].startswith(f"services: redis not reachable at {CLOSED} (")
    counted = re.search(r"(\d+) skipped in", plain_out)
    assert counted is not None and int(counted.group(1)) >= 1, plain_out
    assert lines[0].endswith(f"— {counted.group(1)} tests skipped"), plain_out
    assert "failed" not in plain_out and "error" not in plain_out, plain_out

    assert ci.returncode != 0, ci_out
    assert f"services: redis not reachable at {CLOSED}" in ci_out
    verdict = next(line for line in ci_out.splitlines() if "CI=true: every service" in line)
    assert "redis" in verdict.split("missing:", 1)[1], ci_out
    assert "skipped" not in ci_out and "passed" not in ci_out  # nothing ran, nothing skipped


def test_summary_lines_never_show_a_password() -> None:
    assert redacted("amqp://guest:guest@127.0.0.1:5672/") == "amqp://guest:***@127.0.0.1:5672/"
    assert redacted("http://admin:s3cret@host") == "http://admin:***@host"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
