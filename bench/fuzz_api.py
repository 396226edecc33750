"""Fuzz every operation of a running orchestrator's API from its own `/openapi.json`.

Schemathesis generates requests that fit the documented schema (positive) and requests that do not
(negative), sends them with an admin Bearer token, and each answer is checked: no 5xx, every
4xx/5xx is `application/problem+json` with a `detail`, and status, content type and body are the
ones the document promises. The test suite runs this with a small budget
(tests/integration/test_fuzz_api.py); this script runs a bigger one and prints JSON:

    .venv/bin/python bench/fuzz_api.py --url http://127.0.0.1:8000 --token "$DEMO_TOKEN" \
        --cases 200

`--url`/`--token` default to DEMO_URL/DEMO_TOKEN. Without `--url` it starts its own server on the
tiny test blueprint (tiny quotas, so generated creates mostly end in a 429) and stops it after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Streams never end by themselves: the fuzzer would wait on them forever.
SKIPPED = {("GET", "/api/v1/demo-instances/{instance_id}/events")}


@dataclass
class Report:
    """What one fuzz run found; `failures` keeps a few examples per kind of failure."""

    cases: int = 0
    server_errors: int = 0
    not_problem_json: int = 0
    nonconforming: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, example: str) -> None:
        examples = self.failures.setdefault(kind, [])
        if len(examples) < 3:
            examples.append(example[:600])

    def as_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "5xx": self.server_errors,
            "errors_not_problem_json": self.not_problem_json,
            "nonconforming": self.nonconforming,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": self.failures,
        }


def _problem_failure(response: Any) -> str | None:
    """Why an error answer is not RFC 9457 problem+json with a detail (None when it is)."""
    if response.status_code < 400:
        return None
    values = {k.lower(): v for k, v in response.headers.items()}.get("content-type") or [""]
    kind = values[0].split(";")[0].strip()
    if kind != "application/problem+json":
        return f"content-type {kind!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str) or not body["detail"]:
        return "no detail"
    return None


def fuzz(
    base_url: str,
    token: str,
    *,
    cases_per_operation: int,
    seed: int | None = None,
    after_case: Callable[[], None] | None = None,
) -> Report:
    """Run the fuzzer over every operation; never raises for a bad answer, counts it instead."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    report = Report()
    session = requests.Session()
    session.trust_env = False
    operations = [result.ok() for result in schema.get_all_operations()]
    # Revoking tokens and disabling users can take away the fuzzer's own token: those go last,
    # so every other operation is fuzzed signed in (afterwards, 401s are fine answers too).
    operations.sort(key=_takes_credentials_away)
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(
                operation,
                mode,
                base_url,
                headers,
                session,
                report,
                cases_per_operation,
                seed,
                after_case,
            )
    return report


def _takes_credentials_away(operation: Any) -> bool:
    method, path = operation.method.upper(), operation.path
    return (method == "DELETE" and path.startswith("/api/v1/tokens")) or path.endswith("/disable")


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    report: Report,
    budget: int,
    seed: int | None,
    after_case: Callable[[], None] | None,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(
        max_examples=budget,
        deadline=None,
        database=None,
        derandomize=seed is not None,
        phases=[Phase.explicit, Phase.generate],  # count every case; no shrinking
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, session=session, timeout=30)
        report.cases += 1
        report.statuses[response.status_code] += 1
        text = response.content[:300].decode("utf-8", "replace")
        where = f"{label} ({mode.value}) -> {response.status_code}: {text}"
        if response.status_code >= 500:
            report.server_errors += 1
            report.note("5xx", where)
        why = _problem_failure(response)
        if why is not None:
            report.not_problem_json += 1
            report.note(f"not problem+json: {why}", where)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            report.nonconforming += 1
            for failure in group.exceptions:
                report.note(f"nonconforming: {failure.title}", where)
        if after_case is not None:
            after_case()

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to break in this mode (e.g. no parameters to make invalid)


def _own_server(home: Path) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import Server

    return Server(home, DEMO_MAX_INSTANCES="2", DEMO_MAX_INSTANCES_PER_OWNER="2").start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DEMO_URL"))
    parser.add_argument("--token", default=os.environ.get("DEMO_TOKEN"))
    parser.add_argument("--cases", type=int, default=200, help="cases per operation and mode")
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        if not args.url:
            server = _own_server(Path(tmp))
            args.url, args.token = server.url, server.token
        started = time.monotonic()
        try:
            report = fuzz(args.url, args.token or "", cases_per_operation=args.cases)
        finally:
            if server is not None:
                server.close()
        result = report.as_json()
        result["seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
