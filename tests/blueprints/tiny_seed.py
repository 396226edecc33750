"""Seeds the tiny blueprint's SQLite database: `count` items named from a seeded RNG."""

import argparse
import os
import random
import sqlite3

COUNTS = {"agency": 5, "startup": 3, "broken": 1}

parser = argparse.ArgumentParser()
parser.add_argument("--scenario", required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()
path = os.environ["DATABASE_URL"].removeprefix("sqlite:///")
rng = random.Random(args.seed)
db = sqlite3.connect(path)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
db.execute("INSERT INTO meta VALUES ('scenario', ?)", (args.scenario,))
for i in range(COUNTS[args.scenario]):
    db.execute("INSERT INTO items (name) VALUES (?)", (f"item-{rng.randint(1000, 9999)}",))
db.commit()
db.close()
