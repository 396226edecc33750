"""Collects a scenario's rows in memory with explicit ids, then bulk-inserts them table by table.

Explicit ids let rows reference each other before anything touches the database, so the whole
enterprise scenario goes in as one `executemany` per table inside one transaction (a few hundred
milliseconds on SQLite and PostgreSQL) instead of thousands of round trips.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, text

from splits_stack import tables as t
from splits_stack.seed.people import Person
from splits_stack.services.notification import render_email
from splits_stack.services.pipeline import STAGES

Row = dict[str, Any]


class Builder:
    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng
        self.rows: dict[Table, list[Row]] = defaultdict(list)

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def add(self, table: Table, **values: Any) -> int:
        rows = self.rows[table]
        values.setdefault("id", len(rows) + 1)
        rows.append(values)
        return int(values["id"])

    def get(self, table: Table, row_id: int) -> Row:
        return self.rows[table][row_id - 1]

    def candidate(self, p: Person, created_days_ago: float) -> int:
        created = self.ago(created_days_ago)
        cid = self.add(
            t.candidates,
            name=p.name,
            email=p.email,
            phone=p.phone,
            location=p.location,
            headline=p.headline,
            current_title=p.title,
            current_company=p.company,
            family=p.family,
            years_experience=p.years,
            skills=", ".join(p.skills),
            source=p.source,
            created_at=created,
        )
        self.add(
            t.resumes,
            candidate_id=cid,
            title=f"{p.title} resume",
            kind="generated",
            filename=f"{p.name.replace(' ', '_')}_resume.pdf",
            body=p.resume,
            created_at=created,
        )
        self.add(
            t.users,
            email=p.email,
            name=p.name,
            role="candidate",
            title=p.title,
            company_id=None,
            recruiter_id=None,
            candidate_id=cid,
            created_at=created,
        )
        return cid

    def application(
        self,
        job_id: int,
        cand_id: int,
        stage: str,
        *,
        start_days_ago: float,
        step_days: tuple[float, float] = (1.0, 5.0),
        recruiter_id: int | None = None,
        mover: int | None = None,
        source: str = "Recruiter",
    ) -> int:
        """An application with a plausible history of stage moves ending in `stage`, made after
        both the job opened and the candidate joined (else moved to a moment after both)."""
        created = self.ago(start_days_ago)
        job, cand = self.get(t.jobs, job_id), self.get(t.candidates, cand_id)
        earliest = max(job["opened_at"] or job["created_at"], cand["created_at"])
        limit = min(self.ago(0.05), job["closed_at"] or self.now)  # a closed job's story is over
        if not earliest <= created < limit:
            created = earliest + (limit - earliest) * self.rng.uniform(0.1, 0.6)
        app_id = len(self.rows[t.applications]) + 1
        path = (
            STAGES[: STAGES.index(stage) + 1]
            if stage != "rejected"
            else (STAGES[: self.rng.randint(1, 3)] + ["rejected"])
        )
        moments = [created]
        for _ in path[1:]:
            moments.append(moments[-1] + timedelta(days=self.rng.uniform(*step_days)))
        overshoot = moments[-1] - limit
        if overshoot.total_seconds() > 0:  # squeeze the history so it ends before now (or close)
            span = (moments[-1] - created) or timedelta(seconds=1)
            budget = max(limit - created, timedelta(0))
            moments = [created + (m - created) * (budget / span) for m in moments]
        previous: str | None = None
        for to_stage, when in zip(path, moments):
            self.add(
                t.application_moves,
                application_id=app_id,
                from_stage=previous,
                to_stage=to_stage,
                moved_by=None if previous is None else mover,
                moved_at=when,
            )
            previous = to_stage
        resume_id = cand_id  # one generated resume per candidate, same id
        self.add(
            t.applications,
            id=app_id,
            job_id=job_id,
            candidate_id=cand_id,
            recruiter_id=recruiter_id,
            resume_id=resume_id,
            stage=stage,
            source=source,
            created_at=created,
            updated_at=moments[-1],
        )
        if stage == "hired":
            self.placement(app_id, moments[-1])
        return app_id

    def placement(self, app_id: int, when: datetime) -> None:
        app = self.get(t.applications, app_id) if app_id <= len(self.rows[t.applications]) else None
        job = self.get(t.jobs, app["job_id"]) if app else None
        if app is None or job is None:
            return
        salary = round(self.rng.randint(job["salary_min"], job["salary_max"]), -3)
        fee = int(salary * job["fee_pct"] / 100)
        share = next(
            (
                a["recruiter_share_pct"]
                for a in self.rows[t.assignments]
                if a["job_id"] == job["id"] and a["recruiter_id"] == app["recruiter_id"]
            ),
            0.0,
        )
        rec_amount = int(fee * share / 100)
        pid = self.add(
            t.placements,
            application_id=app_id,
            job_id=job["id"],
            candidate_id=app["candidate_id"],
            company_id=job["company_id"],
            recruiter_id=app["recruiter_id"],
            salary=salary,
            fee_pct=job["fee_pct"],
            fee_amount=fee,
            recruiter_share_pct=share,
            recruiter_amount=rec_amount,
            placed_at=when,
        )
        if app["recruiter_id"] is not None and rec_amount:
            due = when + timedelta(days=30)
            paid = due < self.now
            self.add(
                t.payouts,
                placement_id=pid,
                recruiter_id=app["recruiter_id"],
                amount=rec_amount,
                status="paid" if paid else "pending",
                due_at=due,
                paid_at=due if paid else None,
            )

    def email(self, event: str, when: datetime, **context: Any) -> None:
        for msg in render_email(event, context):
            self.add(t.emails, event_id=None, event=event, transport="seed", created_at=when, **msg)

    def write(self, conn: Connection) -> None:
        for table in t.metadata.sorted_tables:
            rows = self.rows.get(table)
            if rows:
                conn.execute(table.insert(), _aligned(rows))
        if conn.dialect.name == "postgresql":
            for table in t.metadata.sorted_tables:
                if "id" in table.c and self.rows.get(table):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT MAX(id) FROM {table.name}))"
                        )
                    )


def _aligned(rows: list[Row]) -> list[Row]:
    """executemany needs every row to carry the same keys; fill the gaps with None."""
    keys = {k for row in rows for k in row}
    return [{k: row.get(k) for k in keys} for row in rows]
