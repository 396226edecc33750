"""The tiny blueprint's service: answers on both routes with the seeded items, as JSON or HTML.

`POST /items` adds an item (so a test can change data and see `reset` undo it). The `broken`
scenario exits at once, to prove a failing service ends `failed` with nothing left behind.
"""

import argparse
import json
import os
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
if os.environ.get("DEMO_SCENARIO") == "broken":
    print("broken scenario: refusing to start", flush=True)
    sys.exit(3)
DB = os.environ["DATABASE_URL"].removeprefix("sqlite:///")


def items():
    db = sqlite3.connect(DB)
    try:
        return [
            {"id": r[0], "name": r[1]} for r in db.execute("SELECT id, name FROM items ORDER BY id")
        ]
    finally:
        db.close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        print(fmt % a, flush=True)

    def _send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        host = self.headers.get("Host", "")
        if self.path == "/healthz":
            return self._send(200, json.dumps({"status": "ok"}))
        if self.path.startswith("/api/items"):
            rows = items()
            return self._send(
                200,
                json.dumps(
                    {
                        "items": rows,
                        "total": len(rows),
                        "host": host,
                        "instance": os.environ.get("DEMO_INSTANCE_ID"),
                    }
                ),
            )
        route = "candidate" if ".candidate." in host else "portal"
        names = "".join(f"<li>{i['name']}</li>" for i in items())
        self._send(200, f"<h1>tiny {route}</h1><ul>{names}</ul>", "text/html")

    def do_POST(self):
        if self.path == "/items":
            length = int(self.headers.get("Content-Length", 0))
            name = json.loads(self.rfile.read(length) or b"{}").get("name", "new")
            db = sqlite3.connect(DB)
            db.execute("INSERT INTO items (name) VALUES (?)", (name,))
            db.commit()
            db.close()
            return self._send(201, json.dumps({"name": name}))
        self._send(404, "{}")


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
