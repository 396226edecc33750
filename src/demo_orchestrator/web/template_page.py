"""The "Save as template" form on a demo's detail page: the same service as
`POST /api/v1/demo-instances/{id}/save-as-template` (engine/templates.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.templates import Templates
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import UserDep, require_role, verify_csrf
from demo_orchestrator.web.pages import detail_path
from demo_orchestrator.web.render import back

router = APIRouter(include_in_schema=False)


@router.post("/portal/demo-instances/{instance_id}/template/save")  # two parts: not an {action}
def save_as_template(
    instance_id: str,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    shared: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(user, csrf_token)
    require_role(user, "admin", "sales")
    here = detail_path(user, instance_id)
    try:
        saved = Templates(orchestrator.ctx, orchestrator.instances).save(
            user.principal,
            instance_id,
            name=name.strip()[:60],
            title=title.strip()[:200] or None,
            shared=shared == "on",
        )
    except DemoError as exc:
        return back(here, error=exc.detail)
    return back(
        here,
        notice=f"Saved as template {saved['name']}: it is in the create form"
        + (" for the whole team" if saved.get("shared") else " (only for you)"),
    )
