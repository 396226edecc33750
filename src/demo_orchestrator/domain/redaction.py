"""Credentials out of text meant for people: log lines, a demo's log shown in the UI or API.

Sign-in links carry their token in the query (`?token=`, or a `/login/<token>` path), API tokens
start with `demo_`, and connection URLs carry passwords; any of them can end up in a message, a
traceback or a demo's own access log. `redact` replaces what looks like one with `[redacted]`.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
_PATTERNS = (
    # ?token=..., &password=..., key=... in URLs, forms and messages
    re.compile(
        r"(?i)((?:^|[?&;\s,\"'])[a-z_]*(?:token|password|passwd|secret|api[_-]?key|"
        r"signature|session[_-]?id)=)[^&\s\"',;]+"
    ),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"(\bdemo_)[A-Za-z0-9_-]{16,}"),
    re.compile(r"(/login/)[A-Za-z0-9._~%-]{12,}"),
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"),
)


def redact(text: str) -> str:
    """`text` with every credential-looking value replaced by `[redacted]`."""
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(rf"\g<1>{REDACTED}\g<2>", text)
        else:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text
