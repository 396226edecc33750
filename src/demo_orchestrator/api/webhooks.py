"""`/api/v1/webhooks`: subscribe a URL to events of your demos (or, as an admin, of all), see
each delivery's attempts. Deliveries are signed per the Standard Webhooks specification."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from demo_orchestrator.domain.notifications import EVENTS
from demo_orchestrator.providers.webhook_http import check_url
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

Event = Literal[
    "ready",
    "failed",
    "expiring",
    "expired",
    "degraded",
    "approval_requested",
    "approved",
    "rejected",
    "starting",
]
assert set(Event.__args__) == set(EVENTS)  # type: ignore[attr-defined]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="http(s) URL receiving POSTs.")
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="`whsec_` + base64 of 24-64 bytes; generated (and shown once) when omitted.",
    )
    format: Literal["json", "slack"] = Field(
        default="json",
        description="`slack` adds a `text` line, so a Slack incoming-webhook URL works as is.",
    )
    scope: Literal["own", "global"] = Field(
        default="own", description="`own`: your demos' events; `global` (admins): every demo's."
    )


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    format: str
    scope: str
    owner: str
    created_at: str


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing secret; shown only in this answer.")


class WebhookPage(BaseModel):
    items: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    id: str = Field(description="The `webhook-id` header of every attempt of this message.")
    event: str
    instance_id: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(
    body: WebhookCreate, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    allow = orchestrator.ctx.settings.webhook_allow_private_networks
    return orchestrator.notifier.create(
        who,
        url=body.url,
        events=list(body.events),
        secret=body.secret,
        format=body.format,
        scope=body.scope,
        check_url=partial(check_url, allow_private=allow),
    )


@router.get("", response_model=WebhookPage)
def list_webhooks(orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    return {"items": orchestrator.notifier.subscriptions(who)}


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, orchestrator: OrchestratorDep, who: PrincipalDep) -> Response:
    orchestrator.notifier.delete(who, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def webhook_deliveries(
    webhook_id: str,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    return {"items": orchestrator.notifier.deliveries(who, webhook_id, limit)}
