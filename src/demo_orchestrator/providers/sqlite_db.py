"""The `sqlite` database provider: a file per demo, copied from a seeded template per scenario.

The template for (blueprint, scenario, fingerprint) is built once by running the blueprint's
migrate and seed commands into a temporary file that is then renamed into place, so a crash never
leaves a half-seeded template. The fingerprint hashes the seed inputs (the commands, the scenario's
seed and the source of the packages the blueprint names), so changing migrations or seed code
builds a new template. Giving a demo its database is then a file copy.

Sandboxed (sandbox.py, as root): the file lives in the demo's private folder, `data/<id>.db`,
owned by the demo's uid, mode 0600, in a folder only that uid may enter (SQLite writes its
journal beside it); `DEMO_HOME/databases/<id>.db` is then a symlink to it, so the orchestrator
finds it where it always did. Files in a folder the demo owns are made without following
symlinks it may have planted.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Self

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import Conflict, PermanentError
from demo_orchestrator.providers.base import (
    DatabaseProvider,
    Health,
    InstanceSpec,
    Outputs,
    ProviderSettings,
)
from demo_orchestrator.providers.fingerprint import template_fingerprint
from demo_orchestrator.providers.sandbox import Lease, Sandbox, SandboxSettings
from demo_orchestrator.providers.seeding import run_data_commands
from demo_orchestrator.settings import Settings


class SqliteDatabase(DatabaseProvider):
    name = "sqlite"
    # No settings of its own: its files live under DEMO_HOME, owned as the sandbox's settings
    # (the local runtime's `DEMO_SANDBOX_*`) say.

    def __init__(self, *, home: Path, sandbox: SandboxSettings | None = None) -> None:
        self.home = home.resolve()
        self.sandbox = Sandbox(self.home, sandbox)
        self.root = self.home / "databases"
        self.templates = self.home / "templates"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.templates.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        return cls(home=settings.home, sandbox=SandboxSettings())

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        lease = self.sandbox.lease(spec.instance_id)
        target = self._real_path(spec.instance_id, lease)
        if lease is not None:
            self._move_in(spec.instance_id, lease, target)
        template = self.template_path(spec.blueprint, spec.scenario)
        state = {"file": target.name, "template": template.name}  # the same on every call
        if target.is_file() and target.stat().st_size > 0:
            return Outputs(env=self._env(target), state=state, message="exists")
        if spec.scenario.based_on is None:
            self.prepare_template(blueprint=spec.blueprint, scenario=spec.scenario)
        elif not template.is_file():
            raise PermanentError(
                f"saved template {spec.scenario.name} has been deleted; create the demo from "
                f"{spec.scenario.based_on} or another template"
            )
        self._template_record(spec.instance_id).write_text(str(template))
        self._copy(template, target, lease)
        return Outputs(
            env=self._env(target), state=state, message=f"cloned from template {template.name}"
        )

    def reset(self, *, instance_id: str) -> None:
        """Pristine in one atomic swap: a fresh copy of the template the demo was cloned from
        (named in `<id>.db.template`) is renamed over its file, so a service that still runs
        never finds the file missing (SQLite would make an empty one) nor half-copied; its open
        connections keep the old file until it reloads or restarts. With no template recorded
        (a database from an older version): destroy, and `ensure` clones afresh."""
        lease = self.sandbox.find(instance_id)
        target = self._real_path(instance_id, lease)
        try:
            template = Path(self._template_record(instance_id).read_text().strip())
        except FileNotFoundError:
            template = None
        if template is None or not template.is_file() or not target.is_file():
            self.destroy(instance_id=instance_id)
            return
        self._copy(template, target, lease)
        for suffix in ("-wal", "-shm", "-journal"):  # they belonged to the data just replaced
            Path(str(target) + suffix).unlink(missing_ok=True)

    def _template_record(self, instance_id: str) -> Path:
        return self.root / f"{instance_id}.db.template"

    def destroy(self, *, instance_id: str) -> None:
        lease = self.sandbox.find(instance_id)
        for base in {self.path_of(instance_id), self._real_path(instance_id, lease)}:
            for suffix in ("", "-wal", "-shm", "-journal", ".partial", ".template"):
                Path(str(base) + suffix).unlink(missing_ok=True)
        if lease is not None:
            self.sandbox.release_if_unused(instance_id)  # kept while its processes live

    def _move_in(self, instance_id: str, lease: Lease, target: Path) -> None:
        """A database made before the sandbox (a plain file in DEMO_HOME/databases) moves into
        the demo's private folder, keeping its data, owned by the demo from now on."""
        old = self.path_of(instance_id)
        if old.is_symlink() or not old.is_file() or target.exists():
            return
        self._copy(old, target, lease)  # replaces `old` with the link to `target`
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(old) + suffix).unlink(missing_ok=True)

    def _real_path(self, instance_id: str, lease: Lease | None) -> Path:
        """Where the file is: the private folder of a sandboxed demo, else `path_of`."""
        return lease.data / f"{instance_id}.db" if lease else self.path_of(instance_id)

    def _copy(self, template: Path, target: Path, lease: Lease | None) -> None:
        """A copy of `template` renamed over `target` at once; owned by the demo (0600) and, in
        its private folder, linked from `path_of`."""
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, template.open("rb") as source:
            shutil.copyfileobj(source, out)
            if lease is not None:
                os.fchown(out.fileno(), lease.uid, lease.gid)
        os.replace(tmp, target)
        if lease is not None:
            link = self.path_of(lease.instance_id)
            if not (link.is_symlink() and link.readlink() == target):
                tmp_link = link.with_name(link.name + ".link")
                tmp_link.unlink(missing_ok=True)
                tmp_link.symlink_to(target)
                os.replace(tmp_link, link)

    def probe(self, *, instance_id: str) -> Health:
        target = self.path_of(instance_id)
        if target.is_file() and target.stat().st_size > 0:
            return Health(True, f"database file {target.name} exists")
        return Health(False, f"no database file {target.name}")

    def owned(self) -> set[str]:
        return {p.name.split(".", 1)[0] for p in self.root.glob("demo-*.db*")}

    def path_of(self, instance_id: str) -> Path:
        return self.root / f"{instance_id}.db"

    def template_path(self, blueprint: Blueprint, scenario: Scenario) -> Path:
        if scenario.based_on is not None:
            return self.saved_path(blueprint.name, scenario.name)
        key = template_fingerprint(blueprint, scenario)
        return self.templates / blueprint.name / f"{scenario.name}-{key}.db"

    # -- templates saved from a demo ------------------------------------------------------------

    def saved_path(self, blueprint: str, name: str) -> Path:
        return self.templates / blueprint / "saved" / f"{name}.db"

    def save_template(
        self, *, instance_id: str, blueprint: Blueprint, base: Scenario, name: str
    ) -> dict[str, int]:
        """Copy the live demo's database with SQLite's online backup API: a consistent snapshot
        even while the demo writes (a raw copy of the file could miss what sits in its WAL)."""
        source = self._real_path(instance_id, self.sandbox.find(instance_id))
        if not source.is_file():
            raise Conflict(
                f"{instance_id} has no SQLite database of its own here (a database of another "
                "provider, or in its cluster namespace); nothing to save"
            )
        target = self.saved_path(blueprint.name, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")
                counts = table_counts(dst)
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(tmp, target)
        return counts

    def saved_templates(self) -> set[tuple[str, str]]:
        return {(p.parent.parent.name, p.stem) for p in self.templates.glob("*/saved/*.db")}

    def drop_saved_template(self, *, blueprint: str, name: str) -> None:
        target = self.saved_path(blueprint, name)
        for suffix in ("", "-wal", "-shm", "-journal", ".partial"):
            Path(str(target) + suffix).unlink(missing_ok=True)

    def prepare_template(self, *, blueprint: Blueprint, scenario: Scenario) -> None:
        if scenario.based_on is not None:
            return  # saved from a demo: nothing to build
        path = self.template_path(blueprint, scenario)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock(path), _file_lock(path.with_suffix(".lock")):
            if path.is_file():
                return
            self._build(blueprint, scenario, path)

    def _build(self, blueprint: Blueprint, scenario: Scenario, path: Path) -> None:
        tmp = path.with_name(path.name + ".building")
        tmp.unlink(missing_ok=True)
        try:
            run_data_commands(blueprint, scenario, database_url=f"sqlite:///{tmp}", cwd=path.parent)
        except PermanentError:
            tmp.unlink(missing_ok=True)
            raise
        if not tmp.is_file():
            raise PermanentError(
                f"seeding scenario {scenario.name} produced no database at DATABASE_URL"
            )
        _checkpoint(tmp)
        os.replace(tmp, path)
        for stale in path.parent.glob(f"{scenario.name}-*.db"):
            if stale != path:
                stale.unlink(missing_ok=True)

    @staticmethod
    def _env(target: Path) -> dict[str, str]:
        return {"DATABASE_URL": f"sqlite:///{target}"}

    def _thread_lock(self, path: Path) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(path, threading.Lock())


class _file_lock:
    """An exclusive flock, so two orchestrator processes never build the same template at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def table_counts(connection: sqlite3.Connection) -> dict[str, int]:
    """Rows per table: the counts a saved template shows (the blueprint's come from its seed)."""
    names = [
        str(r[0])
        for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'alembic_version' ORDER BY name"
        )
    ]
    counts: dict[str, int] = {}
    for table in names:
        quoted = '"' + table.replace('"', '""') + '"'
        counts[table] = int(connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
    return counts


def _checkpoint(path: Path) -> None:
    """Fold any WAL into the main file so a plain file copy is a complete database."""
    for suffix in ("-wal", "-shm"):
        if Path(str(path) + suffix).exists():
            break
    else:
        return
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
