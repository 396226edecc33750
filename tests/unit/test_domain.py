"""Pure tests of the domain (ids, state machine, durations, expiry, cost, blueprints) and of the
fault injector. No I/O beyond reading small blueprint files from `tmp_path`."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint, parse_blueprint
from demo_orchestrator.domain.errors import (
    BadRequest,
    Conflict,
    InvalidBlueprint,
    InvalidTransition,
    TemporaryError,
)
from demo_orchestrator.domain.instance import (
    ID_ALPHABET,
    LIVE,
    TERMINAL,
    TRANSITIONS,
    Status,
    check_transition,
    cost_of,
    extended_expiry,
    is_instance_id,
    new_instance_id,
    validate_duration,
)
from demo_orchestrator.engine.faults import FaultInjector

TINY = Path(__file__).resolve().parent.parent / "blueprints" / "tiny.yaml"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- instance ids ---------------------------------------------------------------------------


def test_new_ids_have_the_documented_format() -> None:
    for _ in range(200):
        instance_id = new_instance_id()
        assert is_instance_id(instance_id), instance_id
        assert instance_id.startswith("demo-") and len(instance_id) == 11
        assert set(instance_id[5:]) <= set(ID_ALPHABET)


def test_ids_are_random_use_the_whole_alphabet_and_practically_never_collide() -> None:
    draws = [new_instance_id() for _ in range(10_000)]
    # 36**6 ~ 2.2e9 ids: 10,000 draws expect ~0.02 collisions; 3 or more means a weak generator.
    assert len(set(draws)) >= len(draws) - 2
    for position in range(5, 11):
        assert {d[position] for d in draws} == set(ID_ALPHABET), f"position {position}"


def test_ids_do_not_come_from_the_seedable_random_module() -> None:
    random.seed(1234)
    first = [new_instance_id() for _ in range(5)]
    random.seed(1234)
    second = [new_instance_id() for _ in range(5)]
    assert first != second


@pytest.mark.parametrize(
    "value",
    [
        "demo-ABCDEF",
        "demo-abcde",
        "demo-abcdefg",
        "dem0-abcdef",
        "demo_abcdef",
        "demo-abc-ef",
        "demo-abcdef\n",
        " demo-abcdef",
        "",
        "demo-",
    ],
)
def test_is_instance_id_refuses_anything_else(value: str) -> None:
    assert not is_instance_id(value)


# --- the status state machine ---------------------------------------------------------------

ALL_PAIRS = [(a, b) for a in Status for b in Status]


def test_every_status_has_a_transition_entry() -> None:
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=lambda s: s.value)
def test_transition_allowed_exactly_when_listed(current: Status, target: Status) -> None:
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(current, target)
        assert current.value in info.value.detail and target.value in info.value.detail
        assert isinstance(info.value, Conflict) and info.value.status == 409


def test_state_machine_shape() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset(), f"{status} is terminal but can be left"
    assert not any(Status.PENDING_APPROVAL in targets for targets in TRANSITIONS.values())
    assert TERMINAL.isdisjoint(LIVE)
    # Every status that is not terminal can still reach `deleted` (nothing gets stuck).
    for start in set(Status) - TERMINAL:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert Status.DELETED in seen, f"{start} cannot reach deleted"


def test_builtin_plan_order() -> None:
    from demo_orchestrator.engine.builtin_steps import BUILTIN_STEPS

    names = [s.name for s in BUILTIN_STEPS]
    assert names == ["database", "cache", "broker", "seed", "deploy", "routes", "health"]


# --- validate_duration ----------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "expected"), [(2, 2.0), (0.25, 0.25), (1e-3, 1e-3), (8, 8.0)])
def test_validate_duration_accepts_positive_hours_up_to_the_cap(
    hours: float, expected: float
) -> None:
    result = validate_duration(hours, max_hours=8)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("hours", [0, 0.0, -1, -0.25, float("nan"), float("-inf")])
def test_validate_duration_refuses_zero_negative_and_nan(hours: float) -> None:
    with pytest.raises(BadRequest, match=r"greater than 0, e\.g\. 2 or 0\.25"):
        validate_duration(hours, max_hours=8)


@pytest.mark.parametrize("hours", [True, False, "2", None, [2], b"2"])
def test_validate_duration_refuses_non_numbers(hours: Any) -> None:
    with pytest.raises(BadRequest, match=r"must be a number of hours, e\.g\. 2 or 0\.25"):
        validate_duration(hours, max_hours=8)


@pytest.mark.parametrize("hours", [8.01, 9, float("inf")])
def test_validate_duration_refuses_over_the_cap_and_says_the_cap(hours: float) -> None:
    with pytest.raises(BadRequest) as info:
        validate_duration(hours, max_hours=8)
    assert "cap of 8 hours" in info.value.detail and "at most 8" in info.value.detail
    assert info.value.status == 422


# --- extended_expiry ------------------------------------------------------------------------


def extend(
    expires_at: datetime, hours: Any, *, now: datetime = T0, max_hours: float = 8
) -> datetime:
    return extended_expiry(
        created_at=T0, expires_at=expires_at, hours=hours, max_hours=max_hours, now=now
    )


def test_extension_adds_to_the_current_expiry() -> None:
    assert extend(T0 + timedelta(hours=2), 1.5) == T0 + timedelta(hours=3.5)


def test_extension_of_an_expired_instance_counts_from_now() -> None:
    now = T0 + timedelta(hours=3)
    assert extend(T0 + timedelta(hours=2), 1, now=now) == now + timedelta(hours=1)


def test_cap_holds_across_repeated_extensions() -> None:
    expiry = T0 + timedelta(hours=2)
    expiry = extend(expiry, 3)
    expiry = extend(expiry, 3)
    assert expiry == T0 + timedelta(hours=8)
    with pytest.raises(BadRequest) as info:
        extend(expiry, 0.5)
    assert "8-hour cap" in info.value.detail and "at most 0.00 h more" in info.value.detail


def test_refusal_says_how_much_is_left() -> None:
    with pytest.raises(BadRequest) as info:
        extend(T0 + timedelta(hours=5.5), 3)
    assert "extending by 3 h" in info.value.detail
    assert "at most 2.50 h more is allowed" in info.value.detail
    # ... and exactly what is left is accepted.
    assert extend(T0 + timedelta(hours=5.5), 2.5) == T0 + timedelta(hours=8)


def test_extension_within_a_second_of_the_cap_is_clamped_to_the_cap() -> None:
    expires_at = T0 + timedelta(hours=7.5, milliseconds=500)
    assert extend(expires_at, 0.5) == T0 + timedelta(hours=8)


@pytest.mark.parametrize("hours", [0, -1, float("nan"), True, "1", None])
def test_extension_refuses_bad_hours(hours: Any) -> None:
    with pytest.raises(BadRequest, match="greater than 0"):
        extend(T0 + timedelta(hours=2), hours)


def test_the_amount_the_refusal_advises_is_accepted() -> None:
    expires_at = T0 + timedelta(hours=2)
    now = T0 + timedelta(hours=7.004)  # expired; 0.996 h left before the 8-hour cap
    with pytest.raises(BadRequest) as info:
        extend(expires_at, 1, now=now)
    advised = float(info.value.detail.split("at most ")[1].split(" h")[0])
    assert extend(expires_at, advised, now=now) <= T0 + timedelta(hours=8)


# --- cost_of --------------------------------------------------------------------------------


def test_cost_is_zero_before_provisioning_starts() -> None:
    cost = cost_of(hourly_usd=0.16, started_at=None, ended_at=None, now=T0)
    assert cost.hourly_usd == 0.16 and cost.accrued_usd == 0.0


def test_cost_accrues_until_now_while_running() -> None:
    cost = cost_of(hourly_usd=0.16, started_at=T0, ended_at=None, now=T0 + timedelta(minutes=90))
    assert cost.accrued_usd == pytest.approx(0.24)


def test_cost_stops_at_the_end() -> None:
    cost = cost_of(
        hourly_usd=0.16,
        started_at=T0,
        ended_at=T0 + timedelta(hours=1),
        now=T0 + timedelta(hours=10),
    )
    assert cost.accrued_usd == pytest.approx(0.16)


def test_cost_never_negative_and_rounded_to_four_places() -> None:
    assert (
        cost_of(hourly_usd=1, started_at=T0, ended_at=None, now=T0 - timedelta(hours=1)).accrued_usd
        == 0.0
    )
    cost = cost_of(hourly_usd=0.1, started_at=T0, ended_at=None, now=T0 + timedelta(seconds=7))
    assert cost.accrued_usd == round(7 / 3600 * 0.1, 4) == 0.0002


# --- blueprints -----------------------------------------------------------------------------


def test_tiny_blueprint_loads() -> None:
    blueprint = load_blueprint(TINY)
    assert blueprint.name == "tiny"
    assert blueprint.routes == ["portal", "candidate"]
    assert blueprint.login_route == "portal" and blueprint.login_path == "/login"
    assert blueprint.source == str(TINY)
    web = blueprint.service_for_route("candidate")
    assert web is not None and web.name == "web" and web.health_path == "/healthz"
    assert blueprint.service_for_route("nope") is None
    assert blueprint.default_scenario == "agency"
    assert [s.name for s in blueprint.scenarios] == ["agency", "startup", "broken"]
    startup = blueprint.scenario("startup")
    assert startup is not None and startup.seed == 9 and startup.counts == {"items": 3}
    assert blueprint.scenario("nope") is None
    agency = blueprint.scenario("agency")
    assert agency is not None and [p.route for p in agency.personas] == [None, "candidate"]
    assert blueprint.cost.total_hourly_usd == 0.16
    assert blueprint.data.database and not blueprint.data.cache
    assert blueprint.data.fingerprint == ["tiny_seed.py"]


def minimal() -> dict[str, Any]:
    return {
        "name": "shop",
        "routes": ["portal", "admin"],
        "services": [
            {"name": "web", "command": ["run"], "routes": ["portal"]},
            {"name": "back", "command": ["run"], "routes": ["admin"]},
        ],
        "default_scenario": "basic",
        "scenarios": [{"name": "basic", "title": "Basic"}],
    }


def test_minimal_blueprint_is_valid() -> None:
    blueprint = parse_blueprint(minimal(), source="mem.yaml")
    assert isinstance(blueprint, Blueprint) and blueprint.source == "mem.yaml"


def _with(**changes: Any) -> dict[str, Any]:
    raw = minimal()
    raw.update(changes)
    return raw


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "route served by no service": (
        _with(services=[{"name": "web", "command": ["run"], "routes": ["portal"]}]),
        r"no service serves route\(s\) \['admin'\]",
    ),
    "route served twice": (
        _with(
            services=[
                {"name": "web", "command": ["run"], "routes": ["portal", "admin"]},
                {"name": "back", "command": ["run"], "routes": ["admin"]},
            ]
        ),
        "route 'admin' is served by two services",
    ),
    "service serves an unknown route": (
        _with(
            services=[
                {"name": "web", "command": ["run"], "routes": ["portal", "admin", "extra"]},
            ]
        ),
        "service 'web' serves unknown route 'extra'",
    ),
    "unknown default_scenario": (
        _with(default_scenario="nope"),
        "default_scenario 'nope' is not a scenario",
    ),
    "duplicate scenario names": (
        _with(scenarios=[{"name": "basic", "title": "A"}, {"name": "basic", "title": "B"}]),
        "scenario names must be unique",
    ),
    "unknown login_route": (_with(login_route="nope"), "login_route 'nope' is not a route"),
    "duplicate routes": (_with(routes=["portal", "admin", "portal"]), "routes must be unique"),
    "bad route name": (
        _with(routes=["Portal", "admin"]),
        "route 'Portal' must be lowercase letters, digits and dashes",
    ),
    "bad blueprint name": (_with(name="My_Shop"), "shop.yaml: name: String should match pattern"),
    "bad service name": (
        _with(
            services=[
                {"name": "Web", "command": ["run"], "routes": ["portal"]},
                {"name": "back", "command": ["run"], "routes": ["admin"]},
            ]
        ),
        r"services\.0\.name: String should match pattern",
    ),
    "bad scenario name": (
        _with(scenarios=[{"name": "1st", "title": "A"}], default_scenario="1st"),
        r"scenarios\.0\.name: String should match pattern",
    ),
    "unknown key": (_with(colour="blue"), "colour: Extra inputs are not permitted"),
    "no routes": (_with(routes=[]), "routes: List should have at least 1 item"),
    "no scenarios": (_with(scenarios=[]), "scenarios: List should have at least 1 item"),
    "empty command": (
        _with(
            services=[
                {"name": "web", "command": [], "routes": ["portal"]},
                {"name": "back", "command": ["run"], "routes": ["admin"]},
            ]
        ),
        r"services\.0\.command",
    ),
    "missing default_scenario": (
        {k: v for k, v in minimal().items() if k != "default_scenario"},
        "default_scenario: Field required",
    ),
}


@pytest.mark.parametrize(("raw", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_blueprint_refused_with_a_clear_message(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBlueprint, match=message) as info:
        parse_blueprint(raw, source="shop.yaml")
    assert info.value.detail.startswith("blueprint shop.yaml")
    assert info.value.status == 422


@pytest.mark.parametrize("raw", [["a", "b"], "just text", 42, None])
def test_non_mapping_yaml_refused(raw: Any, tmp_path: Path) -> None:
    path = tmp_path / "bp.yaml"
    path.write_text(yaml.safe_dump(raw) if raw is not None else "", encoding="utf-8")
    with pytest.raises(InvalidBlueprint, match=f"blueprint {path} must be a mapping"):
        load_blueprint(path)


def test_missing_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(InvalidBlueprint, match=f"cannot read blueprint {path}"):
        load_blueprint(path)


def test_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidBlueprint, match="cannot read blueprint"):
        load_blueprint(tmp_path)


def test_broken_yaml_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nroutes: {", encoding="utf-8")
    with pytest.raises(InvalidBlueprint, match=f"cannot read blueprint {path}"):
        load_blueprint(path)


def test_invalid_content_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(_with(default_scenario="nope")), encoding="utf-8")
    with pytest.raises(InvalidBlueprint, match=f"blueprint {path}: .*'nope' is not a scenario"):
        load_blueprint(path)


def test_non_utf8_file_refused_as_invalid_blueprint(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InvalidBlueprint, match="cannot read blueprint"):
        load_blueprint(path)


def test_persona_route_must_be_a_route() -> None:
    raw = _with(
        scenarios=[
            {
                "name": "basic",
                "title": "Basic",
                "personas": [
                    {"name": "Ann", "role": "admin", "email": "a@x.test", "route": "nope"}
                ],
            }
        ]
    )
    with pytest.raises(InvalidBlueprint, match="nope"):
        parse_blueprint(raw, source="shop.yaml")


# --- fault injection ------------------------------------------------------------------------


def failures(injector: FaultInjector, step: str, attempts: int) -> int:
    count = 0
    for _ in range(attempts):
        try:
            injector.check(step)
        except TemporaryError as exc:
            assert exc.detail == f"injected fault in step {step}" and exc.delay > 0
            count += 1
    return count


def test_fault_count_fails_that_many_times_then_passes() -> None:
    injector = FaultInjector("deploy:2, health:1")
    assert failures(injector, "deploy", 10) == 2
    assert failures(injector, "health", 10) == 1
    assert failures(injector, "seed", 10) == 0


def test_fault_always_never_passes() -> None:
    injector = FaultInjector("health:always")
    assert failures(injector, "health", 50) == 50
    assert failures(injector, "deploy", 5) == 0


@pytest.mark.parametrize("spec", ["", " ", ",,", "deploy:0"])
def test_empty_spec_injects_nothing(spec: str) -> None:
    injector = FaultInjector(spec)
    steps = ("database", "cache", "broker", "seed", "deploy", "routes", "health")
    assert sum(failures(injector, step, 3) for step in steps) == 0


def test_fault_count_is_exact_under_concurrency() -> None:
    injector = FaultInjector("deploy:25")
    results: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(failures(injector, "deploy", 20))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 25


@pytest.mark.parametrize(
    "spec",
    ["deploy", "deploy:", "deploy:-1", "deploy:two", "deploy:1.5", "deploy:2,health:sometimes"],
)
def test_bad_fault_spec_refused(spec: str) -> None:
    with pytest.raises(BadRequest, match="must be step:count or step:always"):
        FaultInjector(spec)


def test_unicode_digit_fault_spec_refused_as_bad_request() -> None:
    with pytest.raises(BadRequest):
        FaultInjector("deploy:\u00b2")
