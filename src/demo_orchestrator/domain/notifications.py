"""What a notification is: the events people subscribe to, which change of the feed is which
event, and how a webhook delivery is signed (the Standard Webhooks specification).

Pure functions, so the mapping and the signature are tested without a store or a network. The
signature is the specification's `v1` (base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`
keyed with the secret's bytes; a secret is `whsec_` + base64), made by the specification's own
`standardwebhooks` library, so any receiver using its libraries (Python, Node, Go, ...) verifies
ours unchanged and refuses replays by the timestamp.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from demo_orchestrator.domain.errors import BadRequest

EVENTS = (
    "ready",
    "failed",
    "expiring",
    "expired",
    "degraded",
    "approval_requested",
    "approved",
    "rejected",
    "starting",
)
FORMATS = ("json", "slack")
SCOPES = ("own", "global")
SECRET_PREFIX = "whsec_"


def event_of(kind: str, data: Mapping[str, Any]) -> str | None:
    """The subscribable event a change of the feed is, or None (most changes are none)."""
    if kind == "status":
        status, was = data.get("status"), data.get("from")
        if status == "ready" and was != "sleeping":  # a wake is not news
            return "ready"
        if status == "failed":
            return "failed"
        if status == "pending_approval":
            return "approval_requested"
        if status == "rejected":
            return "rejected"
        if status == "pending" and was == "pending_approval":
            return "approved"
        return None
    if kind == "expired":
        return "expired"
    if kind == "health" and (data.get("health") or {}).get("state") == "degraded":
        return "degraded"
    if kind == "starting":
        return "starting"
    return None


def check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if not chosen or unknown:
        raise BadRequest(
            f"events must be a non-empty list of {', '.join(EVENTS)}"
            + (f"; unknown: {', '.join(repr(u)[:40] for u in unknown[:5])}" if unknown else "")
        )
    return chosen


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret (24 to 64 bytes, as the specification asks)."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadRequest("a webhook secret is `whsec_` followed by base64 of 24 to 64 random bytes")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("the webhook secret after `whsec_` is not valid base64") from exc
    if not 24 <= len(key) <= 64:
        raise BadRequest("a webhook secret holds 24 to 64 bytes (32 recommended)")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery attempt, made by the
    specification's own library (so ours cannot drift from what receivers verify)."""
    secret_bytes(secret)  # a clear error for a malformed secret, before the library's
    at = datetime.fromtimestamp(timestamp, UTC)
    return str(Webhook(secret).sign(message_id, at, body.decode()))


def slack_text(event: str, instance: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """One line a person reads in a Slack (or compatible) channel."""
    prospect = (instance.get("prospect") or {}).get("company")
    who = f"{instance.get('id')} ({instance.get('scenario')}{', ' + prospect if prospect else ''})"
    portal = (instance.get("urls") or {}).get("portal")
    lines = {
        "ready": f"Demo {who} is ready" + (f": {portal}" if portal else ""),
        "failed": f"Demo {who} failed: {instance.get('error') or 'see its steps'}",
        "expiring": f"Demo {who} expires in {extra.get('minutes_left', '?')} min",
        "expired": f"Demo {who} expired and is being removed",
        "degraded": f"Demo {who} is degraded: {extra.get('reason') or 'a service does not answer'}",
        "approval_requested": f"Demo {who} by {instance.get('owner')} waits for approval",
        "approved": f"Demo {who} was approved",
        "rejected": f"Demo {who} was rejected",
        "starting": f"Demo {who} starts soon",
    }
    return lines.get(event, f"Demo {who}: {event}")


# E-mail goes to the demo's owner for these; `approval_requested` goes to the admins.
OWNER_MAIL_EVENTS = frozenset(EVENTS) - {"approval_requested"}
ADMIN_MAIL_EVENTS = frozenset({"approval_requested"})
MAIL_PREFIX = "email:"


def mail_text(event: str, instance: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body of a notification e-mail: the demo's links and personas'
    names, never a sign-in link (the demo's page in the orchestrator has those)."""
    subject = slack_text(event, instance, extra).split(": http")[0]
    lines = [slack_text(event, instance, extra), ""]
    if instance.get("name"):
        lines.append(f"Demo:      {instance['name']}")
    prospect = instance.get("prospect") or {}
    if prospect.get("company"):
        lines.append(f"Prospect:  {prospect['company']}")
    lines.append(f"Scenario:  {instance.get('scenario')}")
    lines.append(f"Owner:     {instance.get('owner')}")
    if instance.get("expires_at"):
        lines.append(f"Expires:   {instance['expires_at']}")
    urls = instance.get("urls") or {}
    if urls:
        lines += ["", "Links:"] + [f"  {route}: {url}" for route, url in urls.items()]
    personas = [p.get("name") for p in instance.get("personas") or [] if p.get("name")]
    if personas:
        lines += ["", "Personas (sign in from the demo's page): " + ", ".join(personas)]
    lines += ["", "-- demo-orchestrator"]
    return subject, "\n".join(lines) + "\n"
