"""The e-mails the latest applications would have sent, so a fresh demo's outbox is not empty.

Only the most recent applications get them: an outbox of hundreds of seeded e-mails would bury the
ones the rep triggers live during the demo.
"""

from __future__ import annotations

from splits_stack import tables as t
from splits_stack.seed.builder import Builder


def email_recent_applications(b: Builder, apps: list[int], limit: int) -> None:
    """The `application.created` (and, past `applied`, `application.moved`) e-mails of the
    `limit` most recently updated applications among `apps`."""
    for app_id in sorted(apps, key=lambda a: b.get(t.applications, a)["updated_at"])[-limit:]:
        app = b.get(t.applications, app_id)
        job, cand = b.get(t.jobs, app["job_id"]), b.get(t.candidates, app["candidate_id"])
        ctx = {
            "candidate_name": cand["name"],
            "candidate_email": cand["email"],
            "job_title": job["title"],
            "company_name": b.get(t.companies, job["company_id"])["name"],
            "headline": cand["headline"],
            "team": _hiring_team(b, job["id"]),
        }
        b.email("application.created", app["created_at"], **ctx)
        if app["stage"] != "applied":
            b.email(
                "application.moved",
                app["updated_at"],
                from_stage="applied",
                to_stage=app["stage"],
                **ctx,
            )


def _hiring_team(b: Builder, job_id: int) -> list[tuple[str, str]]:
    """(name, e-mail) of up to two admins or founders of the job's company, e-mailed too."""
    company = b.get(t.jobs, job_id)["company_id"]
    return [
        (u["name"], u["email"])
        for u in b.rows[t.users]
        if u["company_id"] == company and u["role"] in ("company_admin", "founder")
    ][:2]
