"""Sends notification e-mails through an SMTP server (`DEMO_SMTP_URL`, `DEMO_SMTP_FROM`).

`smtp://user:password@host:587` speaks STARTTLS when the server offers it (required with
`?starttls=require`), `smtps://host:465` is TLS from the first byte, and `smtp://host:25` with no
credentials suits a local relay. The URL holds a password, so it is never logged: errors name
the host and port only.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from demo_orchestrator.domain.errors import PermanentError


@dataclass(frozen=True)
class MailOutcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


class SmtpMailer:
    def __init__(self, url: str, sender: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise PermanentError(
                "DEMO_SMTP_URL is smtp://[user:password@]host[:port] or smtps://...; "
                f"got a {parts.scheme or 'schemeless'} URL"
            )
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        self.starttls = starttls  # auto | require | off
        self.sender = sender
        self.timeout = timeout

    def close(self) -> None:
        """Connections are per message: nothing is held open."""

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        attachments: list[tuple[str, str, bytes]] | None = None,
    ) -> MailOutcome:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(text)
        for filename, mime, content in attachments or []:  # a booked demo's .ics invitation
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
        where = f"{self.host}:{self.port}"
        try:
            if self.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if not self.implicit_tls and self.starttls != "off":
                    if client.has_extn("starttls"):
                        client.starttls(context=ssl.create_default_context())
                        client.ehlo()
                    elif self.starttls == "require":
                        return MailOutcome(None, f"{where} offers no STARTTLS (required)")
                if self.user is not None:
                    client.login(self.user, self.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            return MailOutcome(exc.smtp_code, f"{where} answered {exc.smtp_code}")
        except (smtplib.SMTPException, OSError) as exc:
            return MailOutcome(None, f"{where}: {type(exc).__name__}")
        if refused:
            return MailOutcome(None, f"{where} refused the recipient")
        return MailOutcome(250, None)
