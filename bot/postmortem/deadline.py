"""The 48-hour rule kept: for a severity that needs a postmortem, durable timers from the
resolution: reminders to the commander before the deadline, and at the deadline
``incident-admin`` told and the breach recorded.

Timers are rows (bot/core/timers.py): scheduled when the incident is resolved and again
at every start for a resolved incident that has none, so a crash between the resolution
and the scheduling loses no deadline. Each carries the resolution it counts from: after a
reopen and a new resolution the old ones exit quietly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.core.clock import Clock
from bot.core.text import from_outside
from bot.core.timers import TimerService
from bot.postmortem.config import PostmortemConfig
from bot.postmortem.rules import PostmortemDue
from bot.triage.base import IncidentEvent
from bot.triage.lifecycle import record
from storage import outbox as outbox_queries
from storage import postmortem as queries
from storage.models import Incident, Timer

log = logging.getLogger(__name__)
REMINDER, DUE = "postmortem_reminder", "postmortem_due"
KINDS = [REMINDER, DUE]
DueOf = Callable[[Incident], PostmortemDue | None]


def reminder_times(
    resolved_at: datetime, due_at: datetime, before: list[timedelta]
) -> list[datetime]:
    """When to remind: ``before`` the deadline, each after the resolution, soonest first."""
    return sorted({due_at - b for b in before if resolved_at < due_at - b < due_at})


@dataclass(frozen=True)
class DeadlineState:
    required: bool
    due_at: datetime | None
    breached_at: datetime | None
    published_at: datetime | None


class DeadlineService:
    def __init__(
        self,
        config: PostmortemConfig,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        notices: ChannelNotices,
        timers: TimerService,
        clock: Clock,
        due_of: DueOf,
        admin_role: str,
        ops_alerts: str,
    ) -> None:
        self._config, self._sessions, self._out = config, sessions, out
        self._notices = notices
        self._timers, self._clock, self._due_of = timers, clock, due_of
        self._admin_role, self._ops_alerts = admin_role, ops_alerts
        timers.register(REMINDER, self._remind)
        timers.register(DUE, self._breach)

    def schedule(self, session: AsyncSession, incident: Incident) -> int:
        """The reminders and the deadline of a resolved incident, in ``session``'s
        transaction (the caller cancels older ones first). The number of timers."""
        due = self._due_of(incident)
        if due is None or due.due_at is None or incident.resolved_at is None:
            return 0
        token = {"resolved_at": incident.resolved_at.isoformat()}
        times = reminder_times(incident.resolved_at, due.due_at, list(self._config.remind_before))
        for at in times:
            self._timers.schedule(
                session, REMINDER, at, incident.id, {**token, "due_at": due.due_at.isoformat()}
            )
        self._timers.schedule(
            session, DUE, due.due_at, incident.id, {**token, "due_at": due.due_at.isoformat()}
        )
        return len(times) + 1

    async def on_event(self, event: IncidentEvent) -> None:
        """Subscribed to IncidentService: resolved → the clock starts; reopened → it stops."""
        if event.kind not in ("resolved", "status_changed"):
            return
        async with self._sessions.begin() as session:
            incident = await queries.hold_incident(session, event.incident.id)
            if incident is None:
                return
            await self._timers.cancel(session, incident.id, KINDS)
            if incident.status == "resolved":
                record_row = await queries.find_record(session, incident.id)
                if record_row is None or record_row.published_at is None:
                    self.schedule(session, incident)

    async def reconcile(self) -> int:
        """At start: every resolved incident still owing its postmortem has its timers."""
        scheduled = 0
        async with self._sessions.begin() as session:
            for incident in await queries.resolved_without_postmortem(session):
                record_row = await queries.find_record(session, incident.id)
                if record_row is not None and record_row.breached_at is not None:
                    continue
                if await queries.pending_timer_count(session, incident.id, KINDS):
                    continue
                if self._due_of(incident) is None:
                    continue
                scheduled += self.schedule(session, incident)
        return scheduled

    async def _current(self, timer: Timer) -> Incident | None:
        """The timer's incident if the timer still counts: resolved since the same moment,
        its postmortem unpublished."""
        async with self._sessions() as session:
            incident = await queries.hold_incident(session, timer.incident_id or 0)
            if incident is None or incident.status != "resolved" or incident.resolved_at is None:
                return None
            if incident.resolved_at.isoformat() != timer.payload.get("resolved_at"):
                return None
            row = await queries.find_record(session, incident.id)
        if row is not None and row.published_at is not None:
            return None
        return incident

    async def _remind(self, timer: Timer) -> None:
        """The reminder and its timeline entry committed together, then posted once."""
        incident = await self._current(timer)
        if incident is None or incident.channel_id is None or await self._overtaken(timer):
            return
        due_at = datetime.fromisoformat(timer.payload["due_at"])
        stamp = int(due_at.timestamp())
        who = f"<@{incident.commander_id}>" if incident.commander_id else "Incident commander"
        async with self._sessions.begin() as session:
            key = f"postmortem-reminder:{timer.id}"
            entry = await outbox_queries.by_key(session, key)
            if entry is None:
                row = await queries.hold_incident(session, incident.id)
                assert row is not None
                entry = await self._notices.add(
                    session,
                    key,
                    incident.channel_id,
                    f"⏰ {who}: the postmortem is due <t:{stamp}:f> (<t:{stamp}:R>). "
                    "`/postmortem status` shows what is still empty; `/postmortem publish` "
                    "when done.",
                    title="Postmortem due",
                    label=f"Incident {incident.id} · postmortem reminder",
                    mention_users=(incident.commander_id,) if incident.commander_id else (),
                    incident_id=incident.id,
                )
                record(
                    session,
                    row,
                    "postmortem_reminder",
                    f"Reminded the commander: postmortem due <t:{stamp}:f>",
                    at=self._clock.now(),
                )
            entry_id = entry.id
        await self._notices.deliver(entry_id)

    async def _overtaken(self, timer: Timer) -> bool:
        """A later reminder, or the deadline itself, of the same resolution is due too (the
        bot was down through both): that one speaks, and this one would only repeat it."""
        async with self._sessions() as session:
            later = await queries.timers_due_after(
                session, timer.incident_id or 0, KINDS, timer.due_at, self._clock.now()
            )
        same = timer.payload.get("resolved_at")
        return any(
            timer_order(t) > timer_order(timer) and t.payload.get("resolved_at") == same
            for t in later
        )

    async def _breach(self, timer: Timer) -> None:
        """The breach, its timeline entry and the notices to ``incident-admin`` committed
        together, then posted: a failed post is retried by the timer, none is said twice."""
        incident = await self._current(timer)
        if incident is None:
            return
        role = self._out.role_id(self._admin_role)
        mention = f"<@&{role}>" if role else f"`@{self._admin_role}`"
        where = f"<#{incident.channel_id}>" if incident.channel_id else f"incident {incident.id}"
        title = from_outside(incident.title, 100) or "untitled"
        text = (
            f"⚠️ {mention}: the postmortem of {where} ({title}) was due "
            f"<t:{int(timer.due_at.timestamp())}:f> and is not published. The breach is recorded."
        )
        ops = self._out.text_channel(self._ops_alerts)
        channels = [str(ops.id)] if ops is not None else []
        if incident.channel_id is not None and incident.channel_id not in channels:
            channels.append(incident.channel_id)
        keys = [f"postmortem-breach:{incident.id}:{channel}" for channel in channels]
        async with self._sessions.begin() as session:
            existing = [await outbox_queries.by_key(session, key) for key in keys]
            row = await queries.record_of(session, incident.id)
            if row.breached_at is not None and not any(existing):
                return  # recorded and told by an earlier version: nothing owed
            if row.breached_at is None:
                now = self._clock.now()
                row.breached_at = now
                held = await queries.hold_incident(session, incident.id)
                assert held is not None
                record(
                    session,
                    held,
                    "postmortem_breach",
                    "Postmortem deadline passed unpublished",
                    at=now,
                )
            entries = [
                await self._notices.add(
                    session,
                    key,
                    channel,
                    text,
                    title="Postmortem deadline passed",
                    colour=0xED4245,
                    label=f"Incident {incident.id} · postmortem breach",
                    mention_roles=(role,) if role else (),
                    incident_id=incident.id,
                )
                for key, channel in zip(keys, channels, strict=True)
            ]
            entry_ids = [entry.id for entry in entries]
        for entry_id in entry_ids:
            await self._notices.deliver(entry_id)

    async def state(self, incident: Incident) -> DeadlineState:
        due = self._due_of(incident)
        async with self._sessions() as session:
            row = await queries.find_record(session, incident.id)
        return DeadlineState(
            due is not None,
            due.due_at if due else None,
            row.breached_at if row else None,
            row.published_at if row else None,
        )


def timer_order(timer: Timer) -> tuple[datetime, bool, int]:
    """Which of a resolution's timers comes later: by time, then the deadline after the
    reminders, then the order they were scheduled in (the same time after a restore)."""
    return (timer.due_at, timer.kind == DUE, timer.id)
