"""The server's log filter keeps credentials out of every line it writes."""

from __future__ import annotations

import io
import logging

import pytest

from demo_orchestrator.serving.logs import REDACTED, RedactSecrets, redact

TOKEN = "3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"GET /auth/demo-login?email=riley%40x.test&token={TOKEN} HTTP/1.1", TOKEN),
        (f'"GET /login?token={TOKEN}&next=/ HTTP/1.1" 303', TOKEN),
        (f"GET /login/{TOKEN} HTTP/1.1", TOKEN),
        ("Authorization: Bearer demo_AbCdEfGhIjKlMnOpQrStUv0123456789", "AbCdEfGhIjKlMnOp"),
        ("token demo_AbCdEfGhIjKlMnOpQrStUv0123456789 rejected", "AbCdEfGhIjKlMnOp"),
        ("connect to postgresql://demo_x:s3cr3t-pass@db:5432/x failed", "s3cr3t-pass"),
        ("form username=admin&password=Correct-Horse-9 posted", "Correct-Horse-9"),
        ("DEMO_LOGIN_SECRET=abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    ],
)
def test_credentials_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_ordinary_lines_are_kept() -> None:
    for line in (
        "demo-ab12cd ready in 1.2 s",
        "GET /api/v1/demo-instances?limit=50&status=ready HTTP/1.1",
        "child 4752 (demo-gylq38/app) on port 53933, exit code=3",
    ):
        assert redact(line) == line


def test_the_filter_redacts_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("proxied %s", f"/login?token={TOKEN}")
        try:
            raise ValueError(f"bad link /auth/demo-login?token={TOKEN}")
        except ValueError:
            log.exception("sign-in failed")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert TOKEN not in written
    assert "proxied /login?token=[redacted]" in written
    assert "ValueError: bad link /auth/demo-login?token=[redacted]" in written


def test_error_details_carry_no_credential() -> None:
    from demo_orchestrator.domain.errors import TemporaryError

    exc = TemporaryError("cannot reach redis://demo_ab12:Zx9-secret-pass@127.0.0.1:6379/0")
    assert "Zx9-secret-pass" not in exc.detail and "Zx9-secret-pass" not in str(exc)


def test_prose_about_bearer_tokens_is_kept() -> None:
    line = "the bearer token was revoked; send `Authorization: Bearer <token>`"
    assert redact(line) == line
