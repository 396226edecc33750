"""Schemathesis over the real server's `/openapi.json`, every operation, with an admin token:
no answer is a 5xx, every error is problem+json with a `detail`, and every answer (status,
content type, body) is one the document promises. bench/fuzz_api.py runs the same with a bigger
budget. The fuzzed server has a quota of 2 demos, so generated creates mostly end in a 429 rather
than provisioning hundreds of demos; the `Server` fixture stops whatever was made. The fuzzer
may revoke its own token at the end (it fuzzes token revocation too), so the other tests here
use the module's shared `server`."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Server


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_fuzz_api", ROOT / "bench" / "fuzz_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = Server(
        tmp_path_factory.mktemp("fuzz"),
        DEMO_MAX_INSTANCES="2",
        DEMO_MAX_INSTANCES_PER_OWNER="2",
    ).start()
    yield server
    server.close()


@pytest.mark.timeout(300)
def test_every_operation_fuzzed_answers_as_documented(fuzz_server: Server) -> None:
    report = _bench().fuzz(fuzz_server.url, fuzz_server.token, cases_per_operation=30, seed=12)
    result = report.as_json()
    assert result["cases"] >= 1000, result
    assert result["5xx"] == 0, result["failures"]
    assert result["errors_not_problem_json"] == 0, result["failures"]
    assert result["nonconforming"] == 0, result["failures"]


def test_document_names_the_bearer_scheme_and_the_error_answers(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    create = document["paths"]["/api/v1/demo-instances"]["post"]
    assert create["security"] == [{"bearer": []}]
    for code in ("401", "403", "409", "422", "429"):
        content = create["responses"][code]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert "404" in document["paths"]["/api/v1/demo-instances/{instance_id}"]["get"]["responses"]
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert "Allow" in create["responses"]["405"]["headers"]


def test_every_api_operation_refuses_a_missing_token(server: Server) -> None:
    """What lets the document put the Bearer scheme on every /api/ operation."""
    document = httpx.get(f"{server.url}/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method in operations:
            url = server.url + path.replace("{instance_id}", "demo-abcdef").replace(
                "{scenario}", "agency"
            )
            answer = httpx.request(method.upper(), url, json={}, timeout=10)
            assert answer.status_code == 401, (method, path, answer.text)
            checked += 1
    assert checked >= 10


def test_405_names_every_method_of_the_path(server: Server) -> None:
    answer = server.http.patch("/api/v1/demo-instances/demo-abcdef")
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/demo-instances", {"duration_hours": 1e308}, "duration_hours"),
        ("/api/v1/demo-instances", {"duration_hours": 10**400}, "duration_hours"),
        ("/api/v1/demo-instances", {"duration_hours": 1, "name": "Acme\x1b[31m"}, "name"),
        ("/api/v1/demo-instances", {"duration_hours": 1, "notes": "a\x00b"}, "notes"),
        (
            "/api/v1/demo-instances",
            {"duration_hours": 1, "prospect": {"company": "Acme", "industry": "x\u202ey"}},
            "prospect.industry",
        ),
        ("/api/v1/demo-instances", {"duration_hours": 1, "scenario": "agency\n"}, "scenario"),
        (
            "/api/v1/demo-instances",
            {"duration_hours": 1, "meeting_at": "9999-12-31T23:59:59-14:00"},
            "meeting_at",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    server: Server, path: str, body: dict[str, Any], field: str
) -> None:
    import json

    answer = server.http.post(
        path, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01T00:00:00+14:00"},
        {"to": "0001-01-01T00:00:00-14:00"},
        {"to": "9999-12-31T23:59:59+14:00"},
    ],
)
def test_usage_dates_at_the_calendar_edges_are_a_422(server: Server, query: dict[str, str]) -> None:
    answer = server.http.get("/api/v1/usage", params=query)
    assert answer.status_code == 422, answer.text
    assert "between 1970-01-01 and 9000-01-01" in answer.json()["detail"]


def test_extend_by_too_many_hours_is_a_422(server: Server) -> None:
    created = server.http.post("/api/v1/demo-instances", json={"duration_hours": 1})
    if created.status_code == 429:  # the fuzzer filled the quota: any id will do for a 404/422
        instance_id = "demo-abcdef"
    else:
        instance_id = created.json()["id"]
    for hours in (1e308, 10**30):
        answer = server.http.post(
            f"/api/v1/demo-instances/{instance_id}/extend", json={"hours": hours}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith("hours: ")


@pytest.mark.parametrize(
    ("instance_id", "last_event_id", "status"),
    [
        ("demo-abcdef", None, 404),
        ("not-an-id", None, 404),
        ("demo-abcdef", "x" * 300, 404),
        ("demo-abcdef", "-1", 404),
    ],
)
def test_the_event_stream_errors_are_problems_too(
    server: Server, instance_id: str, last_event_id: str | None, status: int
) -> None:
    """The one operation the fuzzer skips (a stream that never ends by itself)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    answer = server.http.get(
        f"/api/v1/demo-instances/{instance_id}/events", headers=headers, timeout=10
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]


@pytest.mark.parametrize("last_event_id", ["abc", "-5", "9" * 40, "1e308", "²".encode("latin-1")])
def test_a_bad_last_event_id_on_a_live_stream_is_no_500(
    server: Server, last_event_id: str | bytes
) -> None:
    items = server.http.get("/api/v1/demo-instances").json()["items"]
    if not items:
        created = server.http.post("/api/v1/demo-instances", json={"duration_hours": 1})
        assert created.status_code == 202, created.text
        items = [created.json()]
    url = f"/api/v1/demo-instances/{items[0]['id']}/events"
    with server.http.stream("GET", url, headers={"Last-Event-ID": last_event_id}) as answer:
        assert answer.status_code < 500
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100000 + b"]" * 100000,
        b'{"duration_hours": 1, "name": "\xff\xfe"}',
        b'{"duration_hours": ' + b"9" * 5000 + b"}",
    ],
    ids=["nested too deeply", "not UTF-8", "a number too long"],
)
def test_an_unreadable_body_is_a_400_that_says_what_to_send(server: Server, body: bytes) -> None:
    answer = server.http.post(
        "/api/v1/demo-instances", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "send a JSON object like" in answer.json()["detail"]
