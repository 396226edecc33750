"""The tiny-cache blueprint's service: reports what it can see of its database, cache and broker.

At start it writes `<REDIS_PREFIX>:boot` and publishes a `booted` event to the `events` queue of
its vhost, so a test can find its traces on the real servers. `GET /api/report` answers with the
database it is connected to, its seeded items, the cache keys it can read and the events queued.
"""

import argparse
import json
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
DB = os.environ["DATABASE_URL"]
PREFIX = os.environ.get("REDIS_PREFIX", "")


def database():
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
    if "REDIS_URL" not in os.environ:
        return None
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    try:
        if write:
            client.set(f"{PREFIX}:boot", os.environ.get("DEMO_INSTANCE_ID", "?"))
        client.incr(f"{PREFIX}:hits")
        return {"boot": client.get(f"{PREFIX}:boot"), "hits": int(client.get(f"{PREFIX}:hits"))}
    finally:
        client.close()


def broker(publish=False):
    if "AMQP_URL" not in os.environ:
        return None
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(os.environ["AMQP_URL"]))
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
        self._send(200, {"instance": os.environ.get("DEMO_INSTANCE_ID"), **database()})


cache(write=True)
broker(publish=True)
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
