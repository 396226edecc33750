"""Plans as data: the ordered steps that provision one instance, stored with it.

A plan is a list of `PlannedStep` values, built when an instance is created from the configured
providers and the blueprint, and kept in the store beside the instance. Teardown, reset and
healing read the stored plan, never today's code: an instance made by an older version is undone
by exactly the steps that made it, whatever steps this version would plan. Pure values, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from demo_orchestrator.domain.errors import PermanentError


@dataclass(frozen=True)
class PlannedStep:
    """One step of a stored plan.

    `provider` names the provider the step was planned with (for steps that work through one,
    e.g. `sqlite` for `database`), so teardown undoes it with that provider even after the
    configuration changed; None for steps that use no provider, and for plans stored before
    providers were recorded (the provider configured for the step's slot then undoes it).
    """

    name: str
    provider: str | None = None


def check_plan(steps: Sequence[PlannedStep], needs: Mapping[str, Sequence[str]]) -> None:
    """Refuse a plan whose names repeat or whose step needs a step that does not come before it."""
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise PermanentError(f"plan has step {step.name!r} twice")
        missing = [n for n in needs.get(step.name, ()) if n not in seen]
        if missing:
            raise PermanentError(
                f"plan step {step.name!r} needs {', '.join(missing)} to run before it"
            )
        seen.add(step.name)


def rewind_point(steps: Sequence[PlannedStep], names: Sequence[str]) -> int | None:
    """Position of the first step of `steps` whose name is in `names` (None: no such step)."""
    for position, step in enumerate(steps):
        if step.name in names:
            return position
    return None
