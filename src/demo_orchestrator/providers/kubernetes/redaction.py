"""Secret values out of what is printed: every value of every Secret becomes `<redacted>`.

`democtl render` prints every object of a demo; an operator pastes that into tickets and chat, so
by default no credential is in it. Only the values go: keys, names and labels stay, so the output
still shows which Secrets exist and what each holds.
"""

from __future__ import annotations

import copy
from typing import Any

REDACTED = "<redacted>"


def redact(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the objects with every Secret's `data` and `stringData` values redacted."""
    redacted = []
    for obj in objects:
        if obj.get("kind") == "Secret":
            obj = copy.deepcopy(obj)
            for field in ("data", "stringData"):
                if isinstance(obj.get(field), dict):
                    obj[field] = dict.fromkeys(obj[field], REDACTED)
        redacted.append(obj)
    return redacted


def secret_values(objects: list[dict[str, Any]]) -> list[str]:
    """Every value held in a Secret (to check that none leaks anywhere else)."""
    values: list[str] = []
    for obj in objects:
        if obj.get("kind") == "Secret":
            for field in ("data", "stringData"):
                values.extend(str(v) for v in (obj.get(field) or {}).values())
    return values
