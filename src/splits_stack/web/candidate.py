"""Candidate app pages: job board with search and filters, job page, apply, my applications."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import ats
from splits_stack.services.pipeline import STAGES, InvalidMove
from splits_stack.web.context import Stack
from splits_stack.web.guard import optional_user
from splits_stack.web.portal import resume_download
from splits_stack.web.render import render

MAX_UPLOAD = 512 * 1024


def _stack(request: Request) -> Stack:
    return request.app.state.stack  # type: ignore[no-any-return]


def board(request: Request) -> Response:
    stack = _stack(request)
    user = optional_user(request)
    params = request.query_params
    q, family, location, remote = (
        params.get("q", ""),
        params.get("family", ""),
        params.get("location", ""),
        params.get("remote", ""),
    )
    all_open = ats.jobs_overview(stack.engine, status="open")
    rows = ats.jobs_overview(stack.engine, status="open", q=q) if q else all_open
    if family:
        rows = [j for j in rows if j["family"] == family]
    if location:
        rows = [j for j in rows if j["location"] == location]
    if remote == "1":
        rows = [j for j in rows if j["remote"]]
    applied = _applied_ids(stack, user)
    return render(
        request,
        "candidate/board.html",
        jobs=rows,
        q=q,
        family=family,
        location=location,
        remote=remote,
        families=sorted({j["family"] for j in all_open}),
        locations=sorted({j["location"] for j in all_open}),
        applied=applied,
        total=len(all_open),
    )


def _applied_ids(stack: Stack, user: dict[str, Any] | None) -> set[int]:
    if not user or not user.get("candidate_id"):
        return set()
    return {a["job_id"] for a in ats.my_applications(stack.engine, user["candidate_id"])}


def job_page(request: Request) -> Response:
    stack = _stack(request)
    user = optional_user(request)
    try:
        job = ats.job(stack.engine, int(request.path_params["job_id"]))
    except ats.NotFound:
        return render(
            request, "shared/denied.html", status_code=404, reason="This job does not exist."
        )
    if job["status"] != "open":
        return render(
            request, "shared/denied.html", status_code=404, reason="This job is no longer open."
        )
    resumes = []
    if user and user.get("candidate_id"):
        resumes = ats.candidate(stack.engine, user["candidate_id"])["resumes"]
    return render(
        request,
        "candidate/job.html",
        job=job,
        resumes=resumes,
        applied=job["id"] in _applied_ids(stack, user),
        error=request.query_params.get("error", ""),
    )


async def apply(request: Request) -> Response:
    stack = _stack(request)
    user = await run_in_threadpool(optional_user, request)
    job_id = int(request.path_params["job_id"])
    if not user or not user.get("candidate_id"):
        return RedirectResponse(f"/personas?next=/jobs/{job_id}", status_code=303)
    form = await request.form()
    upload = None
    file = form.get("resume_file")
    if isinstance(file, UploadFile) and file.filename:
        data = await file.read(MAX_UPLOAD)
        upload = (file.filename, _extract_text(data))
    pasted = str(form.get("resume_text", "")).strip()
    if upload is None and pasted:
        upload = ("Pasted resume.txt", pasted)
    raw_id = str(form.get("resume_id", ""))
    resume_id = int(raw_id) if raw_id.isdigit() else None
    try:
        await run_in_threadpool(
            ats.apply,
            stack.engine,
            stack.bus,
            job_id=job_id,
            cand_id=user["candidate_id"],
            resume_id=resume_id,
            upload=upload,
        )
    except InvalidMove as exc:
        return RedirectResponse(f"/jobs/{job_id}?error={exc}", status_code=303)
    stack.cache.clear()
    return RedirectResponse("/applications?flash=Application+sent", status_code=303)


def _extract_text(data: bytes) -> str:
    """Uploaded resumes: keep text; for a PDF pull the literal strings out of its text operators."""
    if data.startswith(b"%PDF"):
        import re

        parts = [m.decode("latin-1") for m in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", data)]
        return "\n".join(parts) or "(PDF resume)"
    return data.decode("utf-8", "replace")


def my_applications(request: Request) -> Response:
    stack = _stack(request)
    user = optional_user(request)
    if not user:
        return RedirectResponse("/personas?next=/applications", status_code=303)
    if not user.get("candidate_id"):
        return RedirectResponse("/", status_code=303)
    apps = ats.my_applications(stack.engine, user["candidate_id"])
    page = render(request, "candidate/applications.html", apps=apps, stages=STAGES)
    # read from the database on every view; no browser or proxy keeps an old stage around
    page.headers["Cache-Control"] = "no-store"
    return page


def my_resume(request: Request) -> Response:
    stack = _stack(request)
    user = optional_user(request)
    if not user or not user.get("candidate_id"):
        return PlainTextResponse("sign in first", status_code=403)
    try:
        doc = ats.resume(stack.engine, int(request.path_params["resume_id"]))
    except ats.NotFound:
        return PlainTextResponse("resume not found", status_code=404)
    if doc["candidate_id"] != user["candidate_id"]:  # another's: as if it did not exist
        return PlainTextResponse("resume not found", status_code=404)
    return resume_download(request)


def routes() -> list[Route]:
    return [
        Route("/", board),
        Route("/jobs/{job_id:int}", job_page),
        Route("/jobs/{job_id:int}/apply", apply, methods=["POST"]),
        Route("/applications", my_applications),
        Route("/resumes/{resume_id:int}.{fmt:str}", my_resume),
    ]
