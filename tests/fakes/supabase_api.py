"""A local stand-in for the Supabase Management API, backed by real PostgreSQL databases.

The cloud API is not reachable from the tests, so this implements the documented endpoints the
`supabase` provider uses, and backs each "project" (or branch) with a real database and role on
the local server, so migrations and seeds really run and the demo's DATABASE_URL really works:

  GET/POST /v1/projects, GET/DELETE /v1/projects/{ref}, GET /v1/projects/{ref}/health,
  POST /v1/projects/{ref}/database/query, GET /v1/projects/{ref}/api-keys,
  GET/POST /v1/projects/{ref}/branches, GET/DELETE /v1/branches/{id}.

Where a real answer names the cloud host, this one adds what reaches the local database instead
(`database.port/user/name`, `endpoint`, a branch's `db_name`). New projects report COMING_UP for
the first `--coming-up` health polls. Test controls: `POST /_fake/throttle {"count", "reset"}`
answers the next requests 429 with Retry-After / X-RateLimit-Reset; `POST /_fake/delay
{"seconds"}` slows every answer. Run: `python -m tests.fakes.supabase_api --port P --prefix X`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import threading
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

import psycopg
import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from psycopg import sql
from psycopg.rows import dict_row

HEALTHY = "ACTIVE_HEALTHY"


def make_app(*, admin_url: str, prefix: str, token: str, coming_up: int) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()
    projects: dict[str, dict[str, Any]] = {}  # ref -> project (branches too, with "parent")
    controls = {"throttle": 0, "reset": 1.0, "delay": 0.0}
    host = urlsplit(admin_url)

    def admin(dbname: str | None = None) -> psycopg.Connection[Any]:
        kwargs = {"dbname": dbname} if dbname else {}
        return psycopg.connect(admin_url, autocommit=True, **kwargs)

    def public(project: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in project.items() if k not in {"db_pass", "polls"}}

    def make(name: str, password: str, region: str, parent: str | None) -> dict[str, Any]:
        ref = secrets.token_hex(10)[:20]
        db = f"{prefix}_{ref}"
        with admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(db), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(*[sql.Identifier(db)] * 2))
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db))
            )
        project = {
            "id": ref,
            "ref": ref,
            "name": name,
            "region": region,
            "status": "COMING_UP",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "database": {
                "host": host.hostname,
                "version": "15",
                "port": host.port or 5432,
                "user": db,
                "name": db,
            },
            "endpoint": f"http://127.0.0.1/{ref}",
            "parent": parent,
            "db_pass": password,
            "polls": 0,
        }
        projects[ref] = project
        return project

    def drop(project: dict[str, Any]) -> None:
        db = project["database"]["name"]
        with admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db)))

    def get(ref: str) -> dict[str, Any]:
        if ref not in projects:
            raise HTTPException(404, f"project {ref} not found")
        return projects[ref]

    def poll(project: dict[str, Any]) -> str:
        project["polls"] += 1
        if project["polls"] > coming_up:
            project["status"] = HEALTHY
        return str(project["status"])

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/_fake/"):
            return await call_next(request)
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        if controls["delay"]:
            await asyncio.sleep(controls["delay"])
        if controls["throttle"] > 0:
            controls["throttle"] -= 1
            reset = str(controls["reset"])
            return JSONResponse(
                {"message": "Too many requests"},
                status_code=429,
                headers={"Retry-After": reset, "X-RateLimit-Reset": reset},
            )
        return await call_next(request)

    @app.post("/_fake/throttle")
    def throttle(body: dict[str, Any]) -> dict[str, Any]:
        controls["throttle"], controls["reset"] = int(body["count"]), float(body.get("reset", 1))
        return controls

    @app.post("/_fake/delay")
    def delay(body: dict[str, Any]) -> dict[str, Any]:
        controls["delay"] = float(body["seconds"])
        return controls

    @app.get("/v1/projects")
    def list_projects() -> list[dict[str, Any]]:
        return [public(p) for p in projects.values() if p["parent"] is None]

    @app.post("/v1/projects", status_code=201)
    def create_project(body: dict[str, Any]) -> dict[str, Any]:
        for field in ("name", "db_pass", "region", "organization_slug"):
            if not body.get(field):
                raise HTTPException(400, f"{field} is required")
        with lock:
            return public(make(body["name"], body["db_pass"], body["region"], None))

    @app.get("/v1/projects/{ref}")
    def get_project(ref: str) -> dict[str, Any]:
        return public(get(ref))

    @app.delete("/v1/projects/{ref}")
    def delete_project(ref: str) -> dict[str, Any]:
        with lock:
            project = get(ref)
            for child in [p for p in projects.values() if p["parent"] == ref]:
                drop(projects.pop(child["ref"]))
            drop(projects.pop(ref))
        return {"id": ref, "ref": ref, "name": project["name"]}

    @app.get("/v1/projects/{ref}/health")
    def health(ref: str, services: Annotated[list[str], Query()]) -> list[dict[str, Any]]:
        status = poll(get(ref))
        return [{"name": s, "healthy": status == HEALTHY, "status": status} for s in services]

    @app.post("/v1/projects/{ref}/database/query", status_code=201)
    def query(ref: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        project = get(ref)
        try:
            with (
                admin(project["database"]["name"]) as conn,
                conn.cursor(row_factory=dict_row) as cur,
            ):
                cur.execute(body["query"])
                rows: list[dict[str, Any]] = []
                while True:  # the last statement's rows, like the real endpoint
                    rows = cur.fetchall() if cur.description else []
                    if not cur.nextset():
                        break
                return rows
        except psycopg.Error as exc:
            raise HTTPException(400, f"Failed to run sql query: {exc}") from exc

    @app.get("/v1/projects/{ref}/api-keys")
    def api_keys(ref: str) -> list[dict[str, Any]]:
        get(ref)
        return [
            {"name": "anon", "api_key": f"anon-{ref}"},
            {"name": "service_role", "api_key": f"service-{ref}"},
        ]

    @app.get("/v1/projects/{ref}/branches")
    def list_branches(ref: str) -> list[dict[str, Any]]:
        get(ref)
        return [
            {"id": p["ref"], "name": p["name"], "project_ref": p["ref"], "parent_project_ref": ref}
            for p in projects.values()
            if p["parent"] == ref
        ]

    @app.post("/v1/projects/{ref}/branches", status_code=201)
    def create_branch(ref: str, body: dict[str, Any]) -> dict[str, Any]:
        get(ref)
        with lock:
            branch = make(body["branch_name"], secrets.token_hex(12), body.get("region", ""), ref)
        return {"id": branch["ref"], "name": branch["name"], "project_ref": branch["ref"]}

    @app.get("/v1/branches/{branch_id}")
    def get_branch(branch_id: str) -> dict[str, Any]:
        branch = get(branch_id)
        status = poll(branch)
        database = branch["database"]
        return {
            "ref": branch["ref"],
            "status": status,
            "db_host": database["host"],
            "db_port": database["port"],
            "db_user": database["user"],
            "db_pass": branch["db_pass"],
            "db_name": database["name"],
        }

    @app.delete("/v1/branches/{branch_id}")
    def delete_branch(branch_id: str) -> dict[str, Any]:
        with lock:
            drop(projects.pop(get(branch_id)["ref"]))
        return {"message": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--coming-up", type=int, default=1)
    args = parser.parse_args()
    app = make_app(
        admin_url=args.admin_url, prefix=args.prefix, token=args.token, coming_up=args.coming_up
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
