"""`democtl delete --wait` waits for the demo to be gone, whatever the statuses on the way
(issue 15, item 6). The server is a fake `Client` (our own wrapper of the API) that plays the
events a deletion produces, so the order of what the CLI sees is fixed, not a race."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from demo_orchestrator.client import Client

# The package's `app` name is the Typer app; these are the modules.
cli_app = importlib.import_module("demo_orchestrator.cli.app")
cli_instances = importlib.import_module("demo_orchestrator.cli.instances")


def _instance(status: str, desired: str = "deleted") -> dict[str, Any]:
    return {
        "id": "demo-abc123",
        "status": status,
        "desired": desired,
        "scenario": "agency",
        "owner": "admin",
        "steps": [{"name": "deploy", "status": "done"}],
    }


class ScriptedClient(Client):
    """Answers DELETE with the demo as the API does at once (its status unchanged, desired
    deleted), then streams `statuses` as the engine would; GET answers the last one seen."""

    first = "ready"  # the status when asked to delete
    statuses: ClassVar[list[str]] = []  # the status events after the snapshot
    current = "ready"  # the status a GET answers: the last one streamed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # no connection: nothing leaves the process

    def close(self) -> None:
        pass

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        if method == "GET":
            return _instance(ScriptedClient.current)
        return _instance(ScriptedClient.first)

    def events(self, instance_id: str, *, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        ScriptedClient.current = ScriptedClient.first
        yield "snapshot", _instance(ScriptedClient.first)
        for status in ScriptedClient.statuses:
            ScriptedClient.current = status
            yield "status", {"status": status}


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedClient]:
    monkeypatch.setattr(cli_app, "Client", ScriptedClient)
    monkeypatch.setattr(cli_instances, "Client", ScriptedClient)
    return ScriptedClient


@pytest.mark.parametrize("first", ["ready", "failed", "sleeping"])
def test_delete_wait_returns_once_deleted_not_on_the_status_it_starts_from(
    scripted: type[ScriptedClient], first: str
) -> None:
    scripted.first = first
    scripted.statuses = ["deleting", "deleted"]
    result = CliRunner().invoke(cli_app.app, ["delete", "demo-abc123", "--wait", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "deleted"


def test_delete_wait_of_a_request_deleted_at_once_does_not_open_a_stream(
    scripted: type[ScriptedClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.first = "deleted"  # a pending_approval request or a booking: gone at once
    scripted.statuses = []

    def never(*args: Any, **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        raise AssertionError("no need to wait for what is already gone")

    monkeypatch.setattr(scripted, "events", never)
    result = CliRunner().invoke(cli_app.app, ["delete", "demo-abc123", "--wait"])
    assert result.exit_code == 0, result.output
    assert "demo-abc123 deleted" in result.stdout


def test_create_wait_still_ends_at_ready(scripted: type[ScriptedClient]) -> None:
    scripted.first = "provisioning"
    scripted.statuses = ["ready"]
    instance = cli_instances.wait_for(
        _instance("provisioning", desired="ready"), started=0.0, timeout=1e9, quiet=True
    )
    assert instance["status"] == "ready"
