"""Notifications: webhooks told of what happens to demos, signed, retried, logged.

The notifier reads the change feed from its own cursor in the store (so a restart resumes where
it stopped and events while it was down still go out), turns the changes people subscribe to into
deliveries, adds the expiry reminders (`DEMO_EXPIRY_WARNING_MINUTES`), and sends what is due.
Enqueueing is idempotent (a delivery's key is unique per webhook), so several replicas may read
the same events and each message exists once; sending claims a delivery with a conditional update
first, so two replicas never send one attempt twice. A failed attempt is retried with back-off
(`DEMO_WEBHOOK_RETRY_BASE_SECONDS` x 6^n, capped at an hour) until
`DEMO_WEBHOOK_MAX_ATTEMPTS`; each delivery keeps its attempts, last status and error.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from demo_orchestrator.domain.errors import Forbidden, NotFound
from demo_orchestrator.domain.notifications import (
    ADMIN_MAIL_EVENTS,
    FORMATS,
    MAIL_PREFIX,
    OWNER_MAIL_EVENTS,
    SCOPES,
    check_events,
    event_of,
    mail_text,
    new_secret,
    secret_bytes,
    sign,
    slack_text,
)
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.booking import invitation_ics
from demo_orchestrator.engine.changes import audit_by
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.invitation import zone
from demo_orchestrator.engine.views import instance_view
from demo_orchestrator.store import bookings
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store import webhooks as store
from demo_orchestrator.store.models import DeliveryRow, InstanceRow, WebhookRow

log = logging.getLogger(__name__)

BATCH = 500
SEND_LIMIT = 32
MAX_BACKOFF_SECONDS = 3600.0
# Mails of a booked demo that carry its .ics invitation (engine/invitation.py).
INVITED = frozenset({"ready", "starting"})


class Sent(Protocol):
    @property
    def status_code(self) -> int | None: ...

    @property
    def error(self) -> str | None: ...

    @property
    def delivered(self) -> bool: ...


class Sender(Protocol):
    def send(self, url: str, headers: dict[str, str], body: bytes) -> Sent: ...

    def close(self) -> None: ...


class Mailer(Protocol):
    # `attachments` ((file name, MIME type, content)) is passed only when there is one: a
    # booked demo's .ics invitation.
    def send(
        self,
        to: str,
        subject: str,
        text: str,
        attachments: list[tuple[str, str, bytes]] | None = None,
    ) -> Sent: ...

    def close(self) -> None: ...


def parse_leads(value: str) -> list[int]:
    """`"15,5"` -> [15, 5] (minutes before expiry, largest first)."""
    leads = sorted({int(part) for part in value.split(",") if part.strip()}, reverse=True)
    if any(lead <= 0 for lead in leads):
        raise ValueError("expiry warning lead times are whole minutes > 0")
    return leads


def redacted(ctx: Context, row: InstanceRow, session: Any = None) -> dict[str, Any]:
    """The instance as a notification may carry it: no sign-in link of any kind. Its steps are
    read in `session` when the caller has one open (the notifier's enqueue does)."""
    if session is not None:
        steps = repo.steps_of(session, [row.id])[row.id]
    else:
        with ctx.db.read() as own:
            steps = repo.steps_of(own, [row.id])[row.id]
    view = instance_view(
        row,
        steps,
        settings=ctx.settings,
        blueprint=ctx.blueprints.get(row.blueprint),
        login_secret=None,
        now=ctx.clock(),
        # a saved template's personas are its base scenario's (engine/templates.py)
        scenario=ctx.find_scenario(ctx.blueprints[row.blueprint], row.scenario)
        if row.blueprint in ctx.blueprints
        else None,
    )
    view.pop("rep_login_url", None)
    for persona in view.get("personas") or []:
        persona.pop("login_url", None)
    return view


class Notifier:
    def __init__(self, ctx: Context, sender: Sender, mailer: Mailer | None = None) -> None:
        self.ctx = ctx
        self.sender = sender
        self.mailer = mailer
        self.leads = parse_leads(ctx.settings.expiry_warning_minutes)
        self.start_leads = parse_leads(ctx.settings.start_reminder_minutes)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook")

    # -- subscriptions (the API's service) ---------------------------------------------------

    def create(
        self,
        who: Principal,
        *,
        url: str,
        events: list[str],
        secret: str | None,
        format: str,
        scope: str,
        check_url: Callable[[str], None],
    ) -> dict[str, Any]:
        if not who.can_write:
            raise Forbidden("viewers cannot subscribe to notifications")
        if scope not in SCOPES or format not in FORMATS:
            raise NotFound("unknown scope or format")  # the schema refuses these first
        if scope == "global" and who.role != "admin":
            raise Forbidden("only admins subscribe to every demo's events (scope `global`)")
        chosen = check_events(events)
        check_url(url)
        secret = secret or new_secret()
        secret_bytes(secret)
        row = WebhookRow(
            id="wh_" + secrets.token_hex(8),
            owner=who.name,
            url=url,
            events=chosen,
            format=format,
            scope=scope,
            secret=self.ctx.box.seal({"secret": secret}),
            created_at=self.ctx.clock(),
        )
        with self.ctx.db.write() as session:
            session.add(row)
            audit_by(
                session,
                who,
                "webhook.create",
                now=row.created_at,
                detail={"webhook": row.id, "scope": scope},
            )
            public = self._public(row)
        return {**public, "secret": secret}

    def subscriptions(self, who: Principal) -> list[dict[str, Any]]:
        with self.ctx.db.read() as session:
            owner = None if who.role == "admin" else who.name
            return [self._public(row) for row in store.live_webhooks(session, owner)]

    def delete(self, who: Principal, webhook_id: str) -> None:
        with self.ctx.db.write() as session:
            row = self._mine(session, who, webhook_id)
            row.deleted_at = self.ctx.clock()
            audit_by(session, who, "webhook.delete", now=row.deleted_at, detail={"webhook": row.id})

    def deliveries(self, who: Principal, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.ctx.db.read() as session:
            self._mine(session, who, webhook_id)
            return [store.as_dict(d) for d in store.deliveries(session, webhook_id, limit)]

    @staticmethod
    def _mine(session: Any, who: Principal, webhook_id: str) -> WebhookRow:
        row = store.webhook(session, webhook_id)
        if row is None or (who.role != "admin" and row.owner != who.name):
            raise NotFound(f"no webhook {webhook_id!r}; GET /api/v1/webhooks lists yours")
        return row

    @staticmethod
    def _public(row: WebhookRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "url": row.url,
            "events": list(row.events),
            "format": row.format,
            "scope": row.scope,
            "owner": row.owner,
            "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        }

    # -- the loop ----------------------------------------------------------------------------

    def begin(self) -> None:
        """On the very first start, begin at the newest event; later starts resume."""
        with self.ctx.db.write() as session:
            if store.cursor(session) is None:
                store.move_cursor(session, repo.last_event_id(session))

    def start(self) -> None:
        self.begin()
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.sender.close()
        if self.mailer is not None:
            self.mailer.close()

    def wake(self, _changes: object = None) -> None:
        """The change feed's subscriber: something happened, look now."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("notifier tick failed; retrying")
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def tick(self) -> None:
        """Enqueue what the feed and the clock say, then send what is due (and wait for it)."""
        self.read_feed()
        self.remind()
        self.remind_starting()
        for future in [self._pool.submit(self.attempt, d) for d in self.claim_due()]:
            future.result()

    def read_feed(self) -> None:
        with self.ctx.db.write() as session:
            after = store.cursor(session) or 0
            events = repo.events_since(session, after, BATCH)
            if not events:
                return
            hooks = store.live_webhooks(session)
            for event in events:
                name = event_of(event.kind, event.data or {})
                if name is None or (not hooks and self.mailer is None):
                    continue
                row = session.get(InstanceRow, event.instance_id)
                if row is None or row.pooled:
                    continue
                health = (event.data or {}).get("health") or {}
                extra = {"reason": health.get("reason")} if name == "degraded" else {}
                self._enqueue(session, hooks, row, name, f"{name}:{event.id}", extra)
            store.move_cursor(session, events[-1].id)
        if len(events) == BATCH:
            self._wake.set()

    def remind(self) -> None:
        if not self.leads:
            return
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            hooks = [h for h in store.live_webhooks(session) if "expiring" in h.events]
            if not hooks and self.mailer is None:
                return
            for row in store.expiring(session, now, now + timedelta(minutes=self.leads[0])):
                assert row.expires_at is not None
                left = (row.expires_at - now).total_seconds() / 60
                lead = min(lead for lead in self.leads if left <= lead)
                key = f"expiring:{lead}:{row.expires_at.isoformat()}"
                extra = {"minutes_left": max(0, round(left)), "lead_minutes": lead}
                self._enqueue(session, hooks, row, "expiring", key, extra)

    def remind_starting(self) -> None:
        """`starting` before a booked demo's start, once per lead time and start (moving the
        booking makes them due again), like `remind` does before expiry."""
        if not self.start_leads:
            return
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            hooks = [h for h in store.live_webhooks(session) if "starting" in h.events]
            if not hooks and self.mailer is None:
                return
            until = now + timedelta(minutes=self.start_leads[0])
            for row in bookings.starting_within(session, now=now, until=until):
                if row.pooled or row.starts_at is None:
                    continue
                left = (row.starts_at - now).total_seconds() / 60
                lead = min(lead for lead in self.start_leads if left <= lead)
                key = f"starting:{lead}:{row.starts_at.isoformat()}"
                extra = {
                    "minutes_left": max(0, round(left)),
                    "lead_minutes": lead,
                    "starts_at": row.starts_at.isoformat().replace("+00:00", "Z"),
                }
                self._enqueue(session, hooks, row, "starting", key, extra)

    def _enqueue(
        self,
        session: Any,
        hooks: list[WebhookRow],
        row: InstanceRow,
        event: str,
        key: str,
        extra: dict[str, Any],
    ) -> None:
        chosen = [
            h for h in hooks if event in h.events and (h.scope == "global" or h.owner == row.owner)
        ]
        mailed = self._mail_recipients(session, row, event)
        if not chosen and not mailed:
            return
        now = self.ctx.clock()
        instance = redacted(self.ctx, row, session)
        data = {"instance": instance, **extra}
        message = {"type": event, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
        channels = [
            (hook.id, {"text": slack_text(event, instance, extra), **message})
            if hook.format == "slack"
            else (hook.id, message)
            for hook in chosen
        ] + [(MAIL_PREFIX + name, message) for name in mailed]
        for channel, payload in channels:  # one message per webhook or mailbox, made once
            store.enqueue(
                session,
                DeliveryRow(
                    id="msg_" + secrets.token_hex(12),
                    webhook_id=channel,
                    key=key[:160],
                    event=event,
                    instance_id=row.id,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                ),
            )

    def _mail_recipients(self, session: Any, row: InstanceRow, event: str) -> list[str]:
        """Who gets this event by e-mail: the owner, or the admins for approval requests."""
        if self.mailer is None or event not in OWNER_MAIL_EVENTS | ADMIN_MAIL_EVENTS:
            return []
        users = store.mail_recipients(session, row.owner, admins_too=event in ADMIN_MAIL_EVENTS)
        if event in ADMIN_MAIL_EVENTS:
            return [u.name for u in users if u.role == "admin" and u.name != row.owner]
        return [u.name for u in users if u.name == row.owner]

    def claim_due(self) -> list[DeliveryRow]:
        now = self.ctx.clock()
        lease = now + timedelta(seconds=self.ctx.settings.webhook_timeout_seconds * 3 + 5)
        claimed: list[DeliveryRow] = []
        with self.ctx.db.write() as session:
            for row in store.due(session, now, SEND_LIMIT):
                if store.claim(session, row, until=lease):
                    session.expunge(row)
                    claimed.append(row)
        return claimed

    def attempt(self, delivery: DeliveryRow) -> None:
        if delivery.webhook_id.startswith(MAIL_PREFIX):
            self._mail(delivery)
            return
        with self.ctx.db.read() as session:
            hook = store.webhook(session, delivery.webhook_id)
            secret = None if hook is None else self.ctx.box.open(hook.secret)["secret"]
            url = None if hook is None else hook.url
        if hook is None or secret is None or url is None:
            self._record(delivery.id, None, "the webhook was deleted", final=True)
            return
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(self.ctx.clock().timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "demo-orchestrator-webhooks",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery.id, timestamp, body),
        }
        outcome = self.sender.send(url, headers, body)
        self._record(delivery.id, outcome.status_code, outcome.error, delivered=outcome.delivered)

    def _mail(self, delivery: DeliveryRow) -> None:
        name = delivery.webhook_id[len(MAIL_PREFIX) :]
        with self.ctx.db.read() as session:
            user = store.user(session, name)
            address = user.email if user is not None and store.usable(user) else None
        if self.mailer is None or address is None:
            self._record(delivery.id, None, "no e-mail address (or SMTP) any more", final=True)
            return
        data = delivery.payload.get("data") or {}
        extra = {k: v for k, v in data.items() if k != "instance"}
        subject, text = mail_text(delivery.event, data.get("instance") or {}, extra)
        invite = self._invitation(delivery) if delivery.event in INVITED else None
        if invite is not None:
            outcome = self.mailer.send(address, subject, text, attachments=[invite])
        else:
            outcome = self.mailer.send(address, subject, text)
        self._record(delivery.id, outcome.status_code, outcome.error, delivered=outcome.delivered)

    def _invitation(self, delivery: DeliveryRow) -> tuple[str, str, bytes] | None:
        """A booked demo's .ics for its owner's mail, in the owner's time zone."""
        with self.ctx.db.read() as session:
            row = session.get(InstanceRow, delivery.instance_id)
            if row is None or row.starts_at is None:
                return None
            owner = store.user(session, row.owner)
            tz = zone(owner.timezone if owner is not None else None)
            session.expunge(row)
        instance = (delivery.payload.get("data") or {}).get("instance") or {}
        ics = invitation_ics(self.ctx, instance, row, tz)
        return (f"{row.id}.ics", "text/calendar", ics)

    def mail_deliveries(self, who: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """The e-mails sent to `who` (the notifications page shows them beside the webhooks)."""
        with self.ctx.db.read() as session:
            return [
                store.as_dict(d) for d in store.deliveries(session, MAIL_PREFIX + who.name, limit)
            ]

    def _record(
        self,
        delivery_id: str,
        status_code: int | None,
        error: str | None,
        *,
        delivered: bool = False,
        final: bool = False,
    ) -> None:
        settings = self.ctx.settings
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                return
            row.attempts += 1
            row.last_status_code = status_code
            row.last_error = None if delivered else (error or f"HTTP {status_code}")[:500]
            if delivered:
                row.status, row.delivered_at = "delivered", now
            elif final or row.attempts >= settings.webhook_max_attempts:
                row.status = "failed"
            else:
                wait = settings.webhook_retry_base_seconds * 6 ** (row.attempts - 1)
                row.next_attempt_at = now + timedelta(seconds=min(wait, MAX_BACKOFF_SECONDS))
        if not delivered:
            log.info("webhook delivery %s attempt failed: %s", delivery_id, error or status_code)
