"""The tiny-cache blueprint's service: reports what it can see of its database, cache and broker.

At start it writes `<REDIS_PREFIX>:boot` and publishes a `booted` event to the `events` queue of
its vhost, so a test can find its traces on the real servers. `GET /api/report` answers with the
database it is connected to, its seeded items, the cache keys it can read and the events queued.

It reloads in place (the blueprint's `reload_path`; started with its command, not forked):
`POST /__demo/reload` with its token re-reads the settings file and boots again (the boot key and
event), as a restart would, in the same process.
"""

import argparse
import hmac
import json
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
SETTINGS = dict(os.environ)  # what it serves from; a reload replaces it


def load():
    path = os.environ.get("DEMO_SETTINGS_FILE")
    if path and os.path.exists(path):
        with open(path) as handle:
            data = json.load(handle)
        SETTINGS.clear()
        SETTINGS.update(data["env"])
        return data["version"]
    return ""


VERSION = [load()]


def database():
    DB = SETTINGS["DATABASE_URL"]
    if DB.startswith("sqlite:///"):
        db = sqlite3.connect(DB.removeprefix("sqlite:///"))
        try:
            rows = db.execute("SELECT id, name FROM items ORDER BY id").fetchall()
        finally:
            db.close()
        return {"database": "sqlite", "items": [r[1] for r in rows]}
    import psycopg

    with psycopg.connect(DB) as db:
        name = db.execute("SELECT current_database(), current_user").fetchone()
        rows = db.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    return {"database": name[0], "user": name[1], "items": [r[1] for r in rows]}


def cache(write=False):
    if "REDIS_URL" not in SETTINGS:
        return None
    import redis

    PREFIX = SETTINGS.get("REDIS_PREFIX", "")
    client = redis.Redis.from_url(SETTINGS["REDIS_URL"], decode_responses=True)
    try:
        if write:
            client.set(f"{PREFIX}:boot", SETTINGS.get("DEMO_INSTANCE_ID", "?"))
        client.incr(f"{PREFIX}:hits")
        return {"boot": client.get(f"{PREFIX}:boot"), "hits": int(client.get(f"{PREFIX}:hits"))}
    finally:
        client.close()


def broker(publish=False):
    if "AMQP_URL" not in SETTINGS:
        return None
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(SETTINGS["AMQP_URL"]))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("events", durable=True)
        if publish:
            channel.basic_publish("", "events", b"booted")
            return {"published": True}
        return {"events": queue.method.message_count}
    finally:
        connection.close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        print(fmt % a, flush=True)

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(200, {"status": "ok"})
        if self.path.startswith("/api/report"):
            return self._send(200, {**database(), "cache": cache(), "broker": broker()})
        self._send(200, {"instance": SETTINGS.get("DEMO_INSTANCE_ID"), **database()})

    def do_POST(self):
        if self.path != "/__demo/reload":
            return self._send(404, {})
        token = SETTINGS.get("DEMO_RELOAD_TOKEN", "")
        given = self.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(given, f"Bearer {token}"):
            return self._send(403, {"detail": "wrong token"})
        VERSION[0] = load()
        cache(write=True)
        broker(publish=True)
        self._send(200, {"version": VERSION[0], "pid": os.getpid()})


cache(write=True)
broker(publish=True)
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
