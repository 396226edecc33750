"""Settings of one running stack, read from the environment the orchestrator sets, or from the
settings file it names (`DEMO_SETTINGS_FILE`, `{"version", "env"}`), which it rewrites before it
asks the stack to reload in place (see `web/gateway.py`).

A plain frozen dataclass rather than pydantic-settings: it keeps start-up imports small, and the
stack must also run standalone with nothing but (optionally) DATABASE_URL set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
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
    # The prospect's share (`<mode>:<nonce>`, empty: not shared) and, for a guided share, the
    # tour as JSON without the rep's talking points (web/share.py).
    share: str = ""
    share_tour: str = ""
    # Reload in place: the file the settings came from, its version, and the token a reload
    # request must carry (none: the stack does not reload, it is restarted with new settings).
    settings_file: str = ""
    settings_version: str = ""
    reload_token: str = ""
    # Engagement reports (services/activity.py): where the orchestrator is and this demo's key.
    orchestrator_url: str = ""
    activity_token: str = ""
    # The rep's guided tour as JSON (contract 2 of issue 15: one object per step), for the
    # in-demo tour panel.
    tour: str = ""

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
            share=env.get("DEMO_SHARE") or "",
            share_tour=env.get("DEMO_SHARE_TOUR") or "",
            settings_file=env.get("DEMO_SETTINGS_FILE") or "",
            reload_token=env.get("DEMO_RELOAD_TOKEN") or "",
            orchestrator_url=(env.get("DEMO_ORCHESTRATOR_URL") or "").rstrip("/"),
            activity_token=env.get("DEMO_ACTIVITY_TOKEN") or "",
            tour=env.get("DEMO_TOUR") or "",
        )


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings from the file the environment names when there is one (what the orchestrator
    wrote last), else from the environment itself."""
    env = dict(os.environ if environ is None else environ)
    path = env.get("DEMO_SETTINGS_FILE")
    if not path:
        return Settings.from_env(env)
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return Settings.from_env(env)
    settings = Settings.from_env({**data["env"], "DEMO_SETTINGS_FILE": path})
    return replace(settings, settings_version=str(data.get("version", "")))
