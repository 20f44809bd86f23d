"""The alert tables' hot writes, run on the alert writer's thread (bot/alerts/writer.py).

Functions taking a ``sqlite3.Connection``, each inside one transaction: the
webhook's group commits and the worker's apply rounds.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from storage.models import Alert, AlertGroup


class DbTime(str):
    """SQLAlchemy's SQLite text for a moment, which still knows the moment (PostgreSQL
    takes the naive UTC datetime itself: storage/alerts/pg.py)."""

    moment: datetime


def db_time(moment: datetime | None) -> str | None:
    """How ``storage.types.UTCDateTime`` stores a moment (SQLAlchemy's SQLite format)."""
    if moment is None:
        return None
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    # The year zero-padded as SQLAlchemy writes it: strftime's %Y writes year 200 as "200".
    text = DbTime(f"{naive.year:04d}-" + naive.strftime("%m-%d %H:%M:%S.%f"))
    text.moment = naive
    return text


# -- the writer's connection ---------------------------------------------------------------------
T = TypeVar("T")


BUSY_TIMEOUT_MS = 5000  # the connection's wait for SQLite's locks, and BEGIN's whole wait
BEGIN_POLL = 0.001  # seconds between two tries of BEGIN IMMEDIATE while another connection writes


def connect_writer(path: Path) -> sqlite3.Connection:
    """The alert writer's connection: every commit synced (FULL), never checkpointing."""
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "synchronous=FULL",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        "wal_autocheckpoint=0",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def in_transaction(connection: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """``job(connection)`` in one immediate transaction, committed before returning."""
    begin_immediate(connection)
    try:
        result = job(connection)
        connection.execute("COMMIT")
    except BaseException:
        # A COMMIT can fail too (a deferred constraint, a full disk, an I/O error) and
        # then leaves the transaction open, holding SQLite's write lock: roll it back,
        # so nothing half-stored stays and the next call starts clean.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def begin_immediate(
    connection: sqlite3.Connection,
    sleep: Callable[[float], None] | None = None,
    monotonic: Callable[[], float] | None = None,
) -> None:
    """BEGIN IMMEDIATE, tried again every millisecond while another connection writes.

    The bot's other writes (incidents, timers, the timeline: SQLAlchemy sessions) hold
    SQLite's write lock a few milliseconds each, often one after another. SQLite's own
    busy handler sleeps 1, 2, 5, … 50, 100 ms between its tries, so a webhook's commit
    that met such a run waited 100 ms and more for a lock that was free most of the time
    (the accept p99 read 106 ms at 200 req/s). Only BEGIN polls: once it holds the lock,
    this transaction's statements wait for nothing but readers' WAL marks, as before.
    """
    sleep, monotonic = sleep or time.sleep, monotonic or time.monotonic
    deadline = monotonic() + BUSY_TIMEOUT_MS / 1000
    connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or monotonic() >= deadline:
                    raise
            sleep(BEGIN_POLL)
    finally:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


# -- notifications (the webhook's writes) ------------------------------------------------------
NotificationRow = tuple[str, str, str | None]  # source, body, replay key
_INSERT_NOTIFICATION = (
    "INSERT INTO alert_notifications (source, received_at, body, state, replay_key) "
    "VALUES (?, ?, ?, 'pending', ?)"
)
_INSERT_NOTIFICATION_WITH_ID = (
    "INSERT INTO alert_notifications (id, source, received_at, body, state, replay_key) "
    "VALUES (?, ?, ?, ?, 'pending', ?)"
)
_DRAW_IDS = (  # PostgreSQL only
    "SELECT nextval(pg_get_serial_sequence('alert_notifications', 'id')) FROM generate_series(1, ?)"
)


def insert_notifications(
    connection: sqlite3.Connection,
    rows: list[NotificationRow],
    received_at: str,
    replay_since: str,
) -> list[tuple[int, bool]]:
    """Store ``rows`` as pending notifications; for each, its id and whether it is new.

    A row whose replay key was stored at or after ``replay_since`` (or earlier in the
    same batch) is not stored again: it gets the first row's id, and ``False``.
    """
    found: dict[str, int] = {}
    fresh: list[tuple[int, NotificationRow]] = []
    answers: list[tuple[int, bool] | None] = []
    for number, row in enumerate(rows):
        key = row[2]
        if key is not None:
            if key not in found:
                earlier = connection.execute(
                    "SELECT id FROM alert_notifications WHERE replay_key = ? AND received_at >= ?"
                    " ORDER BY id LIMIT 1",
                    (key, replay_since),
                ).fetchone()
                if earlier is not None:
                    found[key] = int(earlier[0])
            if key in found:
                answers.append((found[key], False))
                continue
            found[key] = -1 - number  # stored in this batch: its id is known below
        answers.append(None)
        fresh.append((number, row))
    if fresh:
        stored = [(source, received_at, body, key) for _, (source, body, key) in fresh]
        if getattr(connection, "returns_ids", False):
            # PostgreSQL: other replicas insert at the same time, so "the last ids" mean
            # nothing; the batch's ids are drawn from the sequence first, in one round trip.
            drawn = connection.execute(_DRAW_IDS, (len(stored),)).fetchall()
            new_ids = [int(row[0]) for row in drawn]
            connection.executemany(
                _INSERT_NOTIFICATION_WITH_ID,
                [(row_id, *row) for row_id, row in zip(new_ids, stored, strict=True)],
            )
            ids = {number: row_id for (number, _), row_id in zip(fresh, new_ids, strict=True)}
        else:
            connection.executemany(_INSERT_NOTIFICATION, stored)
            # The transaction holds SQLite's write lock: the batch's rowids are the last ones.
            last = int(connection.execute("SELECT max(id) FROM alert_notifications").fetchone()[0])
            first = last - len(fresh) + 1
            ids = {number: first + offset for offset, (number, _) in enumerate(fresh)}
        for number, _ in fresh:
            answers[number] = (ids[number], True)
        for number, answer in enumerate(answers):
            if answer is not None and answer[0] < 0:  # a replay within this very batch
                answers[number] = (ids[-1 - answer[0]], False)
    return [answer for answer in answers if answer is not None]


def pending_count(connection: sqlite3.Connection) -> int:
    query = "SELECT count(*) FROM alert_notifications WHERE state = 'pending'"
    return int(connection.execute(query).fetchone()[0])


# -- the worker's apply round (one transaction on the writer's thread) --------------------------
_INSERT_GROUP = (
    "INSERT INTO alert_groups (source, group_key, state, title, summary, severity,"
    " severity_note, notes, open_attempts, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
_INSERT_ALERT = (
    "INSERT INTO alerts (group_id, fingerprint, name, status, labels, annotations, url,"
    " starts_at, ends_at, fire_count, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class RoundWrite:
    """An apply round's changes, read first and changed in memory, written in bulk."""

    now: datetime
    new_groups: list[AlertGroup] = field(default_factory=list)
    new_alerts: list[tuple[AlertGroup, Alert]] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)  # alert id → fire_count to add
    seen_groups: set[int] = field(default_factory=set)  # group ids whose last_seen moves
    seen_alerts: set[int] = field(default_factory=set)
    changed_alerts: dict[int, Alert] = field(default_factory=dict)  # status changed
    noted_groups: dict[int, AlertGroup] = field(default_factory=dict)  # notes changed
    moved_groups: dict[int, AlertGroup] = field(default_factory=dict)  # state changed
    done: list[int] = field(default_factory=list)  # notification ids applied
    failed: list[tuple[int, str]] = field(default_factory=list)  # (id, error): unreadable

    def job(self) -> Callable[[sqlite3.Connection], list[int]]:
        """The writer's job (built here, on the loop): the new groups' ids once it ran."""
        now = db_time(self.now)
        index = {id(group): number for number, group in enumerate(self.new_groups)}
        new_groups = [
            (
                g.source,
                g.group_key,
                g.state,
                g.title,
                g.summary,
                g.severity,
                g.severity_note,
                json.dumps(g.notes),
                now,
                now,
            )
            for g in self.new_groups
        ]
        new_alerts = [
            (
                index.get(id(group)),
                group.id,
                (
                    a.fingerprint,
                    a.name,
                    a.status,
                    json.dumps(a.labels),
                    json.dumps(a.annotations),
                    a.url,
                    db_time(a.starts_at),
                    db_time(a.ends_at),
                    a.fire_count,
                    now,
                    now,
                ),
            )
            for group, a in self.new_alerts
        ]
        changed = [
            (a.status, db_time(a.starts_at), db_time(a.ends_at), i)
            for i, a in self.changed_alerts.items()
        ]
        seen = [(self.counts.get(i, 0), now, i) for i in self.seen_alerts]
        noted = [(json.dumps(g.notes), i) for i, g in self.noted_groups.items()]
        moved = [
            (
                g.state,
                json.dumps(g.notes),
                g.digest_message_id,
                g.severity,
                g.severity_note,
                g.open_attempts,
                db_time(g.next_attempt_at),
                g.last_error,
                i,
            )
            for i, g in self.moved_groups.items()
        ]
        seen_groups = sorted(self.seen_groups)
        done, failed = list(self.done), list(self.failed)

        def write(connection: sqlite3.Connection) -> list[int]:
            ids = [connection.execute(_INSERT_GROUP, row).lastrowid or 0 for row in new_groups]
            connection.executemany(
                _INSERT_ALERT,
                [(group_id if n is None else ids[n], *row) for n, group_id, row in new_alerts],
            )
            connection.executemany(
                "UPDATE alerts SET status = ?, starts_at = ?, ends_at = ? WHERE id = ?", changed
            )
            connection.executemany(
                "UPDATE alerts SET fire_count = fire_count + ?, last_seen = ? WHERE id = ?", seen
            )
            if seen_groups:
                marks = ",".join("?" * len(seen_groups))
                connection.execute(
                    f"UPDATE alert_groups SET last_seen = ? WHERE id IN ({marks})",
                    [now, *seen_groups],
                )
            connection.executemany("UPDATE alert_groups SET notes = ? WHERE id = ?", noted)
            connection.executemany(
                "UPDATE alert_groups SET state = ?, notes = ?, digest_message_id = ?,"
                " severity = ?, severity_note = ?, open_attempts = ?, next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                moved,
            )
            connection.executemany(
                "UPDATE alert_notifications SET state = 'failed', processed_at = ?, error = ? "
                "WHERE id = ?",
                [(now, message, row_id) for row_id, message in failed],
            )
            if done:
                marks = ",".join("?" * len(done))
                connection.execute(
                    "UPDATE alert_notifications SET state = 'done', processed_at = ? "
                    f"WHERE id IN ({marks})",
                    [now, *done],
                )
            return ids

        return write
