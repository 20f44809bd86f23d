"""Archiving: a closed incident's channel made read-only and moved to the archive category
(``Incident archive``, then ``Incident archive 2`` … when one holds 50 channels); archived
channels older than ``delete_after`` deleted, but only once their transcript is stored and
their postmortem (where required) is published; #ops-alerts warned past 80% of Discord's
500 channels. The sweep is a durable timer that re-arms itself."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError, UserError
from bot.follow_up.config import FollowUpConfig
from bot.postmortem.rules import requires_postmortem
from bot.procedure import Procedure
from bot.triage.lifecycle import record
from storage import follow_up as queries
from storage import postmortem as pm_queries
from storage import transcript as transcript_queries
from storage.models import Incident, Timer

log = logging.getLogger(__name__)

SWEEP = "followup_archive_sweep"
GUILD_CHANNEL_LIMIT = 500
WARN_AT = 0.8


def deletable(
    archived_at: datetime | None,
    now: datetime,
    config: FollowUpConfig,
    transcript_kept: int,
    needs_postmortem: bool,
    published: bool,
) -> str | None:
    """Why an archived channel may not be deleted yet (None: it may)."""
    if archived_at is None or now - archived_at < config.delete_after:
        return "not old enough"
    if transcript_kept == 0:
        return "its transcript is not stored"
    if needs_postmortem and not published:
        return "its postmortem is not published"
    return None


class Archive:
    def __init__(
        self,
        config: FollowUpConfig,
        procedure: Procedure,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        timers: TimerService,
        clock: Clock,
        ops_alerts: str,
    ) -> None:
        self._config, self._procedure, self._sessions = config, procedure, sessions
        self._out, self._timers, self._clock, self._ops_alerts = out, timers, clock, ops_alerts
        timers.register(SWEEP, self._sweep)

    async def archive(self, incident: Incident) -> str:
        """After a close: the note for the close's answer (a failure is said, not raised:
        the incident stays closed, not archived, and the next sweep tries again)."""
        if incident.channel_id is None:
            return ""
        try:
            category = await self._out.ensure_category(self._config.archive_category)
            await self._out.archive_channel(incident.channel_id, category)
        except (UserError, ExternalServiceError) as error:
            log.warning("incident %s not archived: %s", incident.id, error)
            return f"⚠️ Not archived: {error} It stays where it is; the next sweep tries again."
        async with self._sessions.begin() as session:
            row = await queries.closeout_of(session, incident.id)
            row.archived_at, row.archive_category_id = self._clock.now(), str(category.id)
        await self._warn_if_full()
        return f"The channel is read-only now, in **{category.name}**."

    async def _warn_if_full(self) -> None:
        count = self._out.channel_count()
        if count <= GUILD_CHANNEL_LIMIT * WARN_AT:
            return
        ops = self._out.text_channel(self._ops_alerts)
        if ops is not None:
            await self._out.send(
                str(ops.id),
                content=(
                    f"⚠️ The server has {count} of Discord's {GUILD_CHANNEL_LIMIT} channels "
                    f"(over {int(WARN_AT * 100)}%). Archived incident channels are deleted after "
                    f"{self._config.delete_after.days} days once their transcript and postmortem "
                    "are kept; delete other old channels before new incidents cannot open one."
                ),
            )

    async def arm(self) -> None:
        """At start: the next sweep is scheduled unless one already is."""
        async with self._sessions.begin() as session:
            if await queries.pending_timer(session, SWEEP) is None:
                self._timers.schedule(session, SWEEP, self._clock.now() + self._config.sweep_every)

    async def sweep(self) -> list[int]:
        """Archive closed incidents left unarchived; delete the old archived channels that
        may go. The incidents whose channels were deleted."""
        deleted: list[int] = []
        async with self._sessions() as session:
            rows = await queries.closed_not_deleted(session)
        now = self._clock.now()
        for row, incident in rows:
            if row.archived_at is None:
                await self.archive(incident)
                continue
            async with self._sessions() as session:
                kept = await transcript_queries.count(session, incident.id)
                published = await pm_queries.find_record(session, incident.id)
            why_not = deletable(
                row.archived_at,
                now,
                self._config,
                kept,
                requires_postmortem(self._procedure.severity(incident.severity)),
                bool(published and published.published_commit),
            )
            if why_not is not None:
                continue
            if incident.channel_id is not None:
                await self._out.delete_channel(incident.channel_id, "archived incident, kept")
            async with self._sessions.begin() as session:
                fresh = await queries.closeout_of(session, incident.id)
                fresh.deleted_at = now
                held = await session.get(Incident, incident.id)
                assert held is not None
                record(session, held, "channel_deleted", "Archived channel deleted", at=now)
            deleted.append(incident.id)
        return deleted

    async def _sweep(self, _timer: Timer) -> None:
        try:
            await self.sweep()
            await self._warn_if_full()
        finally:
            async with self._sessions.begin() as session:
                self._timers.schedule(session, SWEEP, self._clock.now() + self._config.sweep_every)
