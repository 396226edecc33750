"""Builds the public picture of an instance: its URLs, personas with sign-in links, steps, cost.

Derived from the stored record on every read, never stored twice. Sign-in tokens are computed
from the demo's login secret the same way the demo checks them (src/splits_stack/services/
identity.py): a persona's is HMAC(secret, email); the rep's is an HMAC under a key derived from the
secret for a message no e-mail can be, so neither can be made from the other. Rotating the secret
(engine/rotation.py) therefore replaces every link at once.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.instance import Status, cost_of
from demo_orchestrator.domain.prospect import prospect_email
from demo_orchestrator.domain.tour import tour_steps
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.models import InstanceRow
from demo_orchestrator.store.repository import StepRecord


def demo_urls(settings: Settings, blueprint: Blueprint, instance_id: str) -> dict[str, str]:
    suffix = settings.url_port_suffix()
    return {
        route: f"{settings.public_scheme}://{instance_id}.{route}.{settings.base_domain}{suffix}"
        for route in blueprint.routes
    }


def login_token(secret: str, email: str) -> str:
    return hmac.new(secret.encode(), email.lower().encode(), hashlib.sha256).hexdigest()


def rep_token(secret: str, instance_id: str) -> str:
    """The rep's sign-in token: domain-separated from persona tokens (a derived key, a message
    that starts with a NUL byte and names the demo)."""
    key = hmac.new(secret.encode(), b"\x00splits:rep-login", hashlib.sha256).digest()
    message = f"\x00rep-login\x00{instance_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def rep_login_url(
    blueprint: Blueprint, instance_id: str, urls: dict[str, str], login_secret: str | None
) -> str | None:
    route = blueprint.login_route or blueprint.routes[0]
    if login_secret is None or blueprint.rep_login_path is None or route not in urls:
        return None
    token = rep_token(login_secret, instance_id)
    return f"{urls[route]}{blueprint.rep_login_path}?token={token}"


def company_of(prospect: dict[str, Any] | None) -> str | None:
    """The prospect's company name from an instance's `prospect` field, if any."""
    company = (prospect or {}).get("company")
    return (company.strip() or None) if isinstance(company, str) else None


def personas(
    blueprint: Blueprint,
    scenario_name: str,
    urls: dict[str, str],
    login_secret: str | None,
    scenario: Scenario | None = None,  # given for a saved template (engine/templates.py)
    company: str | None = None,  # the prospect's, when the demo was made for one
) -> list[dict[str, Any]]:
    """Each persona with its one-click sign-in. The link names the blueprint's e-mail (what the
    stack signs in by, before and after its prospect transform); `email` is the address the demo
    shows, at the prospect's domain for the prospect's own people."""
    scenario = scenario or blueprint.scenario(scenario_name)
    if scenario is None:
        return []
    default_route = blueprint.login_route or blueprint.routes[0]
    out = []
    for persona in scenario.personas:
        route = persona.route or default_route
        login_url = None
        if login_secret is not None and route in urls:
            token = login_token(login_secret, persona.email)
            login_url = (
                f"{urls[route]}{blueprint.login_path}?email={quote(persona.email)}&token={token}"
            )
        out.append(
            {
                "name": persona.name,
                "role": persona.role,
                "email": (
                    prospect_email(persona.email, company)
                    if persona.prospect and company
                    else persona.email
                ),
                "show": persona.show,
                "login_url": login_url,
            }
        )
    return out


def tour(
    blueprint: Blueprint,
    scenario_name: str,
    rep_url: str | None,
    shown_personas: list[dict[str, Any]] | None = None,
    scenario: Scenario | None = None,  # given for a saved template (engine/templates.py)
) -> list[dict[str, Any]]:
    """The scenario's guided tour, one object per step in order (the `DEMO_TOUR` shape,
    domain/tour.py), each with `url`: the rep's sign-in link that goes straight to the step
    (`<rep_login_url>&step=N`), or None when the rep's link is not shown to this caller. A step's
    e-mail is the one its persona is shown with (`shown_personas`), else the blueprint's."""
    scenario = scenario or blueprint.scenario(scenario_name)
    if scenario is None:
        return []
    shown = {p["name"]: p["email"] for p in shown_personas or []}
    return [
        {
            **step,
            "email": shown.get(step["persona"]) or step["email"],
            "url": f"{rep_url}&step={step['step']}" if rep_url else None,
        }
        for step in tour_steps(blueprint, scenario)
    ]


def step_view(step: StepRecord) -> dict[str, Any]:
    duration = None
    if step.started_at and step.finished_at:
        duration = round((step.finished_at - step.started_at).total_seconds(), 3)
    return {
        "name": step.name,
        "status": step.status,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "duration_seconds": duration,
        "retries": step.retries,
        "message": step.message,
        "error": step.error,
    }


def health_view(state: str | None, reason: str | None, since: str | None) -> dict[str, Any]:
    """`{"state": "ok" | "degraded", "reason", "since"}`: whether a demo answers, beside its
    status (a degraded demo stays `ready`); `since` is the creation time until it first changed."""
    return {"state": state or "ok", "reason": reason, "since": since}


def instance_view(
    row: InstanceRow,
    steps: list[StepRecord],
    *,
    settings: Settings,
    blueprint: Blueprint | None,
    login_secret: str | None,
    now: datetime,
    scenario: Scenario | None = None,
) -> dict[str, Any]:
    # A request still waiting for approval has no environment yet, so no links either.
    live = row.status not in {
        Status.DELETED.value,
        Status.REJECTED.value,
        Status.PENDING_APPROVAL.value,
        Status.SCHEDULED.value,  # booked: nothing made yet, so no links before its hand-off
    }
    urls = demo_urls(settings, blueprint, row.id) if blueprint is not None else {}
    shown_personas = (
        personas(blueprint, row.scenario, urls, login_secret, scenario, company_of(row.prospect))
        if (blueprint is not None and live)
        else []
    )
    rep_url = (
        rep_login_url(blueprint, row.id, urls, login_secret)
        if (blueprint is not None and live)
        else None
    )
    cost = cost_of(
        hourly_usd=row.hourly_usd,
        started_at=row.started_at,
        ended_at=row.ended_at,
        now=now,
        sleeping_hourly_usd=row.sleeping_hourly_usd or 0.0,
        slept_seconds=row.slept_seconds or 0.0,
        sleeping_since=row.sleeping_since,
    )
    return {
        "id": row.id,
        "status": row.status,
        "desired": row.desired,
        "blueprint": row.blueprint,
        "scenario": row.scenario,
        "owner": row.owner,
        "name": row.name,
        "prospect": row.prospect,
        "notes": row.notes,
        "created_at": _iso(row.created_at),
        "ready_at": _iso(row.ready_at),
        "expires_at": _iso(row.expires_at),
        "ended_at": _iso(row.ended_at),
        "duration_hours": row.duration_hours,
        "meeting_at": _iso(row.meeting_at),
        "starts_at": _iso(row.starts_at),
        "waiting_reason": (row.outputs or {}).get("approval", {}).get("reason")
        if row.status == Status.PENDING_APPROVAL.value
        else None,
        "urls": urls if live else {},
        "personas": shown_personas,
        "rep_login_url": rep_url,
        "tour": tour(blueprint, row.scenario, rep_url, shown_personas, scenario)
        if blueprint is not None
        else [],
        "steps": [step_view(s) for s in steps],
        "cost": {
            "hourly_usd": cost.hourly_usd,
            "sleeping_hourly_usd": row.sleeping_hourly_usd or 0.0,
            "accrued_usd": cost.accrued_usd,
        },
        "health": health_view(
            row.health_state, row.health_reason, _iso(row.health_since or row.created_at)
        ),
        "error": row.error,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
