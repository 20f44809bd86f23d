"""`incident-bot db backup|verify|restore`: a consistent copy of the WAL database while the bot writes."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.backup import BackupError, backup, restore, verify
from bot.cli import main
from storage.db import current_revision, make_engine, make_sessions, upgrade
from storage.models import Incident, TimelineEvent

FILLER = "x" * 4000  # rows big enough that a backup takes a while


async def declare(sessions: async_sessionmaker[AsyncSession], title: str) -> int:
    """What a declaration writes in one transaction: the incident and its first event."""
    async with sessions() as session, session.begin():
        incident = Incident(
            title=title, slug=title, severity="P2", status="declared", summary=FILLER
        )
        session.add(incident)
        await session.flush()
        session.add(TimelineEvent(incident_id=incident.id, kind="declared", text=title))
    return incident.id


def consistent(path: Path) -> int:
    """The number of incidents in ``path``, after checking each has exactly its one event."""
    with sqlite3.connect(path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM incidents ORDER BY id")]
        events = dict(
            conn.execute("SELECT incident_id, count(*) FROM timeline_events GROUP BY incident_id")
        )
    assert ids == list(range(1, len(ids) + 1))
    assert events == dict.fromkeys(ids, 1)
    return len(ids)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "incident-bot.sqlite3"
    upgrade(path)
    return path


async def test_a_backup_taken_while_the_bot_writes_is_one_consistent_snapshot(
    database: Path, tmp_path: Path
) -> None:
    engine = make_engine(database)
    sessions = make_sessions(engine)
    written = 2000
    async with sessions() as session, session.begin():  # a database with some history
        for n in range(1, written + 1):
            session.add(
                Incident(
                    id=n, title="old", slug="old", severity="P3", status="closed", summary=FILLER
                )
            )
            session.add(TimelineEvent(incident_id=n, kind="declared", text="old"))
    stop = asyncio.Event()

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            await declare(sessions, f"during-{written}")
            written += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    overlapped = 0
    try:
        for attempt in range(5):
            before = written
            copy = await asyncio.to_thread(backup, database, tmp_path / f"copy-{attempt}.sqlite3")
            after = written
            count = consistent(copy.path)
            assert before <= count <= after
            assert copy.incidents == count
            overlapped += after > before
        assert overlapped, "the writer never committed while a backup ran"
    finally:
        stop.set()
        await task
        await engine.dispose()
    assert consistent(database) == written


def test_a_backup_holds_commits_still_in_the_wal_which_a_file_copy_loses(
    database: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_autocheckpoint=0")  # commits stay in incident-bot.sqlite3-wal
        conn.execute(
            "INSERT INTO incidents (title, slug, severity, status, source, declared_at, "
            "escalation_level, updated_at) VALUES ('wal', 'wal', 'P1', 'declared', 'command', "
            "'2026-12-01 00:00:00', 0, '2026-12-01 00:00:00')"
        )
        conn.commit()
        shutil.copy(database, tmp_path / "cp.sqlite3")
        made = backup(database, tmp_path / "backup.sqlite3")
    with sqlite3.connect(tmp_path / "cp.sqlite3") as copied:
        lost = copied.execute("SELECT count(*) FROM incidents").fetchone()[0]
    assert lost == 0  # why `cp` is not a backup
    assert made.incidents == 1
    # One self-contained file: no -wal beside it, and it opens in DELETE mode.
    assert not (tmp_path / "backup.sqlite3-wal").exists()
    with sqlite3.connect(made.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert made.path.stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob(".*partial"))


def test_a_backup_never_overwrites_and_names_what_is_missing(
    database: Path, tmp_path: Path
) -> None:
    existing = tmp_path / "there.sqlite3"
    existing.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="already exists"):
        backup(database, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(BackupError, match="no database there"):
        backup(tmp_path / "nothing.sqlite3", tmp_path / "b.sqlite3")
    with pytest.raises(BackupError, match="no such folder"):
        backup(database, tmp_path / "no" / "b.sqlite3")


def test_verify_refuses_damaged_foreign_and_newer_files(database: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a readable SQLite database"):
        verify(garbage)
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="not an incident-bot database"):
        verify(foreign)
    newer = backup(database, tmp_path / "newer.sqlite3").path
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(BackupError, match="unknown to this version"):
        verify(newer)
    with pytest.raises(BackupError, match="unknown to this version"):
        restore(newer, database)
    assert consistent(database) == 0  # a refused restore leaves the database alone


async def test_restore_puts_the_backup_back_and_keeps_the_database_it_replaced(
    database: Path, tmp_path: Path
) -> None:
    engine = make_engine(database)
    sessions = make_sessions(engine)
    await declare(sessions, "first")
    saved = await asyncio.to_thread(backup, database, tmp_path / "saved.sqlite3")
    await declare(sessions, "second")
    await engine.dispose()  # the bot is stopped for a restore

    restored, kept = restore(saved.path, database)

    assert consistent(database) == restored.incidents == 1
    assert kept is not None and consistent(kept) == 2
    assert current_revision(database) == saved.revision
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    engine = make_engine(database)  # the bot starts on it and writes on
    assert await declare(make_sessions(engine), "third") == 2
    await engine.dispose()


def test_the_db_commands(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "incident-bot.toml"
    config.write_text(f'[storage]\ndatabase = "{database}"\n', encoding="utf-8")
    target = tmp_path / "nightly.sqlite3"

    assert main(["db", "backup", str(target), "--config", str(config)]) == 0
    assert "integrity ok" in capsys.readouterr().out
    assert main(["db", "verify", str(target)]) == 0
    assert f"{target}: integrity ok, schema revision" in capsys.readouterr().out
    assert main(["db", "backup", str(target), "--config", str(config)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["db", "restore", str(target), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"restored {target}" in out and "before-restore-" in out
    assert main(["db", "verify", str(tmp_path / "missing.sqlite3")]) == 2
    assert "no such file" in capsys.readouterr().err
