"""A tour step's `expect` (what its page must show) is checked when the blueprint is loaded, with
an error that names the scenario, the step and what to write instead; and `DEMO_TOUR`, the tour
the stack gets, resolves each step's persona to its e-mail and host and keeps the talking points."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo_orchestrator.domain.blueprint import TourExpect, load_blueprint, parse_blueprint
from demo_orchestrator.domain.errors import InvalidBlueprint
from demo_orchestrator.domain.tour import TOUR_ENV, tour_env, tour_steps

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ROOT / "blueprints" / "splits-network.yaml"


def _raw_with_expect(expect: Any) -> dict[str, Any]:
    raw = yaml.safe_load(SPLITS.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    agency = next(s for s in raw["scenarios"] if s["name"] == "agency")
    agency["tour"][1]["expect"] = expect
    return dict(raw)


def test_the_shipped_blueprint_loads_and_its_expects_read_back_as_written() -> None:
    blueprint = load_blueprint(SPLITS)
    raw = yaml.safe_load(SPLITS.read_text(encoding="utf-8"))
    for scenario in raw["scenarios"]:
        model = blueprint.scenario(scenario["name"])
        assert model is not None
        for written, step in zip(scenario.get("tour", []), model.tour, strict=True):
            if written.get("expect") is None:
                assert step.expect is None
            else:
                assert step.expect is not None
                assert step.expect.model_dump() == written["expect"]


@pytest.mark.parametrize(
    "expect",
    [
        {"selector": ".pipeline .card", "min_count": 3},
        {"selector": "table tr", "min_count": 0},
        {"text": "Placements"},
        {"prospect": True},
        {"prospect": False, "text": "Outbox"},
        {"selector": "h1", "min_count": 1, "text": "Dashboard", "prospect": True},
    ],
)
def test_every_contract_shape_is_accepted(expect: dict[str, Any]) -> None:
    blueprint = parse_blueprint(_raw_with_expect(expect), source="t.yaml")
    agency = blueprint.scenario("agency")
    assert agency is not None
    step = agency.tour[1].expect
    assert step is not None
    assert step.model_dump() == expect  # only the keys given, as given
    assert tour_steps(blueprint, agency)[1]["expect"] == expect


@pytest.mark.parametrize(
    ("expect", "says"),
    [
        ({}, "expect is empty: give at least one of selector, min_count, text, prospect"),
        ({"text": None}, "expect is empty"),
        (
            {"colour": "red"},
            "unknown key(s) 'colour'; it takes selector, min_count, text, prospect",
        ),
        ({"text": "x", "minimum": 2}, "unknown key(s) 'minimum'"),
        (
            {"selector": "li", "min_count": -1},
            "min_count: Input should be greater than or equal to 0",
        ),
        ({"selector": "li", "min_count": "3"}, "min_count: Input should be a valid integer"),
        ({"selector": "li", "min_count": 2.5}, "min_count: Input should be a valid integer"),
        ({"selector": "li", "min_count": True}, "min_count: Input should be a valid integer"),
        ({"prospect": "yes"}, "prospect: Input should be a valid boolean"),
        ({"text": 42}, "text: Input should be a valid string"),
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"selector": ""}, "selector: String should have at least 1 character"),
        ({"min_count": 2}, "expect.min_count counts what `selector` matches: give a selector"),
        ("h1", "expect must be a mapping of selector, min_count, text, prospect, not str"),
        (["h1"], "expect must be a mapping"),
    ],
)
def test_bad_expects_are_refused_naming_the_scenario_step_and_fix(expect: Any, says: str) -> None:
    with pytest.raises(InvalidBlueprint) as caught:
        parse_blueprint(_raw_with_expect(expect), source="t.yaml")
    message = str(caught.value)
    assert message.startswith("blueprint t.yaml: scenarios.agency.tour.1.expect"), message
    assert says in message, message


def test_a_step_without_expect_checks_nothing() -> None:
    raw = _raw_with_expect(None)
    blueprint = parse_blueprint(raw, source="t.yaml")
    agency = blueprint.scenario("agency")
    assert agency is not None and agency.tour[1].expect is None
    assert tour_steps(blueprint, agency)[1]["expect"] is None


def test_expect_is_a_frozen_value() -> None:
    made = TourExpect.model_validate({"text": "Jobs"})
    with pytest.raises(ValueError):
        made.text = "other"  # type: ignore[misc]


def test_demo_tour_resolves_personas_and_keeps_the_talking_points() -> None:
    blueprint = load_blueprint(SPLITS)
    for scenario in blueprint.scenarios:
        steps = json.loads(tour_env(blueprint, scenario)[TOUR_ENV])
        personas = {p.name: p for p in scenario.personas}
        assert [s["step"] for s in steps] == list(range(1, len(scenario.tour) + 1))
        for step, source in zip(steps, scenario.tour, strict=True):
            assert set(step) == {
                "step",
                "persona",
                "email",
                "route",
                "page",
                "action",
                "talking_point",
                "expect",
            }
            persona = personas[source.persona]
            assert step["persona"] == source.persona
            assert step["email"] == persona.email
            assert step["route"] == (persona.route or blueprint.login_route)
            assert step["route"] in blueprint.routes
            assert (step["page"], step["action"], step["talking_point"]) == (
                source.page,
                source.action,
                source.talking_point,
            )
    agency = blueprint.scenario("agency")
    assert agency is not None
    sam = next(s for s in tour_steps(blueprint, agency) if s["persona"] == "Sam Carter")
    assert sam["route"] == "candidate"  # a candidate's step opens on the candidate host
    jordan = tour_steps(blueprint, agency)[0]
    assert jordan["route"] == "portal" and jordan["email"].endswith(".example")


def test_a_scenario_without_a_tour_gets_an_empty_list() -> None:
    blueprint = load_blueprint(ROOT / "tests" / "blueprints" / "tiny.yaml")
    startup = blueprint.scenario("startup")
    assert startup is not None and startup.tour == []
    assert tour_env(blueprint, startup) == {TOUR_ENV: "[]"}
