"""Queries of the alert tables (alert_notifications, alert_groups, alerts).

Two kinds: functions taking an ``AsyncSession`` (the worker's reads and small
writes), and functions taking a ``sqlite3.Connection``, run inside one
transaction on the alert writer's thread (bot/alerts/writer.py) for the hot
writes: the webhook's group commits and the worker's apply rounds.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime


def db_time(moment: datetime | None) -> str | None:
    """How ``storage.types.UTCDateTime`` stores a moment (SQLAlchemy's SQLite format)."""
    if moment is None:
        return None
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f")


# -- notifications (the webhook's writes) ------------------------------------------------------
NotificationRow = tuple[str, str, str | None]  # source, body, replay key


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
        connection.executemany(
            "INSERT INTO alert_notifications (source, received_at, body, state, replay_key) "
            "VALUES (?, ?, ?, 'pending', ?)",
            [(source, received_at, body, key) for _, (source, body, key) in fresh],
        )
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
