"""Migrates (`--migrate`) or seeds the tiny-cache blueprint's database, SQLite or PostgreSQL."""

import argparse
import os
import random

COUNTS = {"agency": 5, "startup": 3}

parser = argparse.ArgumentParser()
parser.add_argument("--migrate", action="store_true")
parser.add_argument("--scenario")
parser.add_argument("--seed", type=int)
args = parser.parse_args()
url = os.environ["DATABASE_URL"]
if url.startswith("sqlite:///"):
    import sqlite3

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    mark = "?"
    serial = "INTEGER PRIMARY KEY"
else:
    import psycopg

    db = psycopg.connect(url)
    mark = "%s"
    serial = "SERIAL PRIMARY KEY"
if args.migrate:
    db.execute(f"CREATE TABLE items (id {serial}, name TEXT NOT NULL)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
else:
    rng = random.Random(args.seed)
    db.execute(f"INSERT INTO meta VALUES ('scenario', {mark})", (args.scenario,))
    for _ in range(COUNTS[args.scenario]):
        db.execute(
            f"INSERT INTO items (name) VALUES ({mark})", (f"item-{rng.randint(1000, 9999)}",)
        )
db.commit()
db.close()
