"""Portal app pages (recruiters, company admins, hiring managers, founders)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import ai, approvals, ats, billing, network, notification, reporting
from splits_stack.services.pdf import text_to_pdf
from splits_stack.services.pipeline import ALL_STAGES, InvalidMove
from splits_stack.web import charts
from splits_stack.web.context import Stack
from splits_stack.web.guard import portal_action, portal_page, scope_company
from splits_stack.web.render import render


def _stack(request: Request) -> Stack:
    return request.app.state.stack  # type: ignore[no-any-return]


@portal_page
def dashboard(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    company = scope_company(user)
    k = reporting.kpis(stack.engine, company)
    jobs = ats.jobs_overview(stack.engine, company_id=company, status="open")[:6]
    funnel = charts.hbars([(s.title(), n) for s, n in k["funnel"]])
    return render(
        request,
        "portal/dashboard.html",
        k=k,
        jobs=jobs,
        funnel=funnel,
        moves=reporting.recent_moves(stack.engine, company),
        payouts=billing.payouts(stack.engine)[:5],
    )


@portal_page
def jobs(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "")
    rows = ats.jobs_overview(
        stack.engine, company_id=scope_company(user), status=status or None, q=q
    )
    return render(request, "portal/jobs.html", jobs=rows, status=status, q=q)


@portal_page
def job_page(request: Request) -> Response:
    stack = _stack(request)
    job_id = int(request.path_params["job_id"])
    try:
        job = ats.job(stack.engine, job_id)
    except ats.NotFound:
        return render(
            request, "shared/denied.html", status_code=404, reason="This job does not exist."
        )
    ranked = (
        stack.cache.get_or_set(f"matches:{job_id}", 60, lambda: ai.matches(stack.engine, job_id))
        or []
    )
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
            ats.move, stack.engine, stack.bus, app_id=app_id, to_stage=to_stage, user_id=user["id"]
        )
    except (InvalidMove, ats.NotFound) as exc:
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
        candidates=ats.candidates_overview(_stack(request).engine, q),
        q=q,
    )


@portal_page
def candidate_page(request: Request) -> Response:
    try:
        cand = ats.candidate(_stack(request).engine, int(request.path_params["cand_id"]))
    except ats.NotFound:
        return render(
            request, "shared/denied.html", status_code=404, reason="This candidate does not exist."
        )
    return render(request, "portal/candidate.html", c=cand)


@portal_page
def resume_file(request: Request) -> Response:
    return resume_download(request)


def resume_download(request: Request) -> Response:
    try:
        doc = ats.resume(_stack(request).engine, int(request.path_params["resume_id"]))
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
        request, "portal/recruiters.html", recruiters=network.recruiters(_stack(request).engine)
    )


@portal_page
def placements(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    company = scope_company(user)
    rec = user.get("recruiter_id") if user["role"] == "recruiter" else None
    return render(
        request,
        "portal/placements.html",
        placements=billing.placements(stack.engine, company),
        payouts=billing.payouts(stack.engine, rec),
        subscriptions=billing.subscriptions(stack.engine),
        totals=billing.fee_totals(stack.engine, company),
    )


@portal_page
def outbox(request: Request) -> Response:
    stack = _stack(request)
    items, total = notification.outbox(stack.engine, limit=200)
    selected = None
    if "id" in request.query_params:
        selected = notification.email(stack.engine, int(request.query_params["id"]))
    return render(
        request,
        "portal/outbox.html",
        emails=items,
        total=total,
        selected=selected or (items[0] if items else None),
    )


@portal_page
def departments(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    rep = reporting.reports(stack.engine, scope_company(user))
    dept = request.query_params.get("dept")
    rows = ats.jobs_overview(
        stack.engine, company_id=scope_company(user), department_id=int(dept) if dept else None
    )
    return render(
        request,
        "portal/departments.html",
        by_dept=rep["jobs_by_department"],
        jobs=rows,
        chart=charts.stacked(rep["jobs_by_department"]),
    )


@portal_page
def approvals_page(request: Request) -> Response:
    stack, user = _stack(request), request.state.user
    mine = request.query_params.get("all") != "1"
    rows = approvals.queue(stack.engine, user["id"] if mine else None)
    return render(request, "portal/approvals.html", rows=rows, mine=mine)


@portal_action
async def decide(request: Request) -> Response:
    form = await request.form()
    approve = form.get("decision") == "approve"
    try:
        status = await run_in_threadpool(
            approvals.decide,
            _stack(request).engine,
            int(request.path_params["approval_id"]),
            approve=approve,
            note=str(form.get("note", "")),
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
    stack, user = _stack(request), request.state.user
    rep = reporting.reports(stack.engine, scope_company(user))
    k = reporting.kpis(stack.engine, scope_company(user))
    return render(
        request,
        "portal/reports.html",
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
