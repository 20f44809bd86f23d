"""Notifications are committed before the webhook answers 2xx.

Requests arriving together share one transaction (group commit): each waits
for the commit that holds its row, so throughput grows with load while every
2xx still means "on disk". A failed commit fails every request in it, and the
sender retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import AlertNotification
from storage.types import utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500
_TABLE = AlertNotification.__table__
_Item = tuple[str, str, "asyncio.Future[int]"]


class StoreUnavailable(Exception):
    """The notification could not be committed; nothing was stored."""


class NotificationStore:
    def __init__(self, engine: AsyncEngine, on_stored: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_stored = on_stored
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def add(self, source: str, body: str) -> int:
        """Commit one notification; its id once it is durable."""
        if self._closed:
            raise StoreUnavailable("the bot is shutting down")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queue.put_nowait((source, body, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="alert-store")
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
        now = utcnow()
        rows = [
            {"source": source, "body": body, "state": "pending", "received_at": now}
            for source, body, _ in batch
        ]
        async with self._engine.begin() as connection:
            result = await connection.execute(
                insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True), rows
            )
            return list(result.scalars())

    async def pending(self) -> int:
        async with self._engine.connect() as connection:
            return int(
                await connection.scalar(
                    select(func.count()).select_from(_TABLE).where(_TABLE.c.state == "pending")
                )
                or 0
            )

    async def close(self, timeout: float = 5.0) -> None:
        """Refuse new notifications, finish the commits under way."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is None or writer.done():
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout)
        except TimeoutError:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)


def _fail(batch: list[_Item], error: Exception) -> None:
    for *_, future in batch:
        if not future.done():
            future.set_exception(error)


def _retrieve(future: asyncio.Future[int]) -> None:
    """Read the outcome, so a sender that hung up leaves no "never retrieved" warning."""
    if not future.cancelled():
        future.exception()
