"""Settings of one running stack, read once from the environment the orchestrator sets.

A plain frozen dataclass rather than pydantic-settings: it keeps start-up imports small, and the
stack must also run standalone with nothing but (optionally) DATABASE_URL set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SECRET = "splits-dev"


def normalise_database_url(url: str) -> str:
    """Map `postgresql://` / `postgres://` to SQLAlchemy's psycopg 3 driver; leave others alone."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_database_url() -> str:
    path = Path(os.environ.get("SPLITS_HOME", ".")).resolve() / "splits-network.db"
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None = None
    redis_prefix: str = "splits"
    amqp_url: str | None = None
    instance_id: str = "standalone"
    scenario: str = ""
    login_secret: str = DEFAULT_SECRET
    url_portal: str = ""
    url_candidate: str = ""
    prospect_company: str = ""
    prospect_industry: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=normalise_database_url(env.get("DATABASE_URL") or default_database_url()),
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=(env.get("REDIS_PREFIX") or "splits").rstrip(":"),
            amqp_url=env.get("AMQP_URL") or None,
            instance_id=env.get("DEMO_INSTANCE_ID") or "standalone",
            scenario=env.get("DEMO_SCENARIO", ""),
            login_secret=env.get("DEMO_LOGIN_SECRET") or DEFAULT_SECRET,
            url_portal=(env.get("DEMO_URL_PORTAL") or "").rstrip("/"),
            url_candidate=(env.get("DEMO_URL_CANDIDATE") or "").rstrip("/"),
            prospect_company=(env.get("DEMO_PROSPECT_COMPANY") or "").strip(),
            prospect_industry=(env.get("DEMO_PROSPECT_INDUSTRY") or "").strip(),
        )
