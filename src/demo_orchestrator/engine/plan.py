"""Steps as values and the plans built from them.

A `StepDef` says what one step does (`ensure`), how to take it away (`undo`) and how to bring it
back to pristine (`reset`), which provider slot it works through, which earlier steps it needs,
when it has nothing to do (`skip`), and where a failed attempt resumes (`rewind_to`). The runner
knows nothing of particular steps: it walks the stored plan and looks each step up here by name,
so a new step (a Kubernetes namespace, a warm-pool personalisation) is one more `StepDef`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.domain.plan import PlannedStep, check_plan
from demo_orchestrator.engine.context import Context
from demo_orchestrator.providers.base import InstanceSpec, Outputs, Provider


class SkipStep(Exception):
    """Raised by a step that finds it has nothing to do for this instance; the message says why."""


@dataclass
class StepRun:
    """What a step sees while it runs: the instance, what earlier steps gave, its provider."""

    ctx: Context
    spec: InstanceSpec
    outputs: dict[str, dict[str, Any]]
    provider: Provider | None


Undo = Callable[[Provider | None, str], None]


@dataclass(frozen=True)
class StepDef:
    name: str
    ensure: Callable[[StepRun], Outputs]
    # The provider slot the step works through (runtime, database, cache, broker), if any; the
    # provider's name is stored in the plan so undo uses the same one later.
    slot: str | None = None
    undo: Undo | None = None
    # What a sleep does instead of `undo` (stop serving, keep the data); `undo` when unset.
    suspend: Undo | None = None
    reset: Undo | None = None
    needs: tuple[str, ...] = ()
    skip: Callable[[StepRun], str | None] | None = None
    # After a failed attempt, resume from this earlier step (the health gate re-deploys).
    rewind_to: str | None = None
    # Publish the step's state on the change feed as an event of this kind (routes).
    publishes: str | None = None


class Plans:
    """The known steps, and the plan a new instance gets from the configured providers."""

    def __init__(self, ctx: Context, steps: Iterable[StepDef]) -> None:
        self.ctx = ctx
        self.steps: dict[str, StepDef] = {}
        for step in steps:
            if step.name in self.steps:
                raise ValueError(f"two steps are named {step.name!r}")
            self.steps[step.name] = step

    def get(self, name: str) -> StepDef | None:
        return self.steps.get(name)

    def build(self, blueprint: Blueprint) -> list[PlannedStep]:
        """Every known step in order, each with the provider now configured for its slot."""
        plan = []
        for step in self.steps.values():
            provider = self.ctx.slot(step.slot) if step.slot else None
            plan.append(PlannedStep(step.name, provider.name if provider is not None else None))
        check_plan(plan, {s.name: s.needs for s in self.steps.values()})
        return plan

    def first_of_slot(self, plan: Sequence[str], slot: str) -> str | None:
        """The first step of a stored plan that works through `slot` (where healing resumes)."""
        for name in plan:
            step = self.steps.get(name)
            if step is not None and step.slot == slot:
                return name
        return None
