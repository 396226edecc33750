"""`splits_stack seed`: migrate, wipe, build one scenario and write it with its `meta` anchor."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Engine, delete

from splits_stack import tables as t
from splits_stack.migrate import upgrade


def seed(
    engine: Engine, scenario: str, seed_value: int, *, now: datetime | None = None
) -> dict[str, int]:
    """Replace the database content by `scenario` drawn from `seed_value`; returns row counts."""
    from splits_stack.seed.scenarios import SCENARIOS, build

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    upgrade(engine)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    builder = build(scenario, seed_value, moment)
    with engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(delete(table))
        builder.write(conn)
        conn.execute(
            t.meta.insert(),
            [
                {"key": "scenario", "value": scenario},
                {"key": "seed", "value": str(seed_value)},
                {"key": "seeded_at", "value": str(int(moment.timestamp()))},
                {"key": "anchor", "value": str(int(moment.timestamp()))},
                {"key": "seeded_by", "value": f"splits_stack seed at {time.time():.0f}"},
            ],
        )
    return {table.name: len(rows) for table, rows in builder.rows.items()}
