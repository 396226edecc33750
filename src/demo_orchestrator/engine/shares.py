"""Sharing a demo with the prospect: one link per demo, read-only or guided, revocable.

The link signs the prospect in to the demo itself (the reference stack's `/auth/share`), so it
works behind any proxy and in both runtimes. Its token is an HMAC under a key derived from the
demo's login secret for the purpose `share` (a message that starts with a NUL byte, names the
demo, the mode and a nonce), so it can be turned neither into a persona's token nor into the
rep's, and it carries no other secret.

Why the demo learns the share through its settings (and does not ask the orchestrator): the demo
already reloads its settings in place when the orchestrator changes them (rotation does the same),
and a demo that must call back home on every request would stop working when the orchestrator is
down. So a share is the environment variable `DEMO_SHARE` = `<mode>:<nonce>` (plus, for a guided
share, `DEMO_SHARE_TOUR`: the tour's steps for the prospect), sealed with the demo's other
secrets; sharing or revoking runs the demo's runtime steps again, and the running demo then
honours only the current nonce: a replaced or revoked link, and every session made through it,
stops working as soon as the demo has reloaded (a second or so for the local runtime).
A rotation of the login secret ends the share too: the share remembers which secret it was made
under (`secret_id`) and is no longer offered once that changed, and the demo refuses the old token.
The link expires with the demo: `expires_at` is the demo's (an extend moves it), and the demo is
torn down at its expiry.

The split of the tour for the prospect: each step's `action` (as the title), `page` (the path) and
the persona's name are shown; the rep's `talking_point` is never in the share (the stack gets it
only in `DEMO_TOUR`, domain/tour.py, and shows that to the rep's session alone).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.domain.errors import BadRequest, Conflict
from demo_orchestrator.domain.instance import Desired, Status, StepStatus
from demo_orchestrator.engine import rotation
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.changes import Audit, apply_change, apply_step
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.engine.service import InstanceService
from demo_orchestrator.engine.views import demo_urls
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

MODES = ("read_only", "guided")
SHARE_PATH = "/auth/share"
SHARE_ENV = "DEMO_SHARE"
TOUR_ENV = "DEMO_SHARE_TOUR"


def share_token(secret: str, instance_id: str, mode: str, nonce: str) -> str:
    """What the demo checks (splits_stack/services/identity.py `share_token` computes the same)."""
    key = hmac.new(secret.encode(), b"\x00splits:share", hashlib.sha256).digest()
    message = f"\x00share\x00{instance_id}\x00{mode}\x00{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def secret_id(secret: str) -> str:
    """Names the login secret a share was made under, without revealing it."""
    return hashlib.sha256(b"share-secret-id\x00" + secret.encode()).hexdigest()[:16]


def prospect_tour(blueprint: Blueprint, scenario_name: str) -> list[dict[str, str]]:
    """The scenario's tour as the prospect sees it: no talking points (those are the rep's), and
    only the steps on the host the link opens (a candidate's step on the candidate host would
    show another page at the same path, and the share's session is the login route's host)."""
    scenario = blueprint.scenario(scenario_name)
    if scenario is None:
        return []
    home = blueprint.login_route or blueprint.routes[0]
    routes = {p.name: p.route or home for p in scenario.personas}
    return [
        {"title": step.action, "path": step.page, "persona": step.persona}
        for step in scenario.tour
        if routes.get(step.persona, home) == home
    ]


def share_view(ctx: Context, row: InstanceRow) -> dict[str, Any] | None:
    """`{"url", "mode", "expires_at"}` of the demo's current share, or None."""
    if row.secrets is None or row.status in {Status.DELETED.value, Status.REJECTED.value}:
        return None
    sealed = ctx.box.open(row.secrets)
    share = sealed.get("share")
    secret = sealed.get("login_secret")
    if not share or not secret or share.get("secret_id") != secret_id(secret):
        return None  # never shared, revoked, or ended by a rotation of the login secret
    blueprint = ctx.blueprint_named(row.blueprint)
    urls = demo_urls(ctx.settings, blueprint, row.id)
    route = blueprint.login_route or blueprint.routes[0]
    token = share_token(secret, row.id, share["mode"], share["nonce"])
    expires = row.expires_at
    return {
        "url": f"{urls[route]}{SHARE_PATH}?token={token}",
        "mode": share["mode"],
        "expires_at": expires.isoformat().replace("+00:00", "Z") if expires else None,
    }


def changed(
    ctx: Context, plans: Plans, session: Session, row: InstanceRow, mode: str | None, now: datetime
) -> dict[str, Any]:
    """The fields of `row` with a new share in `mode` (None: revoked), its runtime steps set to
    run again so that the demo learns it; 409 unless the demo is ready."""
    if mode is not None and mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode is None and row.secrets is not None:
        held = ctx.box.open(row.secrets)
        if not held.get("share") and SHARE_ENV not in held.get("env", {}):
            return {}  # nothing shared: a revoke has nothing to end, and the demo keeps running
    if row.status != Status.READY.value or row.desired != Desired.READY.value:
        raise Conflict(
            f"{row.id} is {row.status}; a demo can be shared or unshared when it is ready "
            f"(wake a sleeping one first, or wait until it is ready)"
        )
    sealed = ctx.box.open(row.secrets)
    secret = sealed.get("login_secret")
    if not secret:
        raise Conflict(f"{row.id} has no sign-in secret yet; wait until it is ready")
    env = {k: v for k, v in sealed.get("env", {}).items() if k not in (SHARE_ENV, TOUR_ENV)}
    share: dict[str, str] | None = None
    if mode is not None:
        share = {"mode": mode, "nonce": secrets.token_hex(8), "secret_id": secret_id(secret)}
        env[SHARE_ENV] = f"{mode}:{share['nonce']}"
        if mode == "guided":
            tour = prospect_tour(ctx.blueprint_named(row.blueprint), row.scenario)
            env[TOUR_ENV] = json.dumps(tour, separators=(",", ":"))
    steps = repo.step_rows(session, row.id)
    names = [s.name for s in steps]
    first = plans.first_of_slot(names, "runtime")
    for step in steps[names.index(first) :] if first is not None else []:
        if step.status == StepStatus.DONE.value:
            apply_step(session, step, now=now, status=StepStatus.PENDING.value)
    return {
        "status": Status.PROVISIONING,
        "secrets": ctx.box.seal({**sealed, "share": share, "env": env}),
        "event": ("share" if mode else "unshare", {"mode": mode} if mode else {}),
    }


class Shares:
    """The use cases: share (create or replace), revoke, read; owner or admin, audited."""

    def __init__(self, instances: InstanceService) -> None:
        self.instances = instances  # its visibility checks, locking and nudge

    def share(self, who: Principal, instance_id: str, mode: str) -> dict[str, Any]:
        self._change(who, instance_id, mode)
        found = self.current(who, instance_id)
        if found is None:  # pragma: no cover - just written under the same secret
            raise Conflict(f"{instance_id} could not be shared; try again")
        return found

    def revoke(self, who: Principal, instance_id: str) -> None:
        self._change(who, instance_id, None)

    def current(self, who: Principal, instance_id: str) -> dict[str, Any] | None:
        ctx = self.instances.ctx
        with ctx.db.read() as session:
            row = self.instances._visible(session, who, instance_id)
            return share_view(ctx, row)

    def _change(self, who: Principal, instance_id: str, mode: str | None) -> None:
        action = "share" if mode else "unshare"
        service = self.instances
        service._require_write(who)
        refused = service.ctx.runtime.refuses.get(rotation.ACTION)
        if refused:  # a share is applied the way a rotation is: where that cannot work, say why
            raise Conflict(
                f"sharing {instance_id} is not available with the {service.ctx.runtime.name} "
                f"runtime: a share reaches the running demo as a rotation does, and {refused}"
            )
        now = service.ctx.clock()
        with service.ctx.db.write() as session:
            row = service._visible(session, who, instance_id, lock=True)
            fields = changed(service.ctx, service.plans, session, row, mode, now)
            if not fields:
                return
            apply_change(
                session,
                row,
                now=now,
                audit=Audit(who.name, action, source=who.source, detail={"mode": mode}),
                **fields,
            )
        service.nudge()
