"""Engagement from the live demo: what a demo's stack reports, kept per minute, and read back.

(Not to be confused with `engine/activity.py`, the router's idle tracking for sleep.)

The stack reports (src/splits_stack/services/activity.py) because only it knows who is signed in
and which route template a path matched; the orchestrator gives it, in its environment, its own
URL (`DEMO_ORCHESTRATOR_URL`) and a per-demo credential (`DEMO_ACTIVITY_TOKEN`): an HMAC of the
demo's id under a key derived from the orchestrator's secret key, so it needs no storage, survives
a rotation of the demo's login secret, and one demo's token is useless for another.

Tour steps are numbered from 1, in the order of the scenario's `tour` (as the detail page lists
them). A visit of a step's page by that step's persona reaches it; a page is compared without its
`#fragment` (browsers never send one), so steps that differ only by fragment (`/jobs/1` and
`/jobs/1#matches`) are reached together, and the stored `tour_step` is the first of them.

Only what the rep entered or the blueprint seeded is kept: persona names (fiction), route names,
path patterns. The concrete page of an event is used for the tour match and then dropped; no
query string, address or user agent is ever received.
"""

from __future__ import annotations

import base64
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from demo_orchestrator.domain.blueprint import Scenario
from demo_orchestrator.domain.errors import BadRequest, Forbidden, NotFound, Unauthorized
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.admission import TooManyRequests
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.demo_self import owner_contact, self_view
from demo_orchestrator.store import activity as store
from demo_orchestrator.store.models import ActivityRow, InstanceRow

MAX_EVENTS = 500  # per report; the stack sends at most this many
MAX_REQUESTS = 100_000  # per event: one minute of one page by one persona
# A path pattern or page: a path, no query string, no fragment, nothing but URL path characters.
PATH = re.compile(r"^/[A-Za-z0-9/_.{}~%-]*$")
SKEW = timedelta(minutes=5)  # how far a stack's clock may be ahead of ours


@dataclass(frozen=True)
class ActivityEvent:
    """One count as the stack reports it (validated shape; meaning checked by `ActivityLog`)."""

    at: datetime
    persona: str | None
    route: str
    path: str
    page: str
    requests: int


def activity_token(ctx: Context, instance_id: str) -> str:
    return ctx.box.mac(f"activity\x00{instance_id}")


def activity_env(ctx: Context, instance_id: str) -> dict[str, str]:
    """What a demo's stack needs to report: where to, and its credential."""
    url = ctx.settings.activity_url or f"http://127.0.0.1:{ctx.settings.port}"
    return {
        "DEMO_ORCHESTRATOR_URL": url.rstrip("/"),
        "DEMO_ACTIVITY_TOKEN": activity_token(ctx, instance_id),
    }


def tour_step_of(scenario: Scenario | None, persona: str | None, page: str) -> int:
    """The first tour step (1-based) this persona reaches on this page; 0 for none."""
    if scenario is None or persona is None:
        return 0
    for number, step in enumerate(scenario.tour, start=1):
        if step.persona == persona and step.page.split("#", 1)[0] == page:
            return number
    return 0


def reached(scenario: Scenario | None, first_steps: set[int]) -> set[int]:
    """Every step reached, given the stored (first) steps: those sharing persona and page too."""
    if scenario is None:
        return set()
    keys = {
        (step.persona, step.page.split("#", 1)[0])
        for number, step in enumerate(scenario.tour, start=1)
        if number in first_steps
    }
    return {
        number
        for number, step in enumerate(scenario.tour, start=1)
        if (step.persona, step.page.split("#", 1)[0]) in keys
    }


def item(row: ActivityRow) -> dict[str, Any]:
    return {
        "at": row.at.isoformat().replace("+00:00", "Z"),
        "persona": row.persona or None,
        "route": row.route,
        "path": row.path,
        "tour_step": row.tour_step or None,
        "requests": row.requests,
    }


class ActivityLog:
    """Records reports from demos and reads them back for the API, the detail and usage pages."""

    def __init__(self, ctx: Context, visible: Callable[[Principal, str], Any]) -> None:
        self.ctx = ctx
        self._visible = visible  # raises NotFound/Forbidden like any read of the instance
        self._rate = parse(ctx.settings.activity_rate_per_demo)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    # -- from the demo -----------------------------------------------------------------------

    def authenticate(self, instance_id: str, token: str | None, purpose: str = "activity") -> None:
        """Refuse anything but this demo's own token (checked before anything is looked up, so a
        caller without one learns nothing, not even whether the demo exists). `purpose` names
        the call (`activity` for reports, `self` for the demo's read of itself): each has its
        own budget of DEMO_ACTIVITY_RATE_PER_DEMO, so reading never starves reporting."""
        what = "an activity report" if purpose == "activity" else "a demo's request"
        if not token:
            raise Unauthorized(f"{what} carries its demo's DEMO_ACTIVITY_TOKEN as a bearer token")
        if not hmac.compare_digest(token.encode(), activity_token(self.ctx, instance_id).encode()):
            raise Forbidden(
                "this is not the activity token of this demo: a demo calls with the "
                "DEMO_ACTIVITY_TOKEN its orchestrator put in its environment"
            )
        if not self._limiter.hit(self._rate, purpose, instance_id):
            reset_at = self._limiter.get_window_stats(self._rate, purpose, instance_id)
            wait = math.ceil(max(0.0, reset_at.reset_time - time.time()))
            raise TooManyRequests(
                f"{instance_id} called at the limit of {self._rate} "
                f"(DEMO_ACTIVITY_RATE_PER_DEMO); try again in {max(1, wait)} s",
                retry_after=wait,
            )

    def demo_self(self, instance_id: str) -> dict[str, Any]:
        """What the demo learns about itself (engine/demo_self.py); call `authenticate` first."""
        with self.ctx.db.read() as session:
            row = session.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(
                    f"no demo {instance_id}: it was never made here, or its record was removed"
                )
            contact = owner_contact(session, row.owner)
            return self_view(self.ctx.settings, row, contact, now=self.ctx.clock())

    def record(self, instance_id: str, events: list[ActivityEvent]) -> int:
        """Add a report's counts; the number of requests added."""
        if len(events) > MAX_EVENTS:
            raise BadRequest(f"at most {MAX_EVENTS} events per report, got {len(events)}")
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = session.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"no demo {instance_id}")
            blueprint = self.ctx.blueprints.get(row.blueprint)
            scenario = blueprint.scenario(row.scenario) if blueprint is not None else None
            routes = set(blueprint.routes) if blueprint is not None else set()
            personas = {p.name for p in scenario.personas} if scenario is not None else set()
            visits = [
                self._visit(row, event, number, now, routes, personas, scenario)
                for number, event in enumerate(events)
            ]
            return store.add(session, visits)

    def _visit(
        self,
        row: InstanceRow,
        event: ActivityEvent,
        number: int,
        now: datetime,
        routes: set[str],
        personas: set[str],
        scenario: Scenario | None,
    ) -> store.Visit:
        where = f"events[{number}]"
        at = event.at.replace(second=0, microsecond=0)
        if at > now + SKEW or at < row.created_at - SKEW:
            raise BadRequest(f"{where}.at {event.at.isoformat()} is outside the demo's lifetime")
        if event.route not in routes:
            raise BadRequest(f"{where}.route {event.route!r} is not a route of this demo")
        if event.persona is not None and event.persona not in personas:
            raise BadRequest(f"{where}.persona is not a persona of this demo's scenario")
        for name, value in (("path", event.path), ("page", event.page)):
            if not PATH.match(value):
                raise BadRequest(
                    f"{where}.{name} must be a URL path without query string or fragment"
                )
        if not 1 <= event.requests <= MAX_REQUESTS:
            raise BadRequest(f"{where}.requests must be between 1 and {MAX_REQUESTS}")
        return store.Visit(
            instance_id=row.id,
            at=at,
            persona=event.persona or "",
            route=event.route,
            path=event.path,
            tour_step=tour_step_of(scenario, event.persona, event.page),
            requests=event.requests,
        )

    # -- to people ---------------------------------------------------------------------------

    def page(
        self, who: Principal, instance_id: str, *, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """`{"items": [...], "next_cursor"}`, oldest minute first, for whoever may see the demo."""
        self._visible(who, instance_id)
        after = _decode(cursor) if cursor else None
        with self.ctx.db.read() as session:
            rows = store.page(session, instance_id, limit=limit + 1, after=after)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [item(r) for r in rows],
            "next_cursor": _encode(rows[-1]) if more and rows else None,
        }

    def timeline(self, who: Principal, instance_id: str) -> dict[str, Any]:
        """What the detail page shows: every item, oldest first, and the totals."""
        self._visible(who, instance_id)
        with self.ctx.db.read() as session:
            instance = session.get(InstanceRow, instance_id)
            rows = store.of_instances(session, [instance_id])
        if instance is None:
            raise NotFound(f"no demo {instance_id}")
        return {"items": [item(r) for r in rows], **self._totals(instance, rows)}

    def totals(self, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per demo: sign-ins, page views, pages, tour steps reached (of how many); the caller
        already chose demos its viewer may see (the usage report does)."""
        with self.ctx.db.read() as session:
            rows = store.of_instances(session, instance_ids)
            instances = [session.get(InstanceRow, i) for i in instance_ids]
        by_demo: dict[str, list[ActivityRow]] = {}
        for r in rows:
            by_demo.setdefault(r.instance_id, []).append(r)
        return {i.id: self._totals(i, by_demo.get(i.id, [])) for i in instances if i is not None}

    def _totals(self, instance: InstanceRow, rows: list[ActivityRow]) -> dict[str, Any]:
        blueprint = self.ctx.blueprints.get(instance.blueprint)
        scenario = blueprint.scenario(instance.scenario) if blueprint is not None else None
        login_path = blueprint.login_path if blueprint is not None else None
        sign_ins = sum(r.requests for r in rows if r.path == login_path and r.persona)
        steps = reached(scenario, {r.tour_step for r in rows if r.tour_step})
        return {
            "sign_ins": sign_ins,
            "page_views": sum(r.requests for r in rows if r.path != login_path),
            "pages": len({(r.route, r.path) for r in rows if r.path != login_path}),
            "tour_reached": sorted(steps),
            "tour_total": len(scenario.tour) if scenario is not None else 0,
        }


def _encode(row: ActivityRow) -> str:
    raw = f"{row.at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = raw.partition("|")
        return datetime.fromisoformat(at), int(row_id)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not one this list gave out; start without it") from None
