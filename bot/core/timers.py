"""Durable timers: deadlines are rows, so a restart fires each overdue one once.

A timer is scheduled inside the caller's transaction (with the state change
that made it necessary) and cancelled the same way. The runner claims a due
timer (pending → firing) before calling its handler, marks it done after, and
retries a failing handler with backoff. Handlers re-check the incident's state,
so a superseded timer (already acknowledged, already resolved) exits quietly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Timer
from storage.types import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[Timer], Awaitable[None]]
MAX_ATTEMPTS = 6
IDLE_POLL = 30.0  # seconds between looks at the table when nothing is due


class TimerService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for timer kind {kind!r} is already registered")
        self._handlers[kind] = handler

    def schedule(
        self,
        session: AsyncSession,
        kind: str,
        due_at: datetime,
        incident_id: int | None = None,
        payload: dict | None = None,
    ) -> Timer:
        """Add a timer to ``session``'s transaction; the runner sees it once committed."""
        timer = Timer(kind=kind, due_at=due_at, incident_id=incident_id, payload=payload or {})
        session.add(timer)
        event.listen(session.sync_session, "after_commit", self._on_commit, once=True)
        return timer

    async def cancel(
        self, session: AsyncSession, incident_id: int, kinds: Iterable[str] | None = None
    ) -> int:
        """Cancel an incident's pending timers (of ``kinds``), in ``session``'s transaction."""
        query = (
            update(Timer)
            .where(Timer.incident_id == incident_id, Timer.state == "pending")
            .values(state="cancelled")
        )
        if kinds is not None:
            query = query.where(Timer.kind.in_(list(kinds)))
        result = cast(CursorResult[Any], await session.execute(query))  # an UPDATE's result
        return result.rowcount or 0

    def _on_commit(self, _session: object) -> None:
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        async with self._sessions.begin() as session:
            # A crash between claim and done leaves "firing": run those again.
            await session.execute(
                update(Timer).where(Timer.state == "firing").values(state="pending")
            )
        self._task = asyncio.create_task(self._run(), name="timers")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_due = await self._fire_due()
            except Exception:
                log.exception("timer runner failed; retrying in 1 s")
                next_due = utcnow() + timedelta(seconds=1)
            delay = IDLE_POLL
            if next_due is not None:
                delay = min(delay, max(0.0, (next_due - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def _fire_due(self) -> datetime | None:
        now = utcnow()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(Timer)
                    .where(Timer.state == "pending", Timer.due_at <= now)
                    .order_by(Timer.due_at)
                    .limit(100)
                )
            ).all()
            for timer in due:
                claimed = cast(  # an UPDATE's result
                    CursorResult[Any],
                    await session.execute(
                        update(Timer)
                        .where(Timer.id == timer.id, Timer.state == "pending")
                        .values(state="firing", attempts=Timer.attempts + 1)
                    ),
                )
                if claimed.rowcount:
                    await session.commit()
                    task = asyncio.create_task(self._fire(timer), name=f"timer-{timer.id}")
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            upcoming = await session.scalar(
                select(Timer.due_at)
                .where(Timer.state == "pending", Timer.due_at > now)
                .order_by(Timer.due_at)
                .limit(1)
            )
        return upcoming

    async def _fire(self, timer: Timer) -> None:
        handler = self._handlers.get(timer.kind)
        state, error, retry_at = "done", None, None
        if handler is None:
            state, error = "failed", f"no handler for timer kind {timer.kind!r}"
            log.error("timer %s: %s", timer.id, error)
        else:
            try:
                await handler(timer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                attempts = timer.attempts + 1
                if attempts >= MAX_ATTEMPTS:
                    state = "failed"
                    log.exception("timer %s (%s) failed for good", timer.id, timer.kind)
                else:
                    state = "pending"
                    retry_at = utcnow() + timedelta(seconds=min(60, 2**attempts))
                    log.warning("timer %s (%s) failed, retrying: %s", timer.id, timer.kind, error)
        values: dict = {"state": state, "last_error": error}
        if state == "done":
            values["fired_at"] = utcnow()
        if retry_at is not None:
            values["due_at"] = retry_at
        async with self._sessions.begin() as session:
            await session.execute(
                update(Timer).where(Timer.id == timer.id, Timer.state == "firing").values(**values)
            )
        self._wake.set()
