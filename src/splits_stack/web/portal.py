"""Portal app pages (recruiters, company admins, hiring managers, founders).

Every page reads through the signed-in persona's `Scope` (services/readapi.py), the same rules as
the JSON API: company staff see their company, a recruiter the marketplace and their own money.
A job, candidate or resume outside the scope answers 404 like one that does not exist.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import ai, approvals, ats, billing, network, notification, reporting
from splits_stack.services.pdf import text_to_pdf
from splits_stack.services.pipeline import ALL_STAGES, InvalidMove
from splits_stack.services.readapi import Scope, visible_candidate_ids
from splits_stack.web import charts
from splits_stack.web.context import Stack
from splits_stack.web.guard import portal_action, portal_page
from splits_stack.web.render import render


def _stack(request: Request) -> Stack:
    return request.app.state.stack  # type: ignore[no-any-return]


def _scope(request: Request) -> Scope:
    return Scope.of(request.state.user)


def _missing(request: Request, what: str) -> Response:
    return render(
        request, "shared/denied.html", status_code=404, reason=f"This {what} does not exist."
    )


def _headline(stack: Stack, user: dict[str, Any]) -> dict[str, Any] | None:
    """Whom the first screen names: the prospect's company (the demo is theirs), or, for the
    staff of another company, their own company. None when there is no prospect and no company."""
    found = ats.prospect(stack.engine, stack.settings.prospect_company)
    own = user.get("company_id") if user["role"] != "recruiter" else None
    if own is not None and (found is None or found["id"] != own):
        mine = ats.company_name(stack.engine, own)
        return {"name": mine, "prospect": False} if mine else None
    return {"name": found["name"], "prospect": True} if found else None


@portal_page
def dashboard(request: Request) -> Response:
    stack, user, scope = _stack(request), request.state.user, _scope(request)
    k = reporting.kpis(stack.engine, scope)
    jobs = ats.jobs_overview(stack.engine, status="open", scope=scope)[:6]
    funnel = charts.hbars([(s.title(), n) for s, n in k["funnel"]])
    return render(
        request,
        "portal/dashboard.html",
        k=k,
        jobs=jobs,
        funnel=funnel,
        moves=reporting.recent_moves(stack.engine, scope),
        payouts=billing.payouts(stack.engine, scope)[:5],
        headline=_headline(stack, user),
    )


@portal_page
def jobs(request: Request) -> Response:
    stack = _stack(request)
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "")
    rows = ats.jobs_overview(stack.engine, status=status or None, q=q, scope=_scope(request))
    return render(request, "portal/jobs.html", jobs=rows, status=status, q=q)


@portal_page
def job_page(request: Request) -> Response:
    stack, scope = _stack(request), _scope(request)
    job_id = int(request.path_params["job_id"])
    try:
        job = ats.job(stack.engine, job_id, scope)
    except ats.NotFound:
        return _missing(request, "job")
    ranked = (
        stack.cache.get_or_set(f"matches:{job_id}", 60, lambda: ai.matches(stack.engine, job_id))
        or []
    )
    visible = visible_candidate_ids(stack.engine, scope)
    if visible is not None:  # company staff: their pipelines and the open pool, not another's
        ranked = [m for m in ranked if m["candidate_id"] in visible]
    return render(
        request,
        "portal/job.html",
        job=job,
        board=ats.pipeline(stack.engine, job_id),
        stages=ALL_STAGES,
        matches=ranked[:8],
    )


@portal_action
async def move_card(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    form = await request.form()
    app_id = int(request.path_params["app_id"])
    to_stage = str(form.get("stage", ""))
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        result = await run_in_threadpool(
            partial(
                ats.move,
                stack.engine,
                stack.bus,
                app_id=app_id,
                to_stage=to_stage,
                user_id=user["id"],
                scope=Scope.of(user),
            )
        )
    except ats.NotFound:
        if wants_json:
            return JSONResponse({"detail": f"application {app_id} does not exist"}, status_code=404)
        return _missing(request, "application")
    except InvalidMove as exc:
        if wants_json:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        return RedirectResponse(f"{request.headers.get('referer', '/jobs')}", status_code=303)
    stack.cache.clear()
    if wants_json:
        return JSONResponse(result)
    return RedirectResponse(f"/jobs/{result['job_id']}#pipeline", status_code=303)


@portal_page
def candidates(request: Request) -> Response:
    q = request.query_params.get("q", "")
    return render(
        request,
        "portal/candidates.html",
        candidates=ats.candidates_overview(_stack(request).engine, q, scope=_scope(request)),
        q=q,
    )


@portal_page
def candidate_page(request: Request) -> Response:
    try:
        cand = ats.candidate(
            _stack(request).engine, int(request.path_params["cand_id"]), _scope(request)
        )
    except ats.NotFound:
        return _missing(request, "candidate")
    return render(request, "portal/candidate.html", c=cand)


@portal_page
def resume_file(request: Request) -> Response:
    return resume_download(request, _scope(request))


def resume_download(request: Request, scope: Scope = Scope.WHOLE) -> Response:
    try:
        doc = ats.resume(_stack(request).engine, int(request.path_params["resume_id"]), scope)
    except ats.NotFound:
        return PlainTextResponse("resume not found", status_code=404)
    base = doc["filename"].rsplit(".", 1)[0]
    if request.path_params["fmt"] == "pdf":
        return Response(
            text_to_pdf(doc["body"], title=f"{doc['name']} - resume"),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{base}.pdf"'},
        )
    return PlainTextResponse(
        doc["body"], headers={"Content-Disposition": f'inline; filename="{base}.txt"'}
    )


@portal_page
def recruiters(request: Request) -> Response:
    return render(
        request,
        "portal/recruiters.html",
        recruiters=network.recruiters(_stack(request).engine, _scope(request)),
    )


@portal_page
def placements(request: Request) -> Response:
    stack, scope = _stack(request), _scope(request)
    return render(
        request,
        "portal/placements.html",
        placements=billing.placements(stack.engine, scope),
        payouts=billing.payouts(stack.engine, scope),
        subscriptions=billing.subscriptions(stack.engine, scope),
        totals=billing.fee_totals(stack.engine, scope),
    )


@portal_page
def outbox(request: Request) -> Response:
    stack, scope = _stack(request), _scope(request)
    items, total = notification.outbox(stack.engine, limit=200, scope=scope)
    selected = None
    raw = request.query_params.get("id", "")
    if raw.isdigit():
        selected = notification.email(stack.engine, int(raw), scope)
    return render(
        request,
        "portal/outbox.html",
        emails=items,
        total=total,
        selected=selected or (items[0] if items else None),
    )


@portal_page
def departments(request: Request) -> Response:
    stack, scope = _stack(request), _scope(request)
    rep = reporting.reports(stack.engine, scope)
    raw = request.query_params.get("dept", "")
    dept = int(raw) if raw.isdigit() else None
    rows = ats.jobs_overview(stack.engine, department_id=dept, scope=scope)
    names = {i: n for n, i in rep["department_ids"].items()}
    return render(
        request,
        "portal/departments.html",
        by_dept=rep["jobs_by_department"],
        dept_ids=rep["department_ids"],
        dept=dept,
        dept_name=names.get(dept) if dept is not None else None,
        jobs=rows,
        chart=charts.stacked(rep["jobs_by_department"]),
    )


@portal_page
def approvals_page(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    mine = request.query_params.get("all") != "1"
    rows = approvals.queue(stack.engine, user["id"] if mine else None, _scope(request))
    return render(request, "portal/approvals.html", rows=rows, mine=mine)


@portal_action
async def decide(request: Request) -> Response:
    form = await request.form()
    approve = form.get("decision") == "approve"
    try:
        status = await run_in_threadpool(
            partial(
                approvals.decide,
                _stack(request).engine,
                int(request.path_params["approval_id"]),
                approve=approve,
                note=str(form.get("note", "")),
                scope=_scope(request),
            )
        )
    except InvalidMove as exc:
        return RedirectResponse(f"/approvals?flash={exc}", status_code=303)
    label = {
        "open": "Approved: the job is now open",
        "draft": "Rejected: the job went back to draft",
    }.get(status, "Approved: sent to the next approver")
    return RedirectResponse(f"/approvals?all=1&flash={label}", status_code=303)


@portal_page
def reports(request: Request) -> Response:
    stack, scope = _stack(request), _scope(request)
    rep = reporting.reports(stack.engine, scope)
    k = reporting.kpis(stack.engine, scope)
    return render(
        request,
        "portal/reports.html",
        headline=_headline(stack, request.state.user),
        k=k,
        rep=rep,
        weekly=charts.columns(rep["applications_per_week"]),
        funnel=charts.hbars([(s.title(), n) for s, n in rep["funnel"]]),
        tth=charts.hbars(rep["time_to_hire"], " d"),
        fees=charts.hbars([(d, round(v / 1000)) for d, v in rep["fees_by_department"]], "k"),
        sources=charts.hbars(rep["sources"]),
        by_dept=charts.stacked(rep["jobs_by_department"]),
    )


def routes() -> list[Route]:
    return [
        Route("/", dashboard),
        Route("/jobs", jobs),
        Route("/jobs/{job_id:int}", job_page),
        Route("/applications/{app_id:int}/move", move_card, methods=["POST"]),
        Route("/candidates", candidates),
        Route("/candidates/{cand_id:int}", candidate_page),
        Route("/resumes/{resume_id:int}.{fmt:str}", resume_file),
        Route("/recruiters", recruiters),
        Route("/placements", placements),
        Route("/outbox", outbox),
        Route("/departments", departments),
        Route("/approvals", approvals_page),
        Route("/approvals/{approval_id:int}", decide, methods=["POST"]),
        Route("/reports", reports),
    ]
