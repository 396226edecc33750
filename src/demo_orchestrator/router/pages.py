"""The small pages a visitor sees when a demo cannot answer (yet).

A prospect clicking a demo link must get a friendly, self-contained page (inline CSS, no external
resources, nothing internal such as upstream addresses or stack traces), and a script calling the
demo's API must get RFC 9457 problem+json with the same status instead of HTML.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from demo_orchestrator.router.decisions import EndedNotice
from demo_orchestrator.router.headers import RawHeaders

RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class Problem:
    """One reason the router answers by itself instead of proxying."""

    status: int
    title: str
    detail: str
    instance_id: str | None = None
    instance_status: str | None = None
    refresh: bool = False  # the page reloads itself (and Retry-After is sent)
    # An ended demo's page: whom to contact (owner) and the prospect's company, shown as
    # such in HTML and as extension members in problem+json.
    ended: EndedNotice | None = None


def not_found(instance_id: str | None) -> Problem:
    return Problem(
        404,
        "This demo does not exist or has expired",
        "Check the link, or ask for a new demo environment.",
        instance_id,
    )


def starting(instance_id: str, status: str | None, message: str | None) -> Problem:
    return Problem(
        503,
        "Your demo is starting…",
        message or "This page reloads by itself as soon as the demo is ready.",
        instance_id,
        status,
        refresh=True,
    )


def failed(instance_id: str, status: str | None, message: str | None) -> Problem:
    return Problem(
        502,
        "This demo could not be started",
        message or "Something went wrong while preparing this demo.",
        instance_id,
        status or "failed",
    )


def not_answering(instance_id: str) -> Problem:
    return Problem(
        502,
        "The demo service is not answering",
        "The demo service is not answering right now. Try again in a few seconds.",
        instance_id,
    )


def timed_out(instance_id: str) -> Problem:
    return Problem(
        504,
        "The demo service took too long to answer",
        "The demo service did not answer in time. Try again in a few seconds.",
        instance_id,
    )


def lookup_failed(instance_id: str) -> Problem:
    return Problem(
        503,
        "This demo cannot be looked up right now",
        "The orchestrator could not check this demo. Try again in a few seconds.",
        instance_id,
        refresh=True,
    )


def ended(instance_id: str, notice: EndedNotice) -> Problem:
    """410: the demo existed and ended (deleted or expired); whom to ask for another."""
    how = "expired" if notice.status == "expired" else "was closed"
    where = f"This demo for {notice.company}" if notice.company else "This demo"
    if notice.contact_name and notice.contact_email:
        ask = f"contact {notice.contact_name} at {notice.contact_email}"
    elif notice.contact_name:
        ask = f"contact {notice.contact_name}"
    else:
        ask = "ask the person who sent you the link"
    return Problem(
        410,
        "This demo has ended",
        f"{where} {how}. To see more or get a new demo, {ask}.",
        instance_id,
        notice.status,
        ended=notice,
    )


def wants_json(accept: str | None) -> bool:
    """API-ish clients: they accept JSON and do not ask for HTML."""
    value = (accept or "").lower()
    return "json" in value and "text/html" not in value


def render(problem: Problem, accept: str | None) -> tuple[int, RawHeaders, bytes]:
    """Status, headers and body for ``problem`` in the form the client asked for."""
    headers: RawHeaders = [(b"cache-control", b"no-store")]
    if problem.refresh:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    if wants_json(accept):
        document: dict[str, Any] = {
            "type": "about:blank",
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "instance_id": problem.instance_id,
            "instance_status": problem.instance_status,
        }
        if problem.ended is not None:
            notice = problem.ended
            document["contact"] = (
                {"name": notice.contact_name, "email": notice.contact_email}
                if notice.contact_name
                else None
            )
            document["company"] = notice.company
        body = json.dumps(document).encode()
        headers.append((b"content-type", b"application/problem+json"))
    else:
        body = _html(problem).encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    return problem.status, headers, body


_CSS = """
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6fb;color:#1f2937}
main{background:#fff;max-width:34rem;margin:1.5rem;padding:2.5rem 2.25rem;border-radius:14px;
box-shadow:0 10px 30px rgba(31,41,55,.08);text-align:center}
h1{font-size:1.45rem;margin:.75rem 0 .5rem}
p{line-height:1.55;color:#4b5563;margin:.5rem 0}
a{color:#4338ca;font-weight:600;overflow-wrap:anywhere}
.code{font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;color:#6b7280}
.meta{margin-top:1.5rem;font-size:.85rem;color:#6b7280}
.pill{display:inline-block;padding:.15rem .6rem;border-radius:999px;background:#eef2ff;color:#3730a3;
font-weight:600}
.spin{width:2.25rem;height:2.25rem;margin:0 auto;border:4px solid #e0e7ff;border-top-color:#4f46e5;
border-radius:50%;animation:s 1s linear infinite}
@keyframes s{to{transform:rotate(360deg)}}
@media (max-width:480px){main{margin:1rem;padding:2rem 1.25rem}}
@media (prefers-color-scheme:dark){body{background:#111827;color:#e5e7eb}main{background:#1f2937;
box-shadow:none}p,.meta,.code{color:#9ca3af}.pill{background:#312e81;color:#e0e7ff}a{color:#a5b4fc}}
"""


def _html(problem: Problem) -> str:
    esc = html.escape
    refresh = (
        f'<meta http-equiv="refresh" content="{RETRY_AFTER_SECONDS}">' if problem.refresh else ""
    )
    spinner = '<div class="spin" aria-hidden="true"></div>' if problem.refresh else ""
    meta = []
    if problem.instance_id:
        meta.append(f"Demo <strong>{esc(problem.instance_id)}</strong>")
    if problem.instance_status:
        meta.append(f'status <span class="pill">{esc(problem.instance_status)}</span>')
    meta_html = f'<p class="meta">{" · ".join(meta)}</p>' if meta else ""
    if problem.ended is not None:
        return _page(problem, _ended_body(problem.ended), meta_html)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{refresh}<title>{esc(problem.title)}</title><style>{_CSS}</style></head>"
        f'<body><main>{spinner}<div class="code">{problem.status}</div>'
        f"<h1>{esc(problem.title)}</h1><p>{esc(problem.detail)}</p>{meta_html}</main>"
        "</body></html>\n"
    )


def _page(problem: Problem, body: str, meta_html: str) -> str:
    esc = html.escape
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(problem.title)}</title><style>{_CSS}</style></head>"
        f'<body><main><div class="code">{problem.status}</div>'
        f"<h1>{esc(problem.title)}</h1>{body}{meta_html}</main>"
        "</body></html>\n"
    )


def _ended_body(notice: EndedNotice) -> str:
    """The ended page's text: what happened, then whom to contact (a mailto link)."""
    esc = html.escape
    how = "has expired" if notice.status == "expired" else "was closed"
    company = (
        f' for <strong class="company">{esc(notice.company)}</strong>' if notice.company else ""
    )
    lines = [f"<p>This demo environment{company} {how}. Thank you for taking a look.</p>"]
    if notice.contact_name:
        who = f'<strong class="contact-name">{esc(notice.contact_name)}</strong>'
        if notice.contact_email:
            link = f"mailto:{quote(notice.contact_email, safe='@.+-_')}"
            mail = f'<a class="contact-email" href="{esc(link)}">{esc(notice.contact_email)}</a>'
            lines.append(f"<p>To see more or get a new demo, contact {who} at {mail}.</p>")
        else:
            lines.append(f"<p>To see more or get a new demo, contact {who}.</p>")
    else:
        lines.append("<p>To see more or get a new demo, ask the person who sent you the link.</p>")
    return "".join(lines)
