"""The injectable clock: services read the time from it, and tests move it instead of sleeping.

Built once in :func:`bot.services.build_services` and passed down. ``Clock`` is the
wall clock; :class:`ManualClock` stands still until a test calls :meth:`advance`, which
wakes every sleeper whose deadline has passed (the timer runner among them).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any


class Clock:
    """Wall-clock time; the default everywhere outside tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass on this clock; True if it was set."""
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return event.is_set()
        return True


class ManualClock(Clock):
    """A clock that moves only when told to: ``advance(timedelta(minutes=5))``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += delta
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        return self._now

    def _alarm(self, seconds: float) -> asyncio.Future[None]:
        """A future set once the clock passes now + ``seconds`` (registered at once, so an
        ``advance`` right after the call is seen even before anyone awaits it)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if seconds <= 0:
            future.set_result(None)
        else:
            deadline = self._now + timedelta(seconds=seconds)
            heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        return future

    async def sleep(self, seconds: float) -> None:
        alarm = self._alarm(seconds)
        await asyncio.sleep(0)
        await alarm

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        alarm = self._alarm(seconds)
        waiter = asyncio.ensure_future(event.wait())
        pending: set[asyncio.Future[Any]] = {waiter, alarm}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            alarm.cancel()
        return event.is_set()
