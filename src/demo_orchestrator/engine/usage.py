"""Usage and cost over a period, grouped by owner, scenario or day.

A demo's hours bill at its hourly rate while awake and at its sleeping rate (what it keeps: its
database) while asleep; the sleeps are stored one row each, so a period sees exactly its part."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store import sleeps
from demo_orchestrator.store.models import InstanceRow

GROUPS = ("owner", "scenario", "day", "instance", "prospect", "opportunity")
NONE = "(none)"  # the bucket of demos with no prospect (or no opportunity)


def usage(
    ctx: Context, who: Principal, *, start: datetime, end: datetime, group_by: str
) -> dict[str, Any]:
    if group_by not in GROUPS:
        raise BadRequest(f"group_by must be one of: {', '.join(GROUPS)}")
    if end <= start:
        raise BadRequest("`to` must be after `from`")
    now = ctx.clock()
    buckets: dict[str, dict[str, float]] = defaultdict(
        lambda: {"demos": 0, "demo_hours": 0.0, "sleeping_hours": 0.0, "cost_usd": 0.0}
    )
    labels: dict[str, dict[str, Any]] = {}
    with ctx.db.read() as session:
        rows = repo.usage_rows(session, start=start, end=end)
        asleep_in = sleeps.sleeps_of(session, [r.id for r in rows], start=start, end=end)
    for row in rows:
        if not who.sees_all and row.owner != who.name:
            continue
        assert row.started_at is not None
        life_start = max(row.started_at, start)
        life_end = min(row.ended_at or now, end)
        if life_end <= life_start:
            continue
        parts = _split(row, life_start, life_end, group_by)
        prospect = row.prospect or {}
        if group_by == "instance":
            labels[row.id] = {
                "owner": row.owner,
                "scenario": row.scenario,
                "name": row.name,
                "prospect": prospect.get("company"),
                "opportunity_id": prospect.get("opportunity_id"),
                "stage": prospect.get("stage"),
                "started_at": life_start.isoformat(),
                "ended_at": life_end.isoformat(),
            }
        elif group_by == "opportunity" and prospect.get("opportunity_id"):
            labels.setdefault(
                str(prospect["opportunity_id"]),
                {
                    "prospect": prospect.get("company"),
                    "opportunity_url": prospect.get("opportunity_url"),
                    "stage": prospect.get("stage"),
                },
            )
        for key, part_start, part_end in parts:
            hours = (part_end - part_start).total_seconds() / 3600
            asleep = _asleep(asleep_in[row.id], part_start, part_end, now) / 3600
            bucket = buckets[key]
            bucket["demo_hours"] += hours
            bucket["sleeping_hours"] += asleep
            bucket["cost_usd"] += (hours - asleep) * row.hourly_usd
            bucket["cost_usd"] += asleep * (row.sleeping_hourly_usd or 0.0)
        buckets[parts[0][0]]["demos"] += 1  # a demo counts once, where its life starts
    items: list[dict[str, Any]] = [
        {
            "key": key,
            "demos": int(v["demos"]),
            "demo_hours": round(v["demo_hours"], 4),
            "sleeping_hours": round(v["sleeping_hours"], 4),
            "cost_usd": round(v["cost_usd"], 4),
            **labels.get(key, {}),
        }
        for key, v in sorted(buckets.items())
    ]
    totals = {
        "demos": sum(int(v["demos"]) for v in buckets.values()),
        "demo_hours": round(sum(v["demo_hours"] for v in buckets.values()), 4),
        "sleeping_hours": round(sum(v["sleeping_hours"] for v in buckets.values()), 4),
        "cost_usd": round(sum(v["cost_usd"] for v in buckets.values()), 4),
    }
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "items": items,
        "totals": totals,
    }


def _asleep(
    sleeps: list[tuple[datetime, datetime | None]], start: datetime, end: datetime, now: datetime
) -> float:
    """Seconds of [start, end) the demo spent asleep."""
    total = 0.0
    for slept, woke in sleeps:
        overlap = (min(end, woke or now) - max(start, slept)).total_seconds()
        total += max(0.0, overlap)
    return min(total, (end - start).total_seconds())


def _split(
    row: InstanceRow, start: datetime, end: datetime, group_by: str
) -> list[tuple[str, datetime, datetime]]:
    """The parts of [start, end) and the bucket each belongs to (days split at midnight)."""
    if group_by != "day":
        prospect = row.prospect or {}
        key = {
            "instance": row.id,
            "owner": row.owner,
            "scenario": row.scenario,
            "prospect": str(prospect.get("company") or NONE),
            "opportunity": str(prospect.get("opportunity_id") or NONE),
        }[group_by]
        return [(key, start, end)]
    parts = []
    cursor = start
    while cursor < end:
        next_day = datetime(
            cursor.year, cursor.month, cursor.day, tzinfo=cursor.tzinfo
        ) + timedelta(days=1)
        stop = min(end, next_day)
        parts.append((cursor.date().isoformat(), cursor, stop))
        cursor = stop
    return parts
