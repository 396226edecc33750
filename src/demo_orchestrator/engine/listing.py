"""The instance list (API, CLI and web pages): a page of demos built with no per-item work that
the page does not show.

One statement per page whatever its size (the page's rows, each with its steps as one JSON
text); items are plain dicts ready for one JSON encode, with the same fields and values as
`views.instance_view` gives for one instance. What two lists of the same demo would build alike
is built once and kept (bounded), keyed by everything it is made from, so a change is never
hidden: its URLs and personas with their sign-in links (a decrypt and an HMAC per persona), its
steps (by their JSON text), each distinct stored time with its ISO form. Only the cost (which
moves with the clock) and the item itself are built per request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.domain.errors import BadRequest, Forbidden
from demo_orchestrator.domain.instance import Status, cost_of
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.views import (
    company_of,
    demo_urls,
    health_view,
    personas,
    rep_login_url,
    tour,
)
from demo_orchestrator.store.listing import ListedRow, RawTime, list_instances, stored_time

STATUSES = frozenset(s.value for s in Status)
# A request waiting for approval, a rejected or a deleted demo has no environment: no links.
NO_LINKS = frozenset(
    {
        Status.DELETED.value,
        Status.REJECTED.value,
        Status.PENDING_APPROVAL.value,
        Status.SCHEDULED.value,  # booked: nothing made yet
    }
)
# What the web lists leave out unless asked ("show ended"); a status filter shows them anyway.
ENDED = frozenset({Status.DELETED.value, Status.REJECTED.value})
# How many entries each memo holds at most (starting again when full): some thousand demos'
# links and steps (a few KB each) and their times (some hundred bytes each), tens of MB at most.
MAX_DEMOS_KEPT = 10_000
MAX_TIMES_KEPT = 100_000

# urls, personas, rep link, guided tour (with its deep links when the rep link is shown)
Links = tuple[dict[str, str], list[dict[str, Any]], str | None, list[dict[str, Any]]]
When = tuple[datetime, str]  # a time and its ISO 8601 form


class InstanceList:
    def __init__(self, ctx: Context, login_secret: Callable[[str], str | None]) -> None:
        self.ctx = ctx
        self._login_secret = login_secret  # opens a sealed secrets value (memoised by the caller)
        # Built once and kept (bounded), keyed by everything each is made from; callers only read.
        self._links: dict[tuple[str | None, ...], tuple[Blueprint, Links]] = {}
        self._times: dict[RawTime, When] = {}
        self._steps: dict[str | None, list[dict[str, Any]]] = {}

    def page(
        self,
        who: Principal,
        *,
        status: str | None = None,
        scenario: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
        prospect: str | None = None,
        opportunity: str | None = None,
        hide_ended: bool = False,
    ) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise BadRequest(
                f"status {status!r} is not a status; use one of: {', '.join(s.value for s in Status)}"
            )
        if not who.sees_all:
            if owner is not None and owner != who.name:
                raise Forbidden("sales users can list only their own demos; drop the owner filter")
            owner = who.name
        with self.ctx.db.read() as session:
            rows, next_cursor = list_instances(
                session,
                status=status,
                scenario=scenario,
                owner=owner,
                limit=limit,
                cursor=cursor,
                search=search,
                prospect=prospect,
                opportunity=opportunity,
                hide_statuses=ENDED if hide_ended else (),
            )
        now = self.ctx.clock()
        return {
            "items": [self._item(row, now) for row in rows],
            "next_cursor": next_cursor,
        }

    def _item(self, row: ListedRow, now: datetime) -> dict[str, Any]:
        (
            instance_id,
            status,
            desired,
            blueprint,
            scenario,
            owner,
            name,
            prospect,
            notes,
            created_at,
            started_at,
            ready_at,
            expires_at,
            ended_at,
            duration_hours,
            meeting_at,
            starts_at,
            hourly_usd,
            error,
            sleeping_hourly_usd,
            slept_seconds,
            sleeping_since,
            waiting_reason,
            secrets,
            health_state,
            health_reason,
            health_since,
            steps,
        ) = row  # one unpack: the LISTED_COLUMNS in their order, then the steps
        when = self._when
        (
            created_at,
            started_at,
            ready_at,
            expires_at,
            ended_at,
            meeting_at,
            starts_at,
            sleeping_since,
        ) = (
            None if raw is None else when(raw)
            for raw in (
                created_at,
                started_at,
                ready_at,
                expires_at,
                ended_at,
                meeting_at,
                starts_at,
                sleeping_since,
            )
        )
        urls, shown_personas, rep_url, steps_of_tour = (
            self._tour_only(blueprint, scenario)
            if status in NO_LINKS
            else self._links_of(instance_id, blueprint, scenario, secrets, company_of(prospect))
        )
        cost = cost_of(
            hourly_usd=hourly_usd,
            started_at=started_at and started_at[0],
            ended_at=ended_at and ended_at[0],
            now=now,
            sleeping_hourly_usd=sleeping_hourly_usd or 0.0,
            slept_seconds=slept_seconds or 0.0,
            sleeping_since=sleeping_since and sleeping_since[0],
        )
        return {
            "id": instance_id,
            "status": status,
            "desired": desired,
            "blueprint": blueprint,
            "scenario": scenario,
            "owner": owner,
            "name": name,
            "prospect": prospect,
            "notes": notes,
            "created_at": created_at and created_at[1],
            "ready_at": ready_at and ready_at[1],
            "expires_at": expires_at and expires_at[1],
            "ended_at": ended_at and ended_at[1],
            "duration_hours": duration_hours,
            "meeting_at": meeting_at and meeting_at[1],
            "starts_at": starts_at and starts_at[1],
            "waiting_reason": waiting_reason,
            "urls": urls,
            "personas": shown_personas,
            "rep_login_url": rep_url,
            "tour": steps_of_tour,
            "steps": self._steps_of(steps),
            "cost": {
                "hourly_usd": cost.hourly_usd,
                "sleeping_hourly_usd": sleeping_hourly_usd or 0.0,
                "accrued_usd": cost.accrued_usd,
            },
            "health": health_view(
                health_state,
                health_reason,
                when(health_since)[1] if health_since is not None else created_at and created_at[1],
            ),
            "error": error,
        }

    def _links_of(
        self,
        instance_id: str,
        blueprint_name: str,
        scenario: str,
        secrets: str | None,
        company: str | None = None,
    ) -> Links:
        """The demo's URLs and personas; the same dicts every time (callers only read them)."""
        blueprint = self.ctx.blueprints.get(blueprint_name)
        if blueprint is None:  # a demo of a blueprint no longer configured
            return {}, [], None, []
        key = (instance_id, scenario, secrets, company)
        kept = self._links.get(key)
        if kept is not None and kept[0] is blueprint:
            return kept[1]
        urls = demo_urls(self.ctx.settings, blueprint, instance_id)
        secret = self._login_secret(secrets) if secrets else None
        found = self.ctx.find_scenario(blueprint, scenario)
        shown = personas(blueprint, scenario, urls, secret, found, company)
        rep_url = rep_login_url(blueprint, instance_id, urls, secret)
        links = (urls, shown, rep_url, tour(blueprint, scenario, rep_url, shown, found))
        _keep(self._links, key, (blueprint, links), MAX_DEMOS_KEPT)
        return links

    def _tour_only(self, blueprint_name: str, scenario: str) -> Links:
        """A demo without links (waiting, booked, ended): its tour, with no deep links."""
        key = ("", scenario, blueprint_name)  # no instance id is empty: never a demo's key
        blueprint = self.ctx.blueprints.get(blueprint_name)
        if blueprint is None:
            return {}, [], None, []
        kept = self._links.get(key)
        if kept is not None and kept[0] is blueprint:
            return kept[1]
        found = self.ctx.find_scenario(blueprint, scenario)
        links: Links = ({}, [], None, tour(blueprint, scenario, None, None, found))
        _keep(self._links, key, (blueprint, links), MAX_DEMOS_KEPT)
        return links

    def _when(self, raw: RawTime) -> When:
        """A stored time and its ISO 8601 form with a Z, converted once per distinct value."""
        when = self._times.get(raw)
        if when is None:
            value = stored_time(raw)
            when = (value, value.isoformat().replace("+00:00", "Z"))
            _keep(self._times, raw, when, MAX_TIMES_KEPT)
        return when

    def _steps_of(self, steps_json: str | None) -> list[dict[str, Any]]:
        """The steps as shown: a function of their stored JSON text only, so kept by it."""
        views = self._steps.get(steps_json)
        if views is None:
            views = []
            for _, name, status, started, finished, retries, message, error in sorted(
                json.loads(steps_json or "[]"), key=itemgetter(0)
            ):  # by position, the first field
                start = None if started is None else self._when(started)
                finish = None if finished is None else self._when(finished)
                views.append(
                    {
                        "name": name,
                        "status": status,
                        "started_at": start and start[1],
                        "finished_at": finish and finish[1],
                        "duration_seconds": round((finish[0] - start[0]).total_seconds(), 3)
                        if start and finish
                        else None,
                        "retries": retries,
                        "message": message,
                        "error": error,
                    }
                )
            _keep(self._steps, steps_json, views, MAX_DEMOS_KEPT)
        return views


def _keep(memo: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    if len(memo) >= most:
        memo.clear()  # the next pages build again what they show
    memo[key] = value
