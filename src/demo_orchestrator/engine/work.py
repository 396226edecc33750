"""What one attempt carries from step to step: the instance's spec, its environment (what the
steps' providers returned, sealed in the store), and the state each step gave back."""

from __future__ import annotations

import secrets
from typing import Any

from demo_orchestrator.domain.tour import tour_env
from demo_orchestrator.engine.activity_log import activity_env
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.plan import StepDef, StepRun
from demo_orchestrator.engine.views import demo_urls
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.store.models import InstanceRow


class Work:
    """What an attempt carries from step to step: the spec, the environment, step outputs."""

    def __init__(self, ctx: Context, row: InstanceRow) -> None:
        self.ctx = ctx
        self.blueprint = ctx.blueprint_named(row.blueprint)
        self.scenario = ctx.scenario_of(self.blueprint, row.scenario)
        self.sealed: dict[str, Any] = ctx.box.open(row.secrets)
        stored = row.outputs or {}
        self.outputs: dict[str, dict[str, Any]] = {
            k: v for k, v in stored.items() if isinstance(v, dict)
        }
        self.marks = {k: v for k, v in stored.items() if k == "reset"}
        self.env = {**self.sealed.get("env", {}), **self._base_env(row)}

    def run_for(self, step: StepDef, provider_name: str | None, instance_id: str) -> StepRun:
        provider = self.ctx.provider_for(step.slot, provider_name) if step.slot else None
        spec = InstanceSpec(
            instance_id=instance_id, blueprint=self.blueprint, scenario=self.scenario, env=self.env
        )
        return StepRun(ctx=self.ctx, spec=spec, outputs=self.outputs, provider=provider)

    def absorb(self, name: str, result: Outputs) -> None:
        self.env = {**self.env, **result.env}
        if result.state:
            self.outputs[name] = dict(result.state)

    def stored(self) -> dict[str, Any]:
        return {
            "outputs": {**self.outputs, **self.marks},
            "secrets": self.ctx.box.seal({**self.sealed, "env": self.env}),
        }

    def _base_env(self, row: InstanceRow) -> dict[str, str]:
        env = {
            "DEMO_INSTANCE_ID": row.id,
            "DEMO_SCENARIO": row.scenario,
            "DEMO_LOGIN_SECRET": self.sealed.get("login_secret") or secrets.token_hex(16),
            **activity_env(self.ctx, row.id),  # where and how the stack reports engagement
            **tour_env(self.blueprint, self.scenario),  # the rep's in-demo tour panel
        }
        for route, url in demo_urls(self.ctx.settings, self.blueprint, row.id).items():
            env[f"DEMO_URL_{route.upper().replace('-', '_')}"] = url
        prospect = row.prospect or {}
        for key in ("company", "industry"):
            if prospect.get(key):
                env[f"DEMO_PROSPECT_{key.upper()}"] = str(prospect[key])
        return env
