"""The worker's second step: ``opening`` groups become incidents.

Each open runs in a task of its own (at most ``OPEN_CONCURRENCY`` at once), started
at most one per ``alerts.open_every``, through ``IncidentService.declare`` with the
group's numbered request key (:func:`bot.alerts.rules.request_key`), so a retry or
a restart never opens a second channel and a slow Discord holds no one back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts import rules
from bot.alerts.metrics import AlertMetrics
from bot.alerts.rules import GROUP_STATES, GroupState
from bot.alerts.steps import Schedule
from bot.alerts.writer import Writer
from bot.core.clock import Clock
from bot.errors import UserError
from bot.settings import Config
from bot.triage.service import Declared, IncidentService
from storage import alerts as queries
from storage.alerts import reads
from storage.models import AlertGroup

log = logging.getLogger(__name__)

OPEN_CONCURRENCY = 4  # incidents being opened at once (each paced by alerts.open_every)


class Opener:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        incidents: IncidentService,
        writer: Writer,
        metrics: AlertMetrics,
        clock: Clock,
        schedule: Schedule,
    ) -> None:
        self._config = config.alerts
        self._sessions = sessions
        self._incidents = incidents
        self._writer = writer
        self._write_lock = writer.lock
        self._metrics = metrics
        self._clock = clock
        self._schedule = schedule
        self.opening: dict[int, asyncio.Task[None]] = {}  # group id → its open under way
        self.next_open: datetime | None = None

    async def stop(self) -> None:
        tasks = list(self.opening.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.opening.clear()

    async def open_next(self) -> bool:
        """Start opening the next due group, at most one per ``alerts.open_every``.

        A group being opened is never started twice, and its request key finds the same
        incident after a restart: never two channels per group.
        """
        if len(self.opening) >= OPEN_CONCURRENCY:
            return False  # a finishing open wakes the worker
        now = self._clock.now()
        # One hop to the writer's thread: this is on the way from an alert to its page.
        found = await self._writer.read(reads.next_opening(self.opening, now))
        group = found.group
        if group is None:
            if found.retry_at is not None:
                self._schedule.waiting = True
            return False
        if self.next_open is not None and now < self.next_open:
            self._schedule.waiting = True  # paced: at most one new channel per interval
            return False
        self.next_open = now + self._config.open_every
        number = rules.next_incident_number(group.source, group.group_key, found.previous_key)
        task = asyncio.create_task(
            self._open(group, found.first_start, number), name=f"alert-open-{group.id}"
        )
        self.opening[group.id] = task
        return True

    async def _open(self, group: AlertGroup, started: datetime | None, number: int) -> None:
        try:
            await self._declare(group, started, number)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("opening the incident of alert group %s failed", group.id)
        finally:
            self.opening.pop(group.id, None)
            self._schedule.mark("open")
            self._schedule.wake()

    async def _declare(self, group: AlertGroup, started: datetime | None, number: int) -> None:
        try:
            # Alerts dedupe by group and never hold a duplicate title back
            # (hold_duplicates stays off): the answer is always a declaration.
            declared = cast(
                Declared,
                await self._incidents.declare(
                    None,
                    group.title,
                    group.severity or self._config.default_severity,
                    group.summary,
                    request_key=rules.request_key(group.source, group.group_key, number),
                    source="alert",
                    down_since=rules.down_since(started, self._clock.now()),
                ),
            )
        except UserError as error:
            # Discord refused for good (a full server or category, say): list it instead.
            log.warning("alert group %s gets a digest entry, not a channel: %s", group.id, error)
            async with self._write_lock, self._sessions.begin() as session:
                row = await queries.group(session, group.id)
                row.state = GROUP_STATES.check(row.state, GroupState.DIGEST).value
                row.notes, row.last_error = [], str(error)[:2000]
                row.digest_message_id = None
            self._metrics.digest_entries.labels(group.source).inc()
            self._schedule.mark("digest")
            return
        except Exception as error:
            attempts = group.open_attempts + 1
            delay = rules.open_retry(attempts)
            log.warning(
                "could not open the incident of alert group %s (attempt %d, next in %.0f s): %s",
                group.id,
                attempts,
                delay.total_seconds(),
                error,
            )
            async with self._write_lock, self._sessions.begin() as session:
                row = await queries.group(session, group.id)
                row.open_attempts = attempts
                row.next_attempt_at = self._clock.now() + delay
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
            return
        async with self._write_lock, self._sessions.begin() as session:
            row = await queries.group(session, group.id)
            row.state = GROUP_STATES.check(row.state, GroupState.OPEN).value
            row.incident_id, row.last_error = declared.incident.id, None
            row.open_attempts, row.next_attempt_at = 0, None
        self._schedule.mark("notes")
