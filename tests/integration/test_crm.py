"""The CRM link: prospect fields beyond the company round-trip, filter the list, group usage by
prospect and opportunity, fill the CSV (inert for spreadsheets) and ride along in notifications;
only the company and industry ever reach the demo. The real app in process, on the engine rig."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from demo_orchestrator.app import create_app
from demo_orchestrator.engine.notifications import redacted
from demo_orchestrator.store import repository as repo
from tests.fakes.engine import Rig

TOKEN = "test-admin-token-0123456789"
PASSWORD = "Copper-Lantern-Healing-4821"
DEAL = {
    "company": "Initech",
    "industry": "Software",
    "contact_name": "Dana Whitfield",
    "contact_email": "dana@initech.example",
    "opportunity_id": "006Dn00000AbCdE",
    "opportunity_url": "https://acme.my.salesforce.com/006Dn00000AbCdE",
    "stage": "Discovery",
}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, admin_password=PASSWORD)
    made.orchestrator.accounts.bootstrap()
    yield made
    made.close()


def call(app: Any, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(
                method, path, json=body, params=params, headers={"authorization": f"Bearer {TOKEN}"}
            )

    return anyio.run(run)


def create(app: Any, prospect: dict[str, str] | None, name: str = "call") -> str:
    answer = call(
        app,
        "POST",
        "/api/v1/demo-instances",
        {"duration_hours": 1, "name": name, "prospect": prospect},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_crm_fields_round_trip_filter_and_group_usage(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    deal = create(app, DEAL, '=HYPERLINK("http://evil")')
    same_deal = create(app, {**DEAL, "company": "INITECH", "stage": "Proposal"}, "second look")
    other = create(app, {"company": "Globex", "opportunity_id": "HS-9001"})
    nobody = create(app, None)
    rig.settle()
    shown = call(app, "GET", f"/api/v1/demo-instances/{deal}").json()["prospect"]
    assert shown == DEAL

    def ids(**params: str) -> set[str]:
        answer = call(app, "GET", "/api/v1/demo-instances", **params)
        assert answer.status_code == 200, answer.text
        return {i["id"] for i in answer.json()["items"]}

    assert ids(prospect="initech") == {deal, same_deal}  # any case
    assert ids(opportunity="006Dn00000AbCdE") == {deal, same_deal}
    assert ids(opportunity="HS-9001") == {other}
    assert ids(prospect="Initech", opportunity="HS-9001") == set()
    assert nobody in ids()

    rig.clock.advance(1800)
    start = (rig.clock() - timedelta(days=1)).isoformat()
    end = (rig.clock() + timedelta(minutes=1)).isoformat()
    by_opportunity = call(
        app, "GET", "/api/v1/usage", group_by="opportunity", **{"from": start, "to": end}
    ).json()
    buckets = {i["key"]: i for i in by_opportunity["items"]}
    assert buckets["006Dn00000AbCdE"]["demos"] == 2 and buckets["HS-9001"]["demos"] == 1
    assert buckets["(none)"]["demos"] == 1
    assert buckets["006Dn00000AbCdE"]["opportunity_url"] == DEAL["opportunity_url"]
    assert (
        abs(buckets["006Dn00000AbCdE"]["demo_hours"] - 2 * buckets["HS-9001"]["demo_hours"]) < 1e-3
    )
    by_prospect = call(
        app, "GET", "/api/v1/usage", group_by="prospect", **{"from": start, "to": end}
    ).json()
    assert {i["key"] for i in by_prospect["items"]} == {"Initech", "INITECH", "Globex", "(none)"}

    # the CSV: one row per demo with its deal, grouped by opportunity, formulas made inert
    async def csv_text() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as browser:
            signed = await _sign_in(browser)
            assert signed.status_code == 303
            answer = await browser.get("/portal/admin/usage.csv")
            assert answer.status_code == 200
            return answer.text

    rows = list(csv.DictReader(io.StringIO(anyio.run(csv_text))))
    assert {"name", "prospect", "opportunity_id", "stage"} <= set(rows[0])
    mine = {r["instance"]: r for r in rows}
    assert mine[deal]["opportunity_id"] == "006Dn00000AbCdE" and mine[deal]["stage"] == "Discovery"
    assert mine[deal]["name"].startswith("'=")  # a spreadsheet shows it, never runs it
    order = [r["opportunity_id"] for r in rows]
    assert order == sorted(order)

    # notifications carry the deal (a CRM's webhook receiver maps it), the demo only the company
    with rig.orchestrator.ctx.db.read() as session:
        row = repo.get_instance(session, deal)
        assert row is not None
        assert redacted(rig.orchestrator.ctx, row)["prospect"] == DEAL


async def _sign_in(browser: httpx.AsyncClient) -> httpx.Response:
    import re

    form = (await browser.get("/login")).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found
    return await browser.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": found.group(1)}
    )


@pytest.mark.parametrize(
    ("prospect", "field"),
    [
        ({"company": "Initech", "contact_email": "dana at initech"}, "contact_email"),
        (
            {"company": "Initech", "contact_email": "dana@initech.example\r\nBcc: x@y.z"},
            "contact_email",
        ),
        ({"company": "Initech", "opportunity_url": "javascript:alert(1)"}, "opportunity_url"),
        (
            {"company": "Initech", "opportunity_url": "https://user:pw@crm.example/x"},
            "opportunity_url",
        ),
        ({"company": "Initech", "stage": "Closed\x00Won"}, "stage"),
        ({"company": "Initech", "opportunity_id": "x" * 101}, "opportunity_id"),
        ({"company": "Initech", "owner_id": "7"}, "owner_id"),
    ],
)
def test_bad_crm_fields_are_refused_naming_the_field(
    rig: Rig, prospect: dict[str, str], field: str
) -> None:
    answer = call(
        create_app(rig.orchestrator),
        "POST",
        "/api/v1/demo-instances",
        {"duration_hours": 1, "prospect": prospect},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.text


def test_only_the_company_and_industry_reach_the_demo(rig: Rig) -> None:
    instance_id = create(create_app(rig.orchestrator), DEAL)
    rig.settle()
    env = rig.runtime.envs[instance_id]  # what the demo's processes are started with
    assert env["DEMO_PROSPECT_COMPANY"] == "Initech" and env["DEMO_PROSPECT_INDUSTRY"] == "Software"
    leaked = [
        k
        for k, v in env.items()
        if any(DEAL[f] in v for f in ("contact_name", "contact_email", "opportunity_id", "stage"))
    ]
    assert leaked == []
