"""A post-fork hook for the tests: records where and when it ran (in the forked child, before
the entry point) in `hooked-<service>.json` beside the child's logs, and tells the service."""

from __future__ import annotations

import json
import os
from typing import Any


def mark(child: Any) -> None:
    record = {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "cwd": os.getcwd()}
    (child.folder / f"hooked-{child.service}.json").write_text(json.dumps(record))
    os.environ["DEMO_TEST_HOOKED_PID"] = str(os.getpid())
