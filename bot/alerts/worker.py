"""The alert worker: stored notifications become alert groups, incidents, notes and a digest.

One task runs the steps in rounds, so none of them races with itself:

1. **Apply** pending notifications (bot/alerts/apply.py).
2. **Open** ``opening`` groups, each in a task of its own (bot/alerts/opening.py).
3. **Post notes** of open groups in their incident channels (bot/alerts/notes.py).
4. **Digest** storm entries into the ops-alerts channel (bot/alerts/notes.py).

The rules they apply (which incident, when a storm, when a group opens again, how
retries back off) are plain functions in bot/alerts/rules.py. Time comes from the
injected clock: pacing, the storm window and backoffs move with a ManualClock in
tests. Every step starts from rows, so a restart finishes what the last run left.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.alerts.apply import APPLY_BATCH, Applier
from bot.alerts.metrics import AlertMetrics
from bot.alerts.notes import DigestPoster, NotesPoster
from bot.alerts.opening import Opener
from bot.alerts.steps import Schedule
from bot.alerts.writer import Writer
from bot.core.clock import Clock
from bot.core.outbox import Outbox
from bot.core.render import Renderer
from bot.settings import Config
from bot.triage.oncall import OnCallService
from bot.triage.service import IncidentService
from storage import alerts as queries

log = logging.getLogger(__name__)

# Between rounds while notifications keep coming, so one round takes the many that came
# meanwhile in one transaction. The first notification after a quiet spell is applied at
# once (no linger): the alert → ping latency is the time to a commander's ping.
FLOW_LINGER = 0.05
CHECKPOINT_EVERY = timedelta(seconds=1)  # between WAL checkpoints while alerts are written
IDLE_POLL = 30.0
BUSY_POLL = 1.0  # at most this long between looks while work waits on time


class AlertWorker:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        incidents: IncidentService,
        discord: DiscordOut,
        oncall: OnCallService,
        renderer: Renderer,
        metrics: AlertMetrics,
        writer: Writer,
        clock: Clock | None = None,
        notices: ChannelNotices | None = None,
    ) -> None:
        # The hot writes go through the writer's thread in one hop each; the other
        # writes take its lock, so neither waits at SQLite's lock.
        self._sessions = sessions
        self._clock = clock or Clock()
        self._wake = asyncio.Event()
        self.schedule = Schedule(wake=self.wake)
        self.applier = Applier(config, writer, metrics, self._clock, self.schedule)
        self.opener = Opener(
            config, sessions, incidents, writer, metrics, self._clock, self.schedule
        )
        self.notes = NotesPoster(
            config, sessions, discord, renderer, writer, self._clock, self.schedule
        )
        # The digest's chunks are notices (posted once); the composition root passes the
        # bot's own (its outbox is the one recovered at start and fenced by the lease).
        notices = notices or ChannelNotices(sessions, Outbox(sessions, self._clock), discord)
        self.digest = DigestPoster(
            config,
            sessions,
            discord,
            oncall,
            renderer,
            writer,
            self._clock,
            self.schedule,
            notices,
        )
        self._task: asyncio.Task[None] | None = None
        self._commits_since_checkpoint = 0
        self._next_checkpoint: datetime | None = None
        self.rounds = 0  # rounds finished: tests wait for a round, not for time

    # -- running -------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="alert-worker")

    async def stop(self) -> None:
        await self.opener.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            applied = 0
            try:
                busy, applied = await self._round()
                await self._checkpoint()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the alert worker failed a round; trying again in 1 s")
                busy, self.schedule.waiting = False, True
            self.rounds += 1
            if busy:
                # A full batch: a backlog, go on. A partial one: a steady flow, so wait a
                # little and take the next round's notifications in one transaction.
                await asyncio.sleep(0 if applied >= APPLY_BATCH else FLOW_LINGER)
                continue
            if not await self._clock.wait(self._wake, self._delay()):
                self.schedule.sweep()  # a timed sweep: pacing, backoff and retries come due

    async def step(self) -> bool:
        """One round; True when something was done (the loop goes again at once)."""
        busy, _ = await self._round()
        return busy

    async def apply_pending(self, limit: int = APPLY_BATCH) -> bool:
        """The apply step alone; True when there were notifications to apply."""
        applied = await self.applier.apply_pending(limit)
        if applied:
            self._commits_since_checkpoint += 1
        return bool(applied)

    async def _round(self) -> tuple[bool, int]:
        schedule = self.schedule
        schedule.waiting = False
        applied = await self.applier.apply_pending()
        if applied:
            self._commits_since_checkpoint += 1
        busy = bool(applied)
        for name, run in (
            ("open", self.opener.open_next),
            ("notes", self.notes.post),
            ("digest", self.digest.post),
        ):
            if name in schedule.due:
                done = await run()
                busy |= done
                if not done and not schedule.waiting:
                    schedule.due.discard(name)
        return busy, applied

    async def _checkpoint(self) -> None:
        """Move the WAL into the database now and then, outside the write lock.

        The alert connections never checkpoint on commit (a 202 must not wait for a
        checkpoint's fsync); PASSIVE neither waits for nor blocks the other writers.
        """
        now = self._clock.now()
        if self._commits_since_checkpoint == 0 or (
            self._next_checkpoint is not None and now < self._next_checkpoint
        ):
            return
        self._next_checkpoint = now + CHECKPOINT_EVERY
        self._commits_since_checkpoint = 0
        async with self._sessions() as session:
            await queries.checkpoint(session)

    def _delay(self) -> float:
        if not self.schedule.waiting:
            return IDLE_POLL
        now = self._clock.now()
        deadlines = [
            self.opener.next_open,
            self.digest.next_digest,
            self.notes.next_due,
            *self.notes.retry_at.values(),
        ]
        upcoming = [(d - now).total_seconds() for d in deadlines if d is not None and d > now]
        return max(0.01, min([BUSY_POLL, *upcoming]))
