"""The alert tables' writer: one thread, one SQLite connection, one transaction per call.

The webhook's commits and the worker's apply rounds are the hot writes. Each
is a whole transaction run in a single hop to this thread (``BEGIN IMMEDIATE``
… ``COMMIT``, well under a millisecond of SQLite time), so the two never meet
at SQLite's lock, whose busy handler sleeps in steps of up to 100 ms, and the
event loop is not held between statements. The lock handed in is the one the
worker's other (SQLAlchemy) writes take, so those wait their turn here too. The rest of
the bot's sessions (incidents, timers, the timeline) do meet it at SQLite's lock: there
BEGIN tries again every millisecond (storage/alerts/writes.py ``begin_immediate``).

Every commit is synced (``synchronous=FULL``): in WAL mode NORMAL survives a
process crash but not an OS crash or power loss, and a 2xx promises "on disk".
The group commit shares that one fsync among every request in the batch. The
connection never checkpoints on commit: a webhook's 202 must not wait for a
checkpoint's fsyncs. The worker checkpoints between rounds instead.

On PostgreSQL the same jobs run on a pooled asyncpg connection, one transaction
each (storage/alerts/pg.py gives them the connection's shape): the server has
row locks and its own WAL and group commit, so there is no thread, no pragma and
no checkpoint; the lock still orders this process's writes as on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import URL, Connection
from sqlalchemy.exc import OperationalError

from storage import alerts as queries
from storage.alerts.pg import PgConnection
from storage.db import Target, make_engine

T = TypeVar("T")


class Writer:
    def __init__(self, target: Target, lock: asyncio.Lock | None = None) -> None:
        self.lock = lock or asyncio.Lock()
        self._engine = make_engine(target) if isinstance(target, URL) else None
        self.path = target if isinstance(target, Path) else None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-writer")
        self._connection: sqlite3.Connection | None = None
        self.write_error: str | None = None  # what the last transaction failed with, if it did

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(connection)`` inside one immediate transaction, committed before returning."""
        async with self.lock:
            try:
                if self._engine is not None:
                    async with self._engine.begin() as connection:
                        result = await connection.run_sync(_as_sqlite(job))
                else:
                    result = await asyncio.get_running_loop().run_in_executor(
                        self._executor, self._transaction, job
                    )
            except (sqlite3.OperationalError, OperationalError, OSError) as error:
                # The database (its disk, its server) refused the write; a job's own
                # error (a constraint, a bug) says nothing about the database.
                self.write_error = f"{type(error).__name__}: {error}"[:200]
                raise
            self.write_error = None
            return result

    async def writes_fail(self) -> str | None:
        """Why writes fail (a full disk), or None. Only after a failed transaction: then a
        one-row write probe (SQLite's header counter, PostgreSQL's transaction id) tells
        whether they work again."""
        if self.write_error is None:
            return None
        with contextlib.suppress(Exception):
            await self.run(_probe if self.path is not None else _pg_probe)
        return self.write_error

    async def read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(connection)`` on the writer's connection, outside any transaction."""
        if self._engine is not None:
            async with self._engine.connect() as connection:
                return await connection.run_sync(_as_sqlite(job))
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, job)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            assert self.path is not None
            self._connection = queries.connect_writer(self.path)
        return self._connection

    def _transaction(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return queries.in_transaction(self._connect(), job)

    def _read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return job(self._connect())

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
        if self._engine is not None:
            await self._engine.dispose()


def _probe(connection: sqlite3.Connection) -> None:
    """A write of the smallest kind: the database header's user version, bumped."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.execute(f"PRAGMA user_version = {(int(version) + 1) % 2**31}")


def _pg_probe(connection: Any) -> None:
    """PostgreSQL's: a transaction id assigned, so its commit is a write (of the WAL)."""
    connection.execute("SELECT txid_current()")


def _as_sqlite(job: Callable[[sqlite3.Connection], T]) -> Callable[[Connection], T]:
    """The job, given the PostgreSQL connection in the shape it was written for."""

    def run(connection: Connection) -> T:
        return job(cast(Any, PgConnection(connection)))

    return run
