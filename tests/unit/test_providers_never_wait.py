"""No provider sleeps waiting for something: what is not there yet raises `NotReady` and the
engine asks again later, so a worker is never held by a project coming up or a rate limit.

The two sleeps left are listed with their reason; a new one fails here until it is justified."""

from __future__ import annotations

import ast
from pathlib import Path

from demo_orchestrator import providers

ALLOWED = {
    # A helper for tools and tests that want to block; the engine polls check_ready instead.
    ("base.py", "wait_healthy"),
    # The SIGTERM grace when stopping a demo's processes: bounded by DEMO_STOP_GRACE_SECONDS,
    # and stopping is the one thing `destroy` waits for.
    ("processes.py", "stop_groups"),
}


def _sleeps(path: Path) -> set[tuple[str, str]]:
    """(file, enclosing function) of every call to something named `...sleep` in the module."""
    found = set()
    tree = ast.parse(path.read_text())
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else None
                name = name or (node.func.id if isinstance(node.func, ast.Name) else None)
                if name is not None and name.endswith("sleep"):  # time.sleep, self._sleep
                    found.add((path.name, function.name))
    return found


def test_providers_never_sleep_waiting_for_something() -> None:
    folder = Path(providers.__file__).parent
    found = set().union(*(_sleeps(path) for path in sorted(folder.glob("*.py"))))
    assert found <= ALLOWED, f"providers sleep in {sorted(found - ALLOWED)}: raise NotReady instead"
