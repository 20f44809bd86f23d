"""The alert writer's BEGIN IMMEDIATE tries again every millisecond, not on SQLite's
backing-off busy handler (whose 50 and 100 ms sleeps made the webhook's accept p99 read
106 ms at 200 req/s while the bot's other sessions wrote). A real SQLite file; the
other writer is a second connection; the time is injected, nothing here sleeps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.alerts import writes


def _other_writer(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    other.execute("BEGIN IMMEDIATE")  # holds the write lock until it commits
    other.execute("INSERT INTO t VALUES (1)")
    return other


@pytest.fixture
def pair(tmp_path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """Another connection holding the write lock, and the alert writer's connection."""
    path = tmp_path / "bot.sqlite3"
    return _other_writer(path), writes.connect_writer(path)


def _busy_timeout(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA busy_timeout").fetchone()[0]


def test_begin_polls_every_millisecond_and_gets_the_lock_once_it_is_free(pair):
    other, writer = pair
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            other.execute("COMMIT")  # the other session's transaction ends

    writes.begin_immediate(writer, sleep=sleep)

    assert sleeps == [writes.BEGIN_POLL] * 3
    assert writer.in_transaction
    writer.execute("INSERT INTO t VALUES (2)")
    writer.execute("COMMIT")
    assert sorted(r[0] for r in writer.execute("SELECT x FROM t")) == [1, 2]
    assert _busy_timeout(writer) == writes.BUSY_TIMEOUT_MS  # the statements' wait is back


def test_a_lock_held_past_the_busy_timeout_is_database_is_locked(pair):
    other, writer = pair
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds * 100  # the injected clock runs fast: 5 s in 50 tries

    with pytest.raises(sqlite3.OperationalError) as raised:
        writes.begin_immediate(writer, sleep=sleep, monotonic=lambda: now[0])

    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert now[0] >= writes.BUSY_TIMEOUT_MS / 1000
    assert not writer.in_transaction
    assert _busy_timeout(writer) == writes.BUSY_TIMEOUT_MS
    other.execute("COMMIT")


def test_in_transaction_waits_on_the_poll_not_on_sqlites_busy_handler(pair, monkeypatch):
    """The whole transaction: the job runs and commits after the other writer's commit."""
    other, writer = pair
    polled: list[float] = []

    def sleep(seconds: float) -> None:
        polled.append(seconds)
        other.execute("COMMIT")

    monkeypatch.setattr(writes.time, "sleep", sleep)  # the thread's sleep, for this test

    writes.in_transaction(writer, lambda c: c.execute("INSERT INTO t VALUES (3)"))

    assert polled == [writes.BEGIN_POLL]
    assert not writer.in_transaction
    assert sorted(r[0] for r in other.execute("SELECT x FROM t")) == [1, 3]
