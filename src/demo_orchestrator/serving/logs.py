"""The server's log configuration: one format, quiet HTTP clients, and no secret in any line.

Logs are read by more people than the API's admins (support, a log service), and they are kept
long after a token has been rotated. Whatever a message carries, the filter here rewrites
what looks like a credential before it is written: query parameters named like one (`token=`,
`password=`), Bearer tokens, our API tokens (`demo_...`), `/login/<token>` paths and passwords in
URLs. httpx and httpcore log every request URL at INFO; they log at WARNING here, so the
orchestrator's own calls (health probes, provider APIs) stay out of the log too.
"""

from __future__ import annotations

import logging

from demo_orchestrator.domain.redaction import REDACTED, redact

__all__ = ["FORMAT", "QUIET", "REDACTED", "RedactSecrets", "configure", "redact"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("httpx", "httpcore", "hpack")


class RedactSecrets(logging.Filter):
    """Rewrite a record's message (and its traceback) with `redact` before any handler sees it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure(level: int = logging.INFO) -> None:
    """Log to stderr through the redacting filter; uvicorn's loggers propagate here (serve
    passes `log_config=None`), so its error lines are redacted too."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
