"""The commands a demo's Redis ACL user may run, derived from the live server's command table.

A fixed deny list (`-@dangerous -keys -scan`) misses what it never heard of: `SCRIPT FLUSH`,
`FUNCTION LOAD`, `DBSIZE` and `PUBSUB CHANNELS` were all allowed, and each new Redis version adds
commands. So the rules are computed from `COMMAND` (each command's key specifications, flags and
ACL categories, subcommands included) and are an ALLOW list, `-@all` then `+` each command:

- a command with key specifications (a key is not a channel) is allowed: Redis checks every key
  it names against the user's `~<prefix>*` pattern, so it cannot touch another demo's keys;
- the top-level pub/sub verbs (PUBLISH, SUBSCRIBE, SSUBSCRIBE, ...) are allowed: Redis checks
  their channels against `&<prefix>*`;
- keyless commands of the `@connection` and `@transaction` categories act on the caller's own
  connection (PING, HELLO, CLIENT SETNAME, MULTI, ...) and are allowed;
- `SELECT` is allowed for the demo's own database number only (`+select|<db>`);
- everything else is denied: every `@admin` or `@dangerous` command (FLUSHALL, CONFIG, DEBUG,
  MONITOR, CLIENT LIST/KILL, SORT with its BY/GET patterns, MIGRATE, ...) and every keyless
  command, since without a key it reads or changes server-wide state: SCRIPT *, FUNCTION *,
  DBSIZE, KEYS, RANDOMKEY, INFO, PUBSUB CHANNELS/NUMSUB/NUMPAT, WAIT, ... SCAN is denied too:
  its MATCH pattern is the client's choice and Redis does not filter its answer by the ACL, so it
  lists every demo's key names (a demo keeps a set of its own keys instead);
- a keyed command whose keys this server fails to check in some call shape is denied: at start
  the provider asks `ACL DRYRUN` (as a throwaway user) whether each keyed command, with another
  prefix's key in every argument, is refused; Redis 7.0 lets `PFMERGE other:key` through (with
  a destination and no source its key specs yield no key), so PFMERGE is denied there;
- two keyed commands are denied because they cross databases, whose keys the teardown (SCAN of
  the demo's database) would never find: MOVE and COPY (its DB option); and CLIENT TRACKING,
  whose BCAST PREFIX mode reports changes to other demos' keys by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CROSS_DATABASE = frozenset({"move", "copy"})
KNOWN_LEAKS = frozenset({"client|tracking"})
OWN_CONNECTION = frozenset({"connection", "transaction"})


@dataclass(frozen=True)
class Verdict:
    command: str  # `get`, or `script|flush` for a subcommand
    allowed: bool
    reason: str
    arity: int
    keyed: bool


def commands(table: list[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Every (sub)command of a raw `COMMAND` reply, as (`name` or `container|sub`, entry);
    a container itself (`script`, `client`) is not a rule of its own."""
    for entry in table:
        subcommands = entry[9] if len(entry) > 9 else []
        if subcommands:
            for sub in subcommands:
                yield str(sub[0]).lower(), sub
        else:
            yield str(entry[0]).lower(), entry


def judge(name: str, entry: list[Any]) -> Verdict:
    arity = int(entry[1])
    categories = {str(c).lstrip("@") for c in entry[6]} if len(entry) > 6 else set()
    specs = entry[8] if len(entry) > 8 else []
    keyed = any("not_key" not in [str(f) for f in spec.get("flags", [])] for spec in specs) or (
        not specs and int(entry[3]) > 0
    )

    def verdict(allowed: bool, reason: str) -> Verdict:
        return Verdict(name, allowed, reason, arity, keyed)

    if categories & {"admin", "dangerous"}:
        return verdict(False, "admin or dangerous")
    if name in CROSS_DATABASE:
        return verdict(False, "crosses databases")
    if name in KNOWN_LEAKS:
        return verdict(False, "reveals other demos' key names")
    if keyed:
        return verdict(True, "keys confined by the prefix")
    if "|" not in name and "pubsub" in categories:
        return verdict(True, "channels confined by the prefix")
    if name != "select" and categories & OWN_CONNECTION:
        return verdict(True, "acts on its own connection")
    return verdict(False, "keyless: server-wide state")


def judge_all(table: list[Any]) -> list[Verdict]:
    return [judge(name, entry) for name, entry in commands(table)]


def rules(table: list[Any], *, database: int, unchecked: frozenset[str] = frozenset()) -> list[str]:
    """`-@all` then `+` every allowed (sub)command but those whose keys the server does not
    check (`unchecked`), and `SELECT` of the demo's database only."""
    allowed = sorted(
        v.command for v in judge_all(table) if v.allowed and v.command not in unchecked
    )
    return ["-@all", *(f"+{c}" for c in allowed), f"+select|{database}"]


def sample_argv(name: str, entry: list[Any], key: str) -> list[str]:
    """The (sub)command with `key` in every argument, as many as its arity asks; key specs
    that search for a keyword or read a key count get them, so the keys are where Redis looks."""
    words = name.split("|")
    argv = words + [key] * max(0, abs(int(entry[1])) - len(words))
    for spec in entry[8] if len(entry) > 8 else []:
        begin, find = spec.get("begin_search", {}), spec.get("find_keys", {})
        if begin.get("type") == "keyword":
            argv = [*argv, str(begin["spec"]["keyword"]), key, key]
        if find.get("type") == "keynum":
            position = int(begin.get("spec", {}).get("index", 0)) + int(find["spec"]["keynumidx"])
            argv = argv + [key] * max(0, position + 3 - len(argv))
            argv[position] = "1"
    return argv
