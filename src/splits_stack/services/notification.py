"""Notification service: turns domain events into e-mails in the outbox.

The e-mails are rendered here from the event alone (pure functions), so the seed, the in-process
bus and the RabbitMQ consumer all produce identical messages. The outbox is the `emails` table; the
portal shows it like a mail client would. Delivery is idempotent per event id.
Each persona reads the mail of their own scope (`readapi.email_visible`): company staff their
company's, a recruiter the mail of the companies they work with; the rep all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from splits_stack import tables as t
from splits_stack.services.readapi import Scope, email_visible

Message = dict[str, str]


def _money(value: Any) -> str:
    return f"${int(value):,}"


def render_email(event: str, ctx: dict[str, Any]) -> list[Message]:
    """The e-mails one event produces: who gets what, with subject and plain-text body."""
    cand, job, company = (
        ctx.get("candidate_name", ""),
        ctx.get("job_title", ""),
        ctx.get("company_name", ""),
    )
    out: list[Message] = []
    if event == "application.created":
        out.append(
            {
                "to_addr": ctx["candidate_email"],
                "to_name": cand,
                "subject": f"We received your application for {job}",
                "body": f"Hi {cand.split(' ')[0]},\n\nThanks for applying to the {job} role at "
                f"{company}. The hiring team reviews every application; you can follow its "
                f"progress any time under My applications.\n\nGood luck!\nThe {company} hiring team",
            }
        )
        for name, addr in ctx.get("team", []):
            out.append(
                {
                    "to_addr": addr,
                    "to_name": name,
                    "subject": f"New applicant: {cand} for {job}",
                    "body": f"Hi {name.split(' ')[0]},\n\n{cand} just applied to {job} "
                    f"({ctx.get('headline', '')}). Open the pipeline board to screen them.\n\n"
                    f"Splits Network",
                }
            )
    elif event == "application.moved":
        to_stage = ctx.get("to_stage", "")
        out.append(
            {
                "to_addr": ctx["candidate_email"],
                "to_name": cand,
                "subject": f"Update on your {job} application: {to_stage.title()}",
                "body": f"Hi {cand.split(' ')[0]},\n\nYour application for {job} at {company} moved "
                f"from {ctx.get('from_stage', '').title()} to {to_stage.title()}."
                + (
                    "\n\nWe'll be in touch shortly to schedule the next conversation."
                    if to_stage in ("screening", "interview")
                    else ""
                )
                + (
                    "\n\nThank you for your time; we decided not to move forward this time."
                    if to_stage == "rejected"
                    else ""
                )
                + f"\n\nThe {company} hiring team",
            }
        )
    elif event == "placement.made":
        for name, addr in ctx.get("team", []):
            out.append(
                {
                    "to_addr": addr,
                    "to_name": name,
                    "subject": f"Placement booked: {cand} as {job}",
                    "body": f"Hi {name.split(' ')[0]},\n\n{cand} accepted the {job} offer at {company}. "
                    f"Placement fee {_money(ctx.get('fee_amount', 0))}; recruiter share "
                    f"{_money(ctx.get('recruiter_amount', 0))}, payable in 30 days.\n\nSplits Network",
                }
            )
    return out


def deliver(engine: Engine, event: dict[str, Any], transport: str) -> int:
    """Write the e-mails of one event to the outbox; a redelivered event adds nothing."""
    messages = render_email(event["type"], event["data"])
    now = datetime.now(UTC)
    written = 0
    try:
        with engine.begin() as conn:
            for i, msg in enumerate(messages):
                conn.execute(
                    t.emails.insert().values(
                        event_id=f"{event['id']}:{i}",
                        event=event["type"],
                        transport=transport,
                        created_at=now,
                        **msg,
                    )
                )
                written += 1
    except IntegrityError:
        return 0
    return written


def outbox(
    engine: Engine, *, limit: int = 100, offset: int = 0, scope: Scope = Scope.WHOLE
) -> tuple[list[dict[str, Any]], int]:
    mine = email_visible(scope)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t.emails).where(mine)).scalar_one()
        rows = (
            conn.execute(
                select(t.emails)
                .where(mine)
                .order_by(t.emails.c.created_at.desc(), t.emails.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows], int(total)


def email(engine: Engine, email_id: int, scope: Scope = Scope.WHOLE) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(t.emails).where(t.emails.c.id == email_id, email_visible(scope)))
            .mappings()
            .first()
        )
    return dict(row) if row else None
