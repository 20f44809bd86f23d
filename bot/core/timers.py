"""Durable timers: deadlines are rows, so a restart fires each overdue one once.

A timer is scheduled inside the caller's transaction (with the state change
that made it necessary) and cancelled the same way. The runner claims a due
timer (pending → firing) before calling its handler, marks it done after, and
retries a failing handler with backoff. Handlers re-check the incident's state,
so a superseded timer (already acknowledged, already resolved) exits quietly.

Time is the injected :class:`~bot.core.clock.Clock`'s: the runner waits with
``clock.wait``, so a test's ``ManualClock.advance`` wakes it. A kind registered with
``on_failure`` is told when its handler fails (each failure, with whether it was the
last try), so a failing page reaches a person instead of only the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.backoff import Backoff
from bot.core.clock import Clock
from storage import timers as queries
from storage.models import Timer

log = logging.getLogger(__name__)

Handler = Callable[[Timer], Awaitable[None]]
# (the timer, what went wrong, whether it was the last try)
FailureHandler = Callable[[Timer, str, bool], Awaitable[None]]
MAX_ATTEMPTS = 6
IDLE_POLL = 30.0  # seconds between looks at the table when nothing is due
RETRY = Backoff(initial=timedelta(seconds=2), cap=timedelta(seconds=60))


class TimerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock | None = None,
        fence: Callable[[], int | None] | None = None,  # the lease's token (bot/replica/)
    ) -> None:
        self._sessions = sessions
        self._clock = clock or Clock()
        self._fence = fence
        self._handlers: dict[str, Handler] = {}
        self._on_failure: dict[str, FailureHandler] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def register(
        self, kind: str, handler: Handler, on_failure: FailureHandler | None = None
    ) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for timer kind {kind!r} is already registered")
        self._handlers[kind] = handler
        if on_failure is not None:
            self._on_failure[kind] = on_failure

    def schedule(
        self,
        session: AsyncSession,
        kind: str,
        due_at: datetime,
        incident_id: int | None = None,
        payload: dict | None = None,
    ) -> Timer:
        """Add a timer to ``session``'s transaction; the runner sees it once committed."""
        timer = Timer(
            kind=kind,
            due_at=due_at,
            incident_id=incident_id,
            payload=payload or {},
            created_at=self._clock.now(),
        )
        session.add(timer)
        event.listen(session.sync_session, "after_commit", self._on_commit, once=True)
        return timer

    async def cancel(
        self, session: AsyncSession, incident_id: int, kinds: Iterable[str] | None = None
    ) -> int:
        """Cancel an incident's pending timers (of ``kinds``), in ``session``'s transaction."""
        return await queries.cancel(session, incident_id, kinds)

    def _on_commit(self, _session: object) -> None:
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        async with self._sessions.begin() as session:
            await queries.rearm_firing(session)
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
                next_due = self._clock.now() + timedelta(seconds=1)
            delay = IDLE_POLL
            if next_due is not None:
                delay = min(delay, max(0.0, (next_due - self._clock.now()).total_seconds()))
            await self._clock.wait(self._wake, delay)

    async def _fire_due(self) -> datetime | None:
        now = self._clock.now()
        token = None if self._fence is None else self._fence()
        if self._fence is not None and token is None:
            return None  # not the active replica (any more): the one holding the lease fires
        async with self._sessions() as session:
            for timer in await queries.due(session, now):
                if await queries.claim(session, timer.id, token):
                    await session.commit()
                    task = asyncio.create_task(self._fire(timer), name=f"timer-{timer.id}")
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            return await queries.next_due(session, now)

    async def _fire(self, timer: Timer) -> None:
        handler = self._handlers.get(timer.kind)
        state, error, retry_at = "done", None, None
        attempts = timer.attempts + 1  # the claim counted this one
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
                if attempts >= MAX_ATTEMPTS:
                    state = "failed"
                    log.exception("timer %s (%s) failed for good", timer.id, timer.kind)
                else:
                    state = "pending"
                    retry_at = self._clock.now() + RETRY.delay(attempts)
                    log.warning("timer %s (%s) failed, retrying: %s", timer.id, timer.kind, error)
        values: dict = {"state": state, "last_error": error}
        if state == "done":
            values["fired_at"] = self._clock.now()
        if retry_at is not None:
            values["due_at"] = retry_at
        async with self._sessions.begin() as session:
            await queries.settle(session, timer.id, values)
        self._wake.set()
        on_failure = self._on_failure.get(timer.kind)
        if error is not None and on_failure is not None:
            timer.attempts = attempts
            try:
                await on_failure(timer, error, state == "failed")
            except Exception:
                log.exception("could not report the failure of timer %s (%s)", timer.id, timer.kind)
