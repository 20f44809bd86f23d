"""``incident-bot db backup|verify|restore``: copies of the SQLite file, made safely.

The database runs in WAL mode: recent commits live in ``<db>-wal`` until a checkpoint
moves them into the main file, so copying the main file alone (``cp``, a volume snapshot
of that one file) can lose them or catch a page half-written. SQLite's online backup API
reads through a connection instead: it copies one committed snapshot while the bot goes
on writing (a WAL reader blocks no writer), and the copy is written as a single
self-contained file (journal mode DELETE, no ``-wal`` beside it) that is checked before it
takes its name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from storage.db import alembic_config, is_postgres, upgrade

if TYPE_CHECKING:
    from bot.settings import Settings


# The database is PostgreSQL's to copy: its own tools do it consistently while the bot
# runs, and the team that runs the server already runs them.
POSTGRES_REFUSAL = (
    "[storage] database_url names PostgreSQL: `db backup` and `db restore` copy the SQLite "
    "file only. Back it up with PostgreSQL's own tools (pg_dump --format=custom, or the "
    "server's base backups and WAL archive), restore with pg_restore into an empty "
    "database, then `incident-bot db upgrade`"
)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Checked:
    """What a verified copy holds."""

    path: Path
    revision: str
    incidents: int
    size: int

    def __str__(self) -> str:
        return (
            f"{self.path}: integrity ok, schema revision {self.revision}, "
            f"{self.incidents} incident(s), {self.size} bytes"
        )


def add_commands(db: argparse._SubParsersAction[argparse.ArgumentParser], config: Path) -> None:
    """``db backup PATH``, ``db verify PATH``, ``db restore PATH`` (wired by ``bot.cli``)."""
    backup_cmd = db.add_parser(
        "backup", help="copy the database consistently, also while the bot runs"
    )
    backup_cmd.add_argument("path", type=Path, help="the new file (never overwritten)")
    backup_cmd.add_argument("--config", type=Path, default=config)
    verify_cmd = db.add_parser("verify", help="check a backup: integrity and schema revision")
    verify_cmd.add_argument("path", type=Path)
    restore_cmd = db.add_parser(
        "restore", help="replace the database by a backup (stop the bot first)"
    )
    restore_cmd.add_argument("path", type=Path, help="a file made by `db backup`")
    restore_cmd.add_argument("--config", type=Path, default=config)


def run_command(args: argparse.Namespace, load: Callable[[Path], Settings | None]) -> int:
    """``db backup|verify|restore PATH``; a problem is one line on stderr and exit status 2."""
    try:
        if args.db_command == "verify":
            print(verify(args.path))
            return 0
        settings = load(args.config)
        if settings is None:
            return 2
        if is_postgres(settings.database):
            raise BackupError(POSTGRES_REFUSAL)
        if args.db_command == "backup":
            print(backup(settings.database_path, args.path))
            return 0
        restored, kept = restore(args.path, settings.database_path)
    except BackupError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"restored {args.path}: {restored}")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    return 0


def backup(database: Path, target: Path) -> Checked:
    """Copy ``database`` to ``target`` (a new file) through SQLite's online backup API."""
    if not database.is_file():
        raise BackupError(f"{database}: no database there (check [storage] database)")
    if target.exists():
        raise BackupError(f"{target} already exists; name a new file (a backup never overwrites)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    partial = target.with_name(f".{target.name}.partial")
    try:
        # Created 0600 before SQLite opens it: incident records are not for every local user.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        with _connect(database) as source, _connect(partial) as copy:
            # One step (pages=-1): one read transaction, so one committed snapshot, however
            # much the bot writes meanwhile.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        checked = verify(partial)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return Checked(target, checked.revision, checked.incidents, checked.size)


def verify(path: Path) -> Checked:
    """Integrity, and a schema revision this version knows; BackupError says what is wrong."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with _connect(path) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"{path}: damaged ({'; '.join(problems[:5])})")
            revision = _revision(conn, path)
            (incidents,) = conn.execute("SELECT count(*) FROM incidents").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a readable SQLite database ({error})") from None
    _known_revision(revision, path)
    return Checked(path, revision, int(incidents), path.stat().st_size)


def restore(source: Path, database: Path) -> tuple[Checked, Path | None]:
    """Replace ``database`` by the backup ``source``; the replaced one is kept beside it.

    The bot must be stopped: it holds its state in memory as well. Returns the restored
    file's check and where the previous database was kept (None when there was none).
    """
    verify(source)
    if database.exists() and database.resolve() == source.resolve():
        raise BackupError(f"{source} is the database itself; name a backup file")
    kept: Path | None = None
    if database.is_file():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = backup(database, database.with_name(f"{database.name}.before-restore-{stamp}")).path
    database.parent.mkdir(parents=True, exist_ok=True)
    # Through SQLite, not by copying files: the live file's -wal and -shm stay coherent.
    with _connect(source) as backup_conn, _connect(database) as live:
        backup_conn.backup(live, pages=-1)
    upgrade(database)  # WAL again, and an older backup's schema brought to this version
    return verify(database), kept


def _revision(conn: sqlite3.Connection, path: Path) -> str:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        row = None
    if not row:
        raise BackupError(f"{path}: not an incident-bot database (no schema revision)")
    return str(row[0])


def _known_revision(revision: str, path: Path) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(path))
    try:
        known = scripts.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"{path}: schema revision {revision} is unknown to this version "
            "(a backup from a newer incident-bot? upgrade the bot first)"
        )


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
