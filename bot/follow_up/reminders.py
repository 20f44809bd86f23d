"""Owners reminded before an item is due and while it is overdue, and the weekly digest of
open items in #ops-alerts: durable timers (bot/core/timers.py), so a restart loses none.

A reminder's handler re-reads its item: one done meanwhile (or gone) exits quietly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.timers import TimerService
from bot.follow_up.config import FollowUpConfig
from bot.follow_up.due import overdue
from bot.follow_up.items import ActionItems, item_line, ordered
from bot.follow_up.reminder_rules import next_digest, reminders
from storage import follow_up as queries
from storage.follow_up import ActionItem
from storage.models import Incident, Timer

REMIND = "followup_remind"
DIGEST = "followup_digest"


class Reminders:
    def __init__(
        self,
        config: FollowUpConfig,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        timers: TimerService,
        clock: Clock,
        zone: ZoneInfo,
        today: Callable[[], date],
        label: Callable[[Incident], str],
        ops_alerts: str,
        locks: IncidentLocks,
    ) -> None:
        self._config, self._sessions, self._out, self._timers = config, sessions, out, timers
        self._locks = locks
        self._clock, self._zone, self._today, self._label = clock, zone, today, label
        self._ops_alerts = ops_alerts
        timers.register(REMIND, self._remind)
        timers.register(DIGEST, self._digest)

    def attach(self, items: ActionItems) -> None:
        items.on_added.append(self.schedule)

    def schedule(self, session: AsyncSession, item: ActionItem) -> None:
        """In the transaction that adds ``item``: its reminders."""
        for kind, at in reminders(
            item.due_on, self._zone, list(self._config.remind_before), self._clock.now()
        ):
            self._timers.schedule(
                session, REMIND, at, item.incident_id, {"item": item.id, "kind": kind}
            )

    async def _remind(self, timer: Timer) -> None:
        item_id = int(timer.payload["item"])
        async with self._sessions() as session:
            item = await queries.item(session, item_id)
            incident = await session.get(Incident, item.incident_id) if item else None
        if item is None or incident is None or item.done_at is not None:
            return  # done meanwhile, or gone: nothing to remind
        today = self._today()
        if timer.payload.get("kind") == "before" and overdue(item.due_on, today):
            return  # fired late (a restart after the due day): the overdue reminder speaks
        late = timer.payload.get("kind") == "overdue" or overdue(item.due_on, today)
        what = "is **overdue**" if late else f"is due <t:{int(timer.due_at.timestamp())}:R>"
        text = (
            f"⏰ <@{item.owner_id}>, your action item {what}: {item_line(item, today)}. "
            f"`/followup done id:{item.id}` when it is done."
        )
        if late:
            await self._repeat(item)
        await self._out.send(self._where(incident), content=text, mention_users=(item.owner_id,))

    async def _repeat(self, item: ActionItem) -> None:
        """The next overdue reminder, committed *before* this one is posted: time passing
        during a slow post does not push it later, and a crash between the two loses
        nothing. A re-fired timer (a retry, a restart) finds it there and adds no second."""
        payload = {"item": item.id, "kind": "overdue"}
        async with self._locks.hold(item.incident_id), self._sessions.begin() as session:
            if await queries.pending_item_timer(
                session, REMIND, item.incident_id, item.id, "overdue"
            ):
                return
            at = self._clock.now() + self._config.overdue_every
            self._timers.schedule(session, REMIND, at, item.incident_id, payload)

    def _where(self, incident: Incident) -> str:
        if incident.channel_id is not None:
            return incident.channel_id
        ops = self._out.text_channel(self._ops_alerts)
        if ops is None:
            raise LookupError(f"no #{self._ops_alerts} channel to remind in")
        return str(ops.id)

    # -- the weekly digest -----------------------------------------------------------------
    async def arm_digest(self) -> None:
        """At start: the next digest is scheduled unless one already is."""
        async with self._sessions.begin() as session:
            if await queries.pending_timer(session, DIGEST) is None:
                self._schedule_digest(session)

    def _schedule_digest(self, session: AsyncSession) -> None:
        at = next_digest(
            self._clock.now(), self._zone, self._config.digest_day, self._config.digest_at
        )
        self._timers.schedule(session, DIGEST, at)

    async def digest_text(self) -> str:
        today = self._today()
        async with self._sessions() as session:
            pairs = await queries.open_items(session)
        if not pairs:
            return "📋 Weekly follow-up digest: no open action items."
        labels = {item.id: self._label(incident) for item, incident in pairs}
        items = ordered([item for item, _ in pairs], today)
        late = sum(1 for i in items if overdue(i.due_on, today))
        head = f"📋 Weekly follow-up digest: {len(items)} open action item" + (
            "s" if len(items) != 1 else ""
        )
        head += f", {late} overdue." if late else "."
        lines = [head, *(f"- {item_line(i, today, labels[i.id])}" for i in items)]
        return "\n".join(lines)[:1990]

    async def _digest(self, _timer: Timer) -> None:
        ops = self._out.text_channel(self._ops_alerts)
        if ops is None:
            raise LookupError(f"no #{self._ops_alerts} channel for the weekly digest")
        # The digest names owners without pinging them all (the reminders do that).
        await self._out.send(str(ops.id), content=await self.digest_text())
        async with self._sessions.begin() as session:
            self._schedule_digest(session)
