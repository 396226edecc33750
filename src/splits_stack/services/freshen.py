"""Make a copied template database look current and personal, once, at `serve` start.

The orchestrator seeds a template database per scenario and hands each demo a copy, maybe days
later. Every timestamp is shifted by (now - anchor) with one UPDATE per table and the anchor moved
to now, so a second start only shifts by the time in between (a no-op right after). The prospect's
company and industry are woven in once; `meta.prospect` records it so a restart does not re-apply.

The prospect transform (`_apply_prospect`) names the prospect's company (agency: the first client;
else the one company) after the prospect, and gives its people (users of that company, and
in-house recruiters on its own domain) e-mails at a domain derived from the prospect's name
(`prospect_domain`). Their seeded e-mails stay valid for sign-in through `meta.email_aliases`
(seeded e-mail -> current e-mail; the blueprint and the orchestrator's links use the seeded ones):
`identity.user_by_email` and `identity.personas` resolve them with `email_aliases`. Every run starts
from what was seeded (`meta.prospect_base`, the aliases), so applying a second prospect leaves no
trace of the first, and applying one twice changes nothing.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, select, text, update

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
            _set_meta(conn, "prospect", wanted)
    return done


_LEGAL_SUFFIXES = frozenset(  # dropped from the end of a name: "Acme Robotics, Inc."
    "inc incorporated llc llp lp ltd limited corp corporation co company plc gmbh ag sa sas "  # noqa: SIM905
    "sarl srl spa bv nv oy ab as aps kk pty pte".split()
)
_MAX_LABEL = 40


def prospect_domain(name: str) -> str:
    """The e-mail domain of a prospect: its name folded to ASCII letters and digits, legal suffixes
    dropped ("Acme Robotics, Inc." -> "acmerobotics.example"); "prospect.example" when nothing is
    left (an empty or non-Latin name). Deterministic, and always a valid DNS name."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded.replace(".", "").replace("'", ""))
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    label = "".join(words)[:_MAX_LABEL] or "prospect"
    return f"{label}.example"


def _short_name(company: str) -> str:
    """The name without its legal suffix ("Acme Robotics, Inc." -> "Acme Robotics")."""
    words = company.replace(",", " ").split()
    while len(words) > 1 and words[-1].lower().replace(".", "") in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def email_aliases(conn: Any) -> dict[str, str]:
    """Seeded e-mail (lower case) -> current e-mail of the people the prospect transform renamed."""
    raw = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "email_aliases")).scalar()
    return {k.lower(): v for k, v in json.loads(raw).items()} if raw else {}


def _set_meta(conn: Any, key: str, value: str) -> None:
    if conn.execute(select(t.meta.c.key).where(t.meta.c.key == key)).first():
        conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
    else:
        conn.execute(t.meta.insert().values(key=key, value=value))


def _apply_prospect(conn: Any, scenario: str, company: str, industry: str) -> int:
    """Name the prospect's company (agency: the first client; else THE company) after the prospect
    everywhere, and move its people to the prospect's e-mail domain. Returns the company's id."""
    target = (
        conn.execute(select(t.companies).order_by(t.companies.c.id).limit(1)).mappings().first()
    )
    if target is None:
        return 0
    raw = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "prospect_base")).scalar()
    base = json.loads(raw) if raw else {"name": target["name"], "industry": target["industry"]}
    if not raw:
        _set_meta(conn, "prospect_base", json.dumps(base))
    old, domain = target["name"], prospect_domain(company)
    sector = industry or base["industry"]
    conn.execute(
        update(t.companies)
        .where(t.companies.c.id == target["id"])
        .values(
            name=company,
            industry=sector,
            is_prospect=True,
            website=f"https://{domain}",
            description=f"{company} is a {sector.lower()} company hiring on Splits Network.",
        )
    )
    if old and old != company:
        for table, cols in ((t.jobs, ("description",)), (t.emails, ("subject", "body"))):
            conn.execute(
                update(table).values({c: func.replace(table.c[c], old, company) for c in cols})
            )
    _move_people(conn, int(target["id"]), domain, f"{_short_name(company)} Talent")
    return int(target["id"])


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _move_people(conn: Any, company_id: int, domain: str, in_house: str) -> None:
    """Give the company's people e-mails at `domain`, from their seeded local parts: its users,
    and the users and recruiters on a domain only the company uses (in-house recruiters, who
    also work for `in_house`, the company's talent team)."""
    aliases = email_aliases(conn)
    seeded = {current.lower(): original for original, current in aliases.items()}
    users = [
        {**r, "seeded": seeded.get(r["email"].lower(), r["email"].lower())}
        for r in conn.execute(
            select(t.users.c.id, t.users.c.email, t.users.c.company_id, t.users.c.recruiter_id)
        ).mappings()
    ]
    own = {_domain(u["seeded"]) for u in users if u["company_id"] == company_id}
    shared = {
        _domain(u["seeded"])
        for u in users
        if u["company_id"] != company_id and (u["company_id"] is not None or not u["recruiter_id"])
    }
    home = own - shared  # e.g. northwind.example, never client.example nor mail.example
    people = [u for u in users if u["company_id"] == company_id or _domain(u["seeded"]) in home]
    moves = {u["email"].lower(): f"{u['seeded'].partition('@')[0]}@{domain}" for u in people}
    taken = {u["email"].lower() for u in users} - set(moves)
    moves = {cur: new for cur, new in moves.items() if new.lower() not in taken}
    if not moves:
        return
    rows = [{"cur": cur, "new": new} for cur, new in moves.items() if cur != new.lower()]
    if rows:
        for table, col in ((t.users, "email"), (t.recruiters, "email"), (t.emails, "to_addr")):
            conn.execute(
                update(table)
                .where(func.lower(table.c[col]) == bindparam("cur"))
                .values({col: bindparam("new")}),
                rows,
            )
    recruiter_ids = [u["recruiter_id"] for u in people if u["recruiter_id"]]
    if recruiter_ids:
        conn.execute(
            update(t.recruiters).where(t.recruiters.c.id.in_(recruiter_ids)).values(agency=in_house)
        )
        conn.execute(
            update(t.users)
            .where(t.users.c.recruiter_id.in_(recruiter_ids))
            .values(title=f"Recruiter, {in_house}")
        )
    for u in people:
        if u["email"].lower() in moves:
            aliases[u["seeded"]] = moves[u["email"].lower()]
    _set_meta(conn, "email_aliases", json.dumps(aliases, sort_keys=True))
