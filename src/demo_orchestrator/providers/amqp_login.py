"""AMQP logins as a demo (or an intruder) would make them, for the `rabbitmq` provider.

The management API answering says nothing about AMQP: a broker whose AMQP listener is down, or a
user whose permissions did not take, still looks fine over HTTP, and a demo made on it went
`ready` with its events silently dropped. `ensure` therefore logs in over AMQP into the demo's
vhost with the demo's user and opens a channel; the doctor uses the same login to see whether the
`guest` user answers from a non-loopback address.
"""

from __future__ import annotations

import logging
import socket

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]

# pika logs every refused login at ERROR with a traceback; the caller reports it in one line.
logging.getLogger("pika").setLevel(logging.CRITICAL)

REFUSED = "refused"  # the broker answered and refused the credentials


def login(url: str, *, timeout: float) -> str | None:
    """None when `url` logs in and opens a channel; else why not (`REFUSED` for credentials).
    The reason never holds the password: only pika's exception class and broker reply text."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.retry_delay = 0
    parameters.socket_timeout = timeout
    parameters.stack_timeout = timeout
    parameters.blocked_connection_timeout = timeout
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.ProbableAuthenticationError:
        return REFUSED
    except pika.exceptions.ProbableAccessDeniedError:
        return "the user may not open the vhost (ACCESS_REFUSED)"
    except pika.exceptions.AMQPConnectionError as exc:
        inner = exc.args[0] if exc.args else exc
        text = type(inner).__name__ if isinstance(inner, BaseException) else str(inner)
        if isinstance(inner, BaseException) and "ACCESS_REFUSED" in str(inner):
            return REFUSED
        return f"no AMQP connection ({text or type(exc).__name__})"
    except (OSError, pika.exceptions.AMQPError) as exc:
        return f"no AMQP connection ({type(exc).__name__})"
    try:
        channel = connection.channel()
        channel.close()
    except pika.exceptions.AMQPError as exc:
        return f"logged in but could not open a channel ({type(exc).__name__})"
    finally:
        try:
            connection.close()
        except pika.exceptions.AMQPError:
            pass
    return None


def outward_address() -> str | None:
    """This host's address on its outward interface (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address
