"""The scenario's guided tour as the demo's own stack gets it: `DEMO_TOUR`.

The rep's in-demo tour panel (rendered by the stack) needs every step in order, with whom to sign
in as (the persona's name and e-mail), on which host (`route`) and which page, what to do, what
to say, and what the page must show (`expect`). The orchestrator resolves the persona's e-mail
and route from the scenario's personas once, here, so the stack never needs the blueprint.

Pure (domain), so the engine and a provider rendering a demo without the engine (`democtl
render`) build the same value. It reaches the stack the way every other per-demo setting does
(engine/work.py's environment): the local runtime writes it into the demo's settings file and
reloads the demo in place, the Kubernetes runtime puts it in the demo's ConfigMap. Unlike `DEMO_SHARE_TOUR` (the
prospect's cut, engine/shares.py), it carries the talking points: the stack shows it to the
rep's session only.
"""

from __future__ import annotations

import json
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint, Scenario

TOUR_ENV = "DEMO_TOUR"


def tour_steps(blueprint: Blueprint, scenario: Scenario) -> list[dict[str, Any]]:
    """One object per step, numbered from 1: step, persona, email, route, page, action,
    talking_point, expect (None when the step checks nothing). A step whose persona is not
    among the scenario's personas keeps its name, with e-mail None, on the login route."""
    home = blueprint.login_route or blueprint.routes[0]
    personas = {p.name: p for p in scenario.personas}
    steps: list[dict[str, Any]] = []
    for number, step in enumerate(scenario.tour, start=1):
        persona = personas.get(step.persona)
        steps.append(
            {
                "step": number,
                "persona": step.persona,
                "email": persona.email if persona is not None else None,
                "route": (persona.route if persona is not None else None) or home,
                "page": step.page,
                "action": step.action,
                "talking_point": step.talking_point,
                "expect": step.expect.model_dump() if step.expect is not None else None,
            }
        )
    return steps


def tour_env(blueprint: Blueprint, scenario: Scenario) -> dict[str, str]:
    """`{"DEMO_TOUR": <JSON list>}`; `[]` for a scenario without a tour (the panel is absent)."""
    return {
        TOUR_ENV: json.dumps(
            tour_steps(blueprint, scenario), separators=(",", ":"), ensure_ascii=False
        )
    }
