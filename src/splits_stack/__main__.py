"""Command line: `python -m splits_stack serve|migrate|seed|rep-link` (the contract with the
orchestrator, and standalone use).

Imports are deferred into each command so that `serve` only pays for what it uses.

Standalone use: `python -m splits_stack serve --port 8080` with no environment at all serves
`./splits-network.db` (seeded with the agency scenario on first start), the portal at
http://portal.localhost:8080 and the candidate app at http://candidate.localhost:8080. Nothing
answers without a session: `python -m splits_stack rep-link --base http://portal.localhost:8080`
prints the rep's one-click sign-in link (for the settings in the environment, by default login
secret `splits-dev` and instance `standalone`), which leads to the persona picker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="splits_stack", description="Splits Network reference stack"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the portal, candidate app and JSON API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    sub.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    seed = sub.add_parser("seed", help="migrate and seed DATABASE_URL with a scenario")
    seed.add_argument("--scenario", default="agency", choices=["agency", "enterprise", "startup"])
    seed.add_argument("--seed", type=int, default=42)
    link = sub.add_parser("rep-link", help="print the rep's one-click sign-in link")
    link.add_argument("--base", default="http://portal.localhost:8080", help="the portal's URL")
    args = parser.parse_args(argv)

    from splits_stack.config import load_settings

    settings = load_settings()
    if args.command == "rep-link":  # printed for the person asking, never logged
        from splits_stack.services.identity import rep_token

        token = rep_token(settings.login_secret, settings.instance_id)
        print(f"{args.base.rstrip('/')}/auth/rep-login?token={token}")
        return 0
    if args.command == "serve":
        from splits_stack.web.server import serve as run_server

        run_server(settings, args.host, args.port)
        return 0

    from splits_stack.db import make_engine

    engine = make_engine(settings.database_url)
    started = time.perf_counter()
    if args.command == "migrate":
        from splits_stack.migrate import upgrade

        upgrade(engine)
        print(json.dumps({"migrated": True, "seconds": round(time.perf_counter() - started, 3)}))
    else:
        from splits_stack.seed.run import seed as run_seed

        counts = run_seed(engine, args.scenario, args.seed)
        print(
            json.dumps(
                {
                    "scenario": args.scenario,
                    "seed": args.seed,
                    "seconds": round(time.perf_counter() - started, 3),
                    "rows": counts,
                }
            )
        )
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
