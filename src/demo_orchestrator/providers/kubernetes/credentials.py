"""The credentials of one demo's in-namespace data services and its sign-in key.

Derived from `DEMO_SECRET_KEY` when it is set, like the data providers' passwords (see
`providers.ownership.Passwords`): applying a demo again gives the same Secrets, so running pods
keep working. Without a key (a dry run on a laptop), they are random: `democtl render
--show-secrets` then shows values of the right shape, not the ones a cluster would get.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from demo_orchestrator.providers.ownership import Passwords


@dataclass(frozen=True)
class DemoCredentials:
    login_secret: str
    postgres_password: str
    redis_password: str
    rabbitmq_password: str

    def values(self) -> list[str]:
        return [
            self.login_secret,
            self.postgres_password,
            self.redis_password,
            self.rabbitmq_password,
        ]


def demo_credentials(instance_id: str, key: str | None) -> DemoCredentials:
    if key is None:
        return DemoCredentials(
            login_secret=secrets.token_hex(32),
            postgres_password=secrets.token_hex(16),
            redis_password=secrets.token_hex(16),
            rabbitmq_password=secrets.token_hex(16),
        )
    derive = Passwords(key.encode()).of
    return DemoCredentials(
        login_secret=derive("kubernetes", "login", instance_id)
        + derive("kubernetes", "login-2", instance_id),
        postgres_password=derive("kubernetes", "postgres", instance_id),
        redis_password=derive("kubernetes", "redis", instance_id),
        rabbitmq_password=derive("kubernetes", "rabbitmq", instance_id),
    )
