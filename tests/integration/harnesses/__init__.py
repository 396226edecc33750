"""One harness per registered provider, for the contract suite in test_provider_contract.py; the
suite fails when a registered entry point has none (see `base.py` for what a harness says)."""

from __future__ import annotations

from tests.integration.harnesses.base import SECRET, Foreign, Harness, NotApplicable, World
from tests.integration.harnesses.databases import POSTGRES, SUPABASE
from tests.integration.harnesses.embedded import LOCAL, SQLITE
from tests.integration.harnesses.kubernetes import KUBERNETES
from tests.integration.harnesses.messaging import RABBITMQ, REDIS

HARNESSES = {h.name: h for h in (LOCAL, SQLITE, POSTGRES, SUPABASE, REDIS, RABBITMQ, KUBERNETES)}

__all__ = ["HARNESSES", "SECRET", "Foreign", "Harness", "NotApplicable", "World"]
