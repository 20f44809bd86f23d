"""The alert writer's jobs on PostgreSQL: a ``sqlite3.Connection``-shaped view of a connection.

The hot writes (storage/alerts/writes.py) are written once, in DB-API style with ``?``
placeholders, for the SQLite writer thread. On PostgreSQL the same jobs run inside
``AsyncConnection.run_sync`` on a connection of the asyncpg pool, through this view:
``?`` becomes ``$n``, a moment given as ``db_time`` text is handed over as the
datetime it stands for (asyncpg types its parameters), and an ``INSERT``'s new id
comes from ``RETURNING id`` instead of SQLite's ``lastrowid``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

_MARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _MARK.sub(number, sql)


def _value(value: Any) -> Any:
    moment = getattr(value, "moment", None)  # storage.alerts.writes.DbTime
    return value if moment is None else moment


class PgCursor:
    def __init__(self, rows: list[Sequence[Any]], lastrowid: int | None = None) -> None:
        self._rows = rows
        self.lastrowid = lastrowid

    def fetchone(self) -> Sequence[Any] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Sequence[Any]]:
        return self._rows


class PgConnection:
    """Enough of ``sqlite3.Connection`` for the alert writer's jobs."""

    returns_ids = True  # an INSERT's ids come back with it (no "max(id)" after a batch)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction()

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> PgCursor:
        values = tuple(_value(v) for v in parameters)
        inserting = sql.lstrip().upper().startswith("INSERT") and "RETURNING" not in sql.upper()
        statement = _numbered(sql) + (" RETURNING id" if inserting else "")
        result = self._connection.exec_driver_sql(statement, values)
        if inserting:
            new_id = result.scalar()
            return PgCursor([], int(new_id) if new_id is not None else None)
        if not result.returns_rows:
            return PgCursor([])
        return PgCursor([tuple(row) for row in result.fetchall()])

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        batch = [tuple(_value(v) for v in row) for row in rows]
        if batch:
            self._connection.exec_driver_sql(_numbered(sql), batch)
