"""`LastResort`: an exception no handler caught is a problem+json 500 that leaks nothing."""

from __future__ import annotations

import anyio
import httpx
from starlette.types import Receive, Scope, Send

from demo_orchestrator.serving.problems import LastResort

INTERNAL = "postgresql://demo:hunter2@10.0.0.7/store refused"


async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError(INTERNAL)


async def answering_then_raising(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 500, "headers": []})
    await send({"type": "http.response.body", "body": b"handled", "more_body": False})
    raise RuntimeError(INTERNAL)


def get(app: LastResort) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/anything")

    return anyio.run(run)


def test_an_uncaught_exception_is_a_problem_without_internals() -> None:
    answer = get(LastResort(crashing))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "the server failed; see its log"
    assert "hunter2" not in answer.text and "10.0.0.7" not in answer.text


def test_an_answer_already_given_is_kept() -> None:
    answer = get(LastResort(answering_then_raising))
    assert answer.text == "handled"
