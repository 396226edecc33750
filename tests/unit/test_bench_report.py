"""bench/report.py: each figure set beside its target, failures kept in the report, one chart."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _report_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_figures_are_judged_against_their_targets_and_drawn(tmp_path: Path) -> None:
    report = _report_module()
    asked: list[list[str]] = []

    def fake_run(argv: list[str], timeout: float) -> dict[str, Any]:
        asked.append(argv)
        name = Path(argv[1]).name
        if name == "instant.py":
            return {
                "create_to_ready_seconds": {"median": 0.2, "p95": 0.7},
                "reset_seconds": {"median": 0.9},
            }
        if name == "router.py":
            return {"paths": {"/healthz": {"ratio_rps": 0.5, "added_ms_median": 1.5}}}
        return {"error": "exit 1: it broke"}

    code = report.main(
        ["--only", "instant,router,api_list", "--out", str(tmp_path), "--quick"], run=fake_run
    )
    assert code == 0
    assert [Path(a[1]).name for a in asked] == ["instant.py", "router.py", "api_list.py"]
    written = json.loads((tmp_path / "report.json").read_text())
    rows = {row["name"]: row for row in written["targets"]}
    assert rows["create -> ready, median"]["met"] is True
    assert rows["create -> ready, p95"]["met"] is False  # 0.7 s over 0.5 s
    assert rows["reset, median"]["met"] is True
    assert rows["router / direct requests/s, /healthz"]["met"] is False  # a floor: 0.5 < 0.7
    assert rows["router added latency, /healthz, median"]["met"] is True
    listing = rows["API list of 1,000, page 50, p99"]
    assert listing["measured"] is None and listing["met"] is None  # its bench failed
    assert written["runs"]["api_list"]["error"].startswith("exit 1")
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_run_is_refused(tmp_path: Path, capsys: Any) -> None:
    report = _report_module()
    try:
        report.main(["--only", "nope", "--out", str(tmp_path)], run=lambda *_: {})
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an unknown run was accepted")
    assert "unknown run(s) nope" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()
