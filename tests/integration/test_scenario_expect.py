"""A tour step's `expect` through a real `democtl serve`: listed by `GET /api/v1/scenarios` as
written, handed to the demo in `DEMO_TOUR`, and a blueprint with a bad one refused at start with
one line naming the scenario, the step and the fix (exit != 0, no traceback)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMOCTL, TINY, Server, tiny_env

EXPECT = {"selector": "ul.items li", "min_count": 3, "text": "Items", "prospect": True}


def _tiny_copy(folder: Path, expect: Any) -> Path:
    """tests/blueprints/tiny.yaml (with its service and seed) whose agency step has `expect`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tiny_service.py", "tiny_seed.py"):
        shutil.copy(TINY.parent / name, folder / name)
    raw = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    agency = next(s for s in raw["scenarios"] if s["name"] == "agency")
    agency["tour"][0]["expect"] = expect
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_expect_is_listed_and_reaches_the_demo(make_server: Any, tmp_path: Path) -> None:
    blueprint = _tiny_copy(tmp_path / "bp", EXPECT)
    server: Server = make_server(tmp_path / "home", DEMO_BLUEPRINT_PATHS=f'["{blueprint}"]')
    server.start()
    listed = server.http.get("/api/v1/scenarios")
    assert listed.status_code == 200, listed.text
    agency = next(i for i in listed.json()["items"] if i["name"] == "agency")
    assert agency["tour"][0]["expect"] == EXPECT
    assert agency["tour"][0]["talking_point"] == "everything at a glance"

    demo = server.create(scenario="agency")["id"]
    server.wait_status(demo, "ready")
    pid = next(p for p, i in server.demo_processes().items() if i == demo)
    tour = json.loads(_environ(pid)["DEMO_TOUR"])
    assert tour[0]["expect"] == EXPECT and tour[0]["email"] == "riley@tiny.test"


def test_a_bad_expect_stops_the_server_at_start_with_one_clear_line(tmp_path: Path) -> None:
    blueprint = _tiny_copy(tmp_path / "bp", {"selector": "li", "min_count": -2})
    env = tiny_env(tmp_path / "home", 1, DEMO_BLUEPRINT_PATHS=f'["{blueprint}"]')
    done = subprocess.run(
        [DEMOCTL, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "Traceback" not in said, said[-2000:]
    assert "scenarios.agency.tour.0.expect.min_count" in said, said[-2000:]
    assert "greater than or equal to 0" in said
