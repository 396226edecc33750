"""The `rabbitmq` broker provider: a vhost and a user per demo, through the management HTTP API.

A vhost is RabbitMQ's unit of isolation: its exchanges and queues are invisible from any other
vhost, and the demo's user has permissions on its own vhost only. Vhost limits (max connections,
max queues) keep one demo from exhausting the broker. The vhost carries a description and a tag,
the user a tag, both naming this orchestrator, so `owned()` and the orphan sweep never touch
another team's `demo-*` vhosts. Deleting the vhost closes its connections and drops its queues;
reset purges every queue of the vhost and keeps the vhost, its user and its limits.

`ensure` ends with an AMQP login into the vhost as the demo's user (`amqp_login.py`): the
management API answering proves nothing about AMQP, and a demo must not go `ready` on a broker
whose AMQP port is dead. `doctor()` checks that `guest` is absent or loopback-only.
"""

from __future__ import annotations

import logging
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import DemoError, PermanentError, ProviderError
from demo_orchestrator.providers import amqp_login
from demo_orchestrator.providers.base import (
    Finding,
    Health,
    InstanceSpec,
    Outputs,
    Provider,
    ProviderSettings,
    own_settings,
)
from demo_orchestrator.providers.ownership import (
    INSTANCE_ID,
    Passwords,
    Unreachable,
    marker,
    owner_of,
    redact,
    split_url,
)
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)


class RabbitSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_RABBITMQ_")

    url: str | None = Field(
        default=None,
        repr=False,  # holds a password
        description="amqp://user:password@host:5672/ of the broker demos connect to; no default: "
        "when set, each demo gets a vhost and a user of its own.",
    )
    management_url: str | None = Field(
        default=None,
        repr=False,
        description="http://admin:password@host:15672 of the management API (administrator "
        "tag); unset: DEMO_RABBITMQ_URL's host and credentials on port 15672, the default port.",
    )
    max_connections: int = Field(
        default=20,
        gt=0,
        description="max-connections limit of each demo's vhost (connections); enough for a "
        "demo's services, low enough that one demo cannot exhaust the broker.",
    )
    max_queues: int = Field(
        default=50,
        gt=0,
        description="max-queues limit of each demo's vhost (queues); a demo declares a handful, "
        "so a runaway declare loop stops early.",
    )

    def missing_fields(self) -> list[str]:
        return [] if self.url else ["url"]


class RabbitBroker(Provider):
    kind = "broker"
    name = "rabbitmq"
    settings_model = RabbitSettings

    def __init__(
        self,
        *,
        amqp_url: str,
        management_url: str | None,
        owner: str,
        passwords: Passwords,
        max_connections: int = 20,
        max_queues: int = 50,
        timeout: float = 5.0,
    ) -> None:
        self._amqp = split_url(amqp_url, schemes=("amqp", "amqps"), setting="DEMO_RABBITMQ_URL")
        if management_url is None:
            management_url = (
                f"http://{self._amqp.username or 'guest'}:{self._amqp.password or 'guest'}"
                f"@{self._amqp.hostname}:15672"
            )
        self._mgmt_url = management_url
        mgmt = split_url(
            management_url, schemes=("http", "https"), setting="DEMO_RABBITMQ_MANAGEMENT_URL"
        )
        port = f":{mgmt.port}" if mgmt.port else ""
        self._http = httpx.Client(
            base_url=f"{mgmt.scheme}://{mgmt.hostname}{port}{mgmt.path.rstrip('/')}/api",
            auth=(mgmt.username or "", mgmt.password or ""),
            timeout=timeout,
            trust_env=False,
        )
        self.owner = owner
        self.marker = marker(owner)
        self.tag = f"demo-orchestrator-{owner}"
        self.passwords = passwords
        self.max_connections = max_connections
        self.max_queues = max_queues

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        config = own_settings(cls.name, RabbitSettings, own)
        assert config.url is not None  # own_settings refuses incomplete settings
        return cls(
            amqp_url=config.url,
            management_url=config.management_url,
            owner=owner_of(settings),
            passwords=Passwords.from_settings(settings),
            max_connections=config.max_connections,
            max_queues=config.max_queues,
            timeout=settings.data_service_timeout_seconds,
        )

    # -- protocol ------------------------------------------------------------------------------

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        name = spec.instance_id
        password = self.passwords.of("rabbitmq", self.owner, name)
        vhost, user = self._get(f"/vhosts/{_q(name)}"), self._get(f"/users/{_q(name)}")
        if (vhost is not None and self.tag not in _tags(vhost)) or (
            user is not None and self.tag not in _tags(user)
        ):
            raise PermanentError(
                f"RabbitMQ already has a vhost or user {name} not managed by this orchestrator; "
                "refusing to touch it"
            )
        self._send("PUT", f"/vhosts/{_q(name)}", {"description": self.marker, "tags": self.tag})
        for limit, value in (
            ("max-connections", self.max_connections),
            ("max-queues", self.max_queues),
        ):
            self._send("PUT", f"/vhost-limits/{_q(name)}/{limit}", {"value": value})
        self._send("PUT", f"/users/{_q(name)}", {"password": password, "tags": self.tag})
        self._send(
            "PUT",
            f"/permissions/{_q(name)}/{_q(name)}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        self.prove(name, password)
        return Outputs(
            env={"AMQP_URL": self.url_for(name, password)},
            state={"vhost": name, "user": name},
            message="exists" if vhost is not None and user is not None else "vhost and user ready",
        )

    def destroy(self, *, instance_id: str) -> None:
        try:
            self._destroy(_q(instance_id))
        except Unreachable as exc:
            log.warning("%s; the orphan sweep removes %s once it answers", exc.detail, instance_id)

    def _destroy(self, name: str) -> None:
        vhost, user = self._get(f"/vhosts/{name}"), self._get(f"/users/{name}")
        if vhost is not None and self.tag in _tags(vhost):
            self._send("DELETE", f"/vhosts/{name}", None)
        if user is not None and self.tag in _tags(user):
            self._send("DELETE", f"/users/{name}", None)

    def reset(self, *, instance_id: str) -> None:
        """Pristine: every queue of the demo's vhost is purged (its messages are gone); the
        vhost, its user, limits and declared queues stay, so the demo's credentials keep working."""
        name = _q(instance_id)
        vhost = self._get(f"/vhosts/{name}")
        if vhost is None or self.tag not in _tags(vhost):
            return  # gone (ensure makes it again), or not ours: never touch it
        queues = self._send("GET", f"/queues/{name}?columns=name", None)
        for queue in queues if isinstance(queues, list) else []:
            if queue.get("name"):  # a queue deleted meanwhile answers 404: nothing to purge
                self._send("DELETE", f"/queues/{name}/{_q(str(queue['name']))}/contents", None)

    def probe(self, *, instance_id: str) -> Health:
        if self._get(f"/vhosts/{_q(instance_id)}") is None:
            return Health(False, f"no vhost {instance_id}")
        return Health(True, f"vhost {instance_id} exists")

    def owned(self) -> set[str]:
        found: set[str] = set()
        for path in ("/vhosts?columns=name,tags", "/users"):
            listed = self._send("GET", path, None)
            for item in listed if isinstance(listed, list) else []:
                name = str(item.get("name", ""))
                if INSTANCE_ID.match(name) and self.tag in _tags(item):
                    found.add(name)
        return found

    def prove(self, name: str, password: str) -> None:
        """Log in over AMQP into the demo's vhost as its user, as the demo will."""
        failed = amqp_login.login(
            self.url_for(name, password), timeout=self._http.timeout.read or 5
        )
        if failed is not None:
            port = self._amqp.port or (5671 if self._amqp.scheme == "amqps" else 5672)
            raise ProviderError(
                f"RabbitMQ vhost {name}: AMQP login as {name} at {self._amqp.hostname}:{port} "
                f"failed: {failed}"
            )

    def doctor(self) -> list[Finding]:
        """`guest` (administrator, password `guest` by default) must be absent or loopback-only."""
        check = "rabbitmq guest"
        try:
            guest = self._get("/users/guest")
        except DemoError as exc:
            return [Finding("warn", check, f"could not be checked: {exc.detail}")]
        if guest is None:
            return [Finding("ok", check, "RabbitMQ has no `guest` user")]
        port = self._amqp.port or 5672
        outward = amqp_login.outward_address()
        timeout = self._http.timeout.read or 5
        if outward is not None:
            remote = amqp_login.login(f"amqp://guest:guest@{outward}:{port}/", timeout=timeout)
            if remote is None:
                return [
                    Finding(
                        "fail",
                        check,
                        f"RabbitMQ lets `guest`/`guest` in from {outward}, a non-loopback "
                        "address: anyone who reaches it administers every demo's vhost",
                        "`rabbitmqctl delete_user guest` (or keep `loopback_users.guest = true`)",
                    )
                ]
        host = self._amqp.hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") and (
            amqp_login.login(f"amqp://guest:guest@{host}:{port}/", timeout=timeout) is None
        ):
            return [
                Finding(
                    "warn",
                    check,
                    "`guest`/`guest` is loopback-only, but the broker is on this host: demos of "
                    "the local runtime run here too and can log in as `guest`",
                    "`rabbitmqctl delete_user guest` after giving the orchestrator its own "
                    "administrator in DEMO_RABBITMQ_MANAGEMENT_URL",
                )
            ]
        return [Finding("ok", check, "`guest` is loopback-only or has another password")]

    def close(self) -> None:
        self._http.close()

    # -- helpers -------------------------------------------------------------------------------

    def url_for(self, user: str, password: str) -> str:
        port = self._amqp.port or (5671 if self._amqp.scheme == "amqps" else 5672)
        return f"{self._amqp.scheme}://{user}:{password}@{self._amqp.hostname}:{port}/{_q(user)}"

    def _get(self, path: str) -> dict[str, Any] | None:
        found = self._send("GET", path, None, missing_ok=True)
        return found if isinstance(found, dict) else None

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, *, missing_ok: bool = True
    ) -> Any:
        where = f"RabbitMQ management API at {redact(self._mgmt_url)}"
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"{where} did not answer {method} {path.split('?')[0]} in time"
            ) from exc
        except httpx.TransportError as exc:
            raise Unreachable(f"{where} is unreachable ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{where} failed ({type(exc).__name__})") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code in (401, 403):
            raise PermanentError(
                f"{where} refused the credentials of DEMO_RABBITMQ_MANAGEMENT_URL "
                f"({response.status_code}); the user needs the administrator tag"
            )
        if response.status_code >= 400:
            reason = response.text[:200].replace("\n", " ")
            error = PermanentError if response.status_code in (400, 405) else ProviderError
            raise error(f"{where}: {method} {path} answered {response.status_code}: {reason}")
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            return {}


def _q(name: str) -> str:
    return quote(name, safe="")


def _tags(item: dict[str, Any]) -> list[str]:
    tags = item.get("tags") or []
    if isinstance(tags, str):
        return [t.strip() for t in tags.split(",") if t.strip()]
    return [str(t) for t in tags]
