"""Make a copied template database look current and personal, once, at `serve` start.

The orchestrator seeds a template database per scenario and hands each demo a copy, maybe days
later. Every timestamp is shifted by (now - anchor) with one UPDATE per table and the anchor moved
to now, so a second start only shifts by the time in between (a no-op right after). The prospect's
company and industry are woven in once; `meta.prospect` records it so a restart does not re-apply.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import Engine, Table, func, select, text, update

from splits_stack import tables as t

_MIN_SHIFT_S = 60


def _timestamp_columns() -> list[tuple[Table, list[str]]]:
    out = []
    for table in t.metadata.sorted_tables:
        cols = [c.name for c in table.columns if isinstance(c.type, t.Timestamp)]
        if cols:
            out.append((table, cols))
    return out


def freshen(
    engine: Engine, *, company: str = "", industry: str = "", now: float | None = None
) -> dict[str, Any]:
    """Shift dates to now and apply the prospect; idempotent. Returns what was done."""
    done: dict[str, Any] = {"shifted_s": 0, "prospect": None}
    with engine.begin() as conn:
        meta = {r.key: r.value for r in conn.execute(select(t.meta))}
        if "anchor" not in meta:
            return done
        current = int(now if now is not None else time.time())
        delta = current - int(meta["anchor"])
        if abs(delta) >= _MIN_SHIFT_S:
            for table, cols in _timestamp_columns():
                conn.execute(
                    text(f"UPDATE {table.name} SET " + ", ".join(f"{c} = {c} + :d" for c in cols)),
                    {"d": delta},
                )
            conn.execute(update(t.meta).where(t.meta.c.key == "anchor").values(value=str(current)))
            done["shifted_s"] = delta
        wanted = f"{company}|{industry}" if company else ""
        if wanted and meta.get("prospect") != wanted:
            done["prospect"] = _apply_prospect(conn, meta.get("scenario", ""), company, industry)
            key = {"key": "prospect", "value": wanted}
            if "prospect" in meta:
                conn.execute(update(t.meta).where(t.meta.c.key == "prospect").values(value=wanted))
            else:
                conn.execute(t.meta.insert().values(**key))
    return done


def _apply_prospect(conn: Any, scenario: str, company: str, industry: str) -> int:
    """Rename the prospect's company (agency: the first client; else THE company) everywhere."""
    target = (
        conn.execute(select(t.companies).order_by(t.companies.c.id).limit(1)).mappings().first()
    )
    if target is None:
        return 0
    old = target["name"]
    slug = re.sub(r"[^a-z0-9]", "", company.lower())[:24] or "prospect"
    conn.execute(
        update(t.companies)
        .where(t.companies.c.id == target["id"])
        .values(
            name=company,
            industry=industry or target["industry"],
            is_prospect=True,
            website=f"https://{slug}.example",
            description=f"{company} is a {(industry or target['industry']).lower()} company hiring on Splits Network.",
        )
    )
    for table, cols in ((t.jobs, ("description",)), (t.emails, ("subject", "body"))):
        conn.execute(
            update(table).values({c: func.replace(table.c[c], old, company) for c in cols})
        )
    return int(target["id"])
