"""Notifications are committed before the webhook answers 2xx.

Requests arriving together share one transaction (group commit): each waits
for the commit that holds its row, so throughput grows with load while every
2xx still means "on disk". A failed commit fails every request in it, and the
sender retries.

A signed request carries a replay key (bot/alerts/auth.py): the same signed request
again within the replay window is answered with the first one's id and not stored
a second time, whether it comes in the same batch or after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from bot.alerts.writer import Writer
from bot.core.clock import Clock
from storage import alerts as queries

log = logging.getLogger(__name__)
MAX_BATCH = 500
_Item = tuple[str, str, str | None, "asyncio.Future[int]"]


class StoreUnavailable(Exception):
    """The notification could not be committed; nothing was stored."""


class NotificationStore:
    def __init__(
        self,
        writer: Writer,
        on_stored: Callable[[], None] | None = None,
        *,
        replay_window: timedelta = timedelta(minutes=5),
        clock: Clock | None = None,
    ) -> None:
        self._writer = writer
        self._on_stored = on_stored
        self._replay_window = replay_window
        self._clock = clock or Clock()
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def add(self, source: str, body: str, replay_key: str | None = None) -> int:
        """Commit one notification; its id once it is durable (the first one's, for a replay)."""
        if self._closed:
            raise StoreUnavailable("the bot is shutting down")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queue.put_nowait((source, body, replay_key, future))
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
                stored = await self._insert(batch)
            except asyncio.CancelledError:
                _fail(batch, StoreUnavailable("the bot is shutting down"))
                raise
            except Exception as error:
                log.error("could not store %d alert notification(s): %s", len(batch), error)
                _fail(batch, StoreUnavailable(type(error).__name__))
                continue
            for (source, *_, future), (row_id, new) in zip(batch, stored, strict=True):
                if not new:
                    log.info(
                        "a replayed signed %s request: answered with notification %d",
                        source,
                        row_id,
                    )
                if not future.done():
                    future.set_result(row_id)
            if self._on_stored is not None:
                self._on_stored()

    async def _insert(self, batch: list[_Item]) -> list[tuple[int, bool]]:
        now = self._clock.now()
        received, since = queries.db_time(now), queries.db_time(now - self._replay_window)
        assert received is not None and since is not None
        rows = [(source, body, key) for source, body, key, _ in batch]
        return await self._writer.run(
            lambda connection: queries.insert_notifications(connection, rows, received, since)
        )

    async def pending(self) -> int:
        return await self._writer.read(queries.pending_count)

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


def _fail(batch: list[_Item], error: Exception) -> None:
    for *_, future in batch:
        if not future.done():
            future.set_exception(error)


def _retrieve(future: asyncio.Future[int]) -> None:
    """Read the outcome, so a sender that hung up leaves no "never retrieved" warning."""
    if not future.cancelled():
        future.exception()
