"""Which tour step a visit reaches (engine/activity_log.py), on the real splits-network tours:
the step's persona on the step's page, compared without the #fragment browsers never send; steps
sharing a persona and page are reached together; another persona or page reaches nothing."""

from __future__ import annotations

from pathlib import Path

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.engine.activity_log import reached, tour_step_of

BLUEPRINT = load_blueprint(
    Path(__file__).resolve().parents[2] / "blueprints" / "splits-network.yaml"
)
AGENCY = BLUEPRINT.scenario("agency")


def test_a_steps_persona_on_its_page_reaches_it() -> None:
    assert tour_step_of(AGENCY, "Jordan Reyes", "/") == 1
    assert tour_step_of(AGENCY, "Jordan Reyes", "/jobs/1") == 2  # 2 and 3 (#matches) share it
    assert tour_step_of(AGENCY, "Jordan Reyes", "/recruiters") == 4
    assert tour_step_of(AGENCY, "Priya Nair", "/placements") == 7


def test_another_persona_another_page_or_the_rep_reaches_nothing() -> None:
    assert tour_step_of(AGENCY, "Priya Nair", "/") == 0  # step 1 is Jordan's
    assert tour_step_of(AGENCY, "Jordan Reyes", "/jobs/2") == 0
    assert tour_step_of(AGENCY, "Jordan Reyes", "/jobs/1#matches") == 0  # never sent so
    assert tour_step_of(AGENCY, None, "/") == 0
    assert tour_step_of(None, "Jordan Reyes", "/") == 0


def test_steps_sharing_persona_and_page_are_reached_together() -> None:
    assert reached(AGENCY, {2}) == {2, 3}
    assert reached(AGENCY, {1, 2, 4}) == {1, 2, 3, 4}
    assert reached(AGENCY, set()) == set()
    assert reached(None, {1}) == set()
