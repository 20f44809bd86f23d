"""Notifications are committed before the webhook answers 2xx.

Requests arriving together share one transaction (group commit): each waits
for the commit that holds its row, so throughput grows with load while every
2xx still means "on disk". A failed commit fails every request in it, and the
sender retries.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from bot.alerts.writer import Writer, db_time
from storage.types import utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500
_Item = tuple[str, str, "asyncio.Future[int]"]


class StoreUnavailable(Exception):
    """The notification could not be committed; nothing was stored."""


class NotificationStore:
    def __init__(self, writer: Writer, on_stored: Callable[[], None] | None = None) -> None:
        self._writer = writer
        self._on_stored = on_stored
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def add(self, source: str, body: str) -> int:
        """Commit one notification; its id once it is durable."""
        if self._closed:
            raise StoreUnavailable("the bot is shutting down")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queue.put_nowait((source, body, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write(), name="alert-store")
        # The commit goes on even if the sender hangs up: a stored, unanswered
        # notification is only applied once more when it is sent again.
        return await asyncio.shield(future)

    async def _write(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                ids = await self._insert(batch)
            except asyncio.CancelledError:
                _fail(batch, StoreUnavailable("the bot is shutting down"))
                raise
            except Exception as error:
                log.error("could not store %d alert notification(s): %s", len(batch), error)
                _fail(batch, StoreUnavailable(type(error).__name__))
                continue
            for (*_, future), row_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(row_id)
            if self._on_stored is not None:
                self._on_stored()

    async def _insert(self, batch: list[_Item]) -> list[int]:
        now = db_time(utcnow())
        rows = [(source, now, body) for source, body, _ in batch]
        return await self._writer.run(lambda connection: _insert(connection, rows))

    async def pending(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            query = "SELECT count(*) FROM alert_notifications WHERE state = 'pending'"
            return int(connection.execute(query).fetchone()[0])

        return await self._writer.read(count)

    async def close(self, timeout: float = 5.0) -> None:
        """Refuse new notifications, finish the commits under way."""
        self._closed = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _insert(connection: sqlite3.Connection, rows: list[tuple[str, str | None, str]]) -> list[int]:
    connection.executemany(
        "INSERT INTO alert_notifications (source, received_at, body, state) "
        "VALUES (?, ?, ?, 'pending')",
        rows,
    )
    # The transaction holds SQLite's write lock: the batch's rowids are the last ones.
    last = int(connection.execute("SELECT max(id) FROM alert_notifications").fetchone()[0])
    return list(range(last - len(rows) + 1, last + 1))


def _fail(batch: list[_Item], error: Exception) -> None:
    for *_, future in batch:
        if not future.done():
            future.set_exception(error)


def _retrieve(future: asyncio.Future[int]) -> None:
    """Read the outcome, so a sender that hung up leaves no "never retrieved" warning."""
    if not future.cancelled():
        future.exception()
