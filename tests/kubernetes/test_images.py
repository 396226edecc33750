"""The Containerfiles pass hadolint and hold what an image of ours must: a pinned base, a non-root
user, a health check on /healthz, and no secret baked in. Building them is the operator's CI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.kubernetes import tools

CONTAINERFILES = sorted((tools.ROOT / "images").glob("*.Containerfile"))


def hadolint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.bin_tool("hadolint")), "--no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_both_images_have_a_containerfile() -> None:
    assert [p.name for p in CONTAINERFILES] == [
        "orchestrator.Containerfile",
        "splits-stack.Containerfile",
    ]


def test_containerfiles_pass_hadolint() -> None:
    result = hadolint(*CONTAINERFILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_containerfile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.Containerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3025"):  # latest tag, unpinned apt, shell-form CMD
        assert rule in result.stdout


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.name)
def test_image_is_pinned_non_root_checked_and_secret_free(path: Path) -> None:
    text = path.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", s) for s in stages)
    final = text.rsplit("\nFROM ", 1)[1]
    user = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", final, re.MULTILINE)
    for line in re.findall(r"^(?:ENV|ARG)\s+.*(?:\n\s+.*)*", text, re.MULTILINE):
        assert not re.search(r"(PASSWORD|TOKEN|SECRET_KEY|_URL)=", line), line
