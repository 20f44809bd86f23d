"""The response clock: escalation pages and the response-time reminder and breach.

Scheduling (:meth:`EscalationClock.schedule`) runs in the transaction of the change that
starts or restarts the clock; the rules of when and whom are in bot/triage/rules.py.

A page is a row first, then the effect: one transaction records the page (state
pending), its outbox entry, the timeline event and the next level's timer; only then,
with no lock held, the outbox sends the message, which carries the entry's marker in
its footer. A crash mid-send is settled at start by the outbox's ``recover()``, whose
verifier looks for that marker in the channel, so a page never goes out twice.

A failing escalation or reminder is said in #ops-alerts (bot/triage/alarms.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.discord_out import Embed
from bot.adapters.notices import find_posted, post_once
from bot.core.outbox import EffectState, marker
from bot.errors import ExternalServiceError, UserError
from bot.procedure import Severity
from bot.triage import rules
from bot.triage.alarms import TimerAlarm
from bot.triage.base import (
    ESCALATE,
    PAGES,
    RESPONSE_BREACH,
    RESPONSE_REMINDER,
    IncidentEvent,
    PageState,
    TriageDeps,
)
from bot.triage.lifecycle import record
from storage import incidents as queries
from storage import outbox as outbox_queries
from storage.models import Incident, OutboxEntry, Page, Timer

log = logging.getLogger(__name__)

PAGE = "page"  # outbox kind


def page_key(incident_id: int, level: int) -> str:
    return f"page:{incident_id}:{level}"


def page_footer(incident_id: int, entry_id: int) -> str:
    return f"Incident #{incident_id} · {marker(entry_id)}"


class EscalationClock:
    def __init__(self, deps: TriageDeps) -> None:
        self.d = deps
        alarm = TimerAlarm(deps).report
        deps.timers.register(ESCALATE, self.on_escalate, on_failure=alarm)
        deps.timers.register(RESPONSE_REMINDER, self.on_response_reminder, on_failure=alarm)
        deps.timers.register(RESPONSE_BREACH, self.on_response_breach, on_failure=alarm)
        deps.outbox.register_verifier(PAGE, self._find_page)

    # -- scheduling ----------------------------------------------------------------------
    async def schedule(self, session: AsyncSession, incident: Incident, level: Severity) -> None:
        """The severity's escalation and response timers, in ``session``'s transaction.

        Counted from the declaration; a severity change re-runs this, and escalation goes
        on from the level already paged (what is already overdue fires at once).
        """
        now = self.d.now()
        paged_level, last_page_at = await queries.highest_page(session, incident.id)
        step = rules.clock_after_severity_change(
            paged_level, level.escalate_after, incident.declared_at, last_page_at, now
        )
        if step is not None:
            self.d.timers.schedule(
                session,
                ESCALATE,
                step.due,
                incident.id,
                {"level": step.level, "severity": level.name},
            )
        deadlines = rules.response_deadlines(
            incident.declared_at, level.respond_within, self.d.config.procedure.response_reminder_at
        )
        if deadlines is not None:
            payload = {"severity": level.name}
            self.d.timers.schedule(
                session, RESPONSE_REMINDER, deadlines.reminder, incident.id, payload
            )
            self.d.timers.schedule(session, RESPONSE_BREACH, deadlines.breach, incident.id, payload)

    # -- escalating ----------------------------------------------------------------------
    async def on_escalate(self, timer: Timer) -> None:
        assert timer.incident_id is not None
        level_number = int(timer.payload.get("level", rules.SECONDARY_LEVEL))
        # Read outside the lock: the rotation (a file, the overrides) and Discord's cache.
        secondary_id = (await self.d.oncall.at()).secondary_id
        admin_role_id = self.d.discord.role_id(self.d.config.discord.admin_role)
        async with self.d.locks.hold(timer.incident_id), self.d.sessions.begin() as session:
            entry = await outbox_queries.by_key(session, page_key(timer.incident_id, level_number))
            if entry is None:
                entry = await self._record_page(
                    session, timer.incident_id, level_number, secondary_id, admin_role_id
                )
                if entry is None:
                    return
            entry_id, state = entry.id, entry.state
        # The lock is let go, the rows are committed: now the effect.
        if state == EffectState.DONE:
            # Paged before a crash or by another run: never twice. Only the page's own row
            # may lag behind (a crash right after the send): bring it up to date.
            async with self.d.sessions.begin() as session:
                entry = await outbox_queries.get(session, entry_id)
                assert entry is not None
                page = await session.get(Page, entry.payload["page_id"])
                if page is not None and page.state == PageState.PENDING:
                    skipped = "skipped" in entry.result
                    await queries.set_page_state(
                        session,
                        page.id,
                        PageState.CANCELLED if skipped else PageState.SENT,
                        entry.result.get("message_id"),
                    )
            return
        if state in (EffectState.IN_DOUBT, EffectState.FAILED):
            await self.d.outbox.release(entry_id)  # the effect looks for the message first
        settled = await self.d.outbox.deliver(entry_id, self._send_page)
        await self._settle_page(settled)

    async def _record_page(
        self,
        session: AsyncSession,
        incident_id: int,
        level_number: int,
        secondary_id: str | None,
        admin_role_id: str | None,
    ) -> OutboxEntry | None:
        """Page row, outbox entry, timeline event and the next level's timer, or None."""
        incident = await session.get(Incident, incident_id)
        if incident is None or not rules.awaiting_ack(incident.status, incident.acknowledged_at):
            return None  # superseded
        paged_level, _ = await queries.highest_page(session, incident.id)
        if paged_level >= level_number:
            return None  # this level was paged already (a severity change, a re-run)
        paged = await queries.paged_users(session, incident.id)
        target = rules.escalation_target(
            level_number, secondary_id, incident.commander_id, paged, admin_role_id
        )
        now = self.d.now()
        if target is None:
            record(
                session,
                incident,
                "escalation",
                f"Escalation level {level_number}: nobody left to page",
                at=now,
            )
            return None
        level = self.d.severity(incident.severity)
        content = self.d.renderer.render(
            "page.md.j2",
            target_kind=target.kind,
            target_id=target.id,
            level=target.level,
            severity=level,
            incident=incident,
            waited=now - incident.declared_at,
            commander_id=incident.commander_id,
        )
        page = Page(
            incident_id=incident.id,
            target_kind=target.kind,
            target_id=target.id,
            level=target.level,
            at=now,
            state=PageState.PENDING,
        )
        session.add(page)
        await session.flush()
        payload = {
            "page_id": page.id,
            "channel_id": incident.channel_id,
            "content": content,
            "target_kind": target.kind,
            "target_id": target.id,
            "level": target.level,
        }
        entry = self.d.outbox.add(
            session, PAGE, page_key(incident.id, level_number), payload, incident.id
        )
        incident.escalation_level = target.level
        record(
            session,
            incident,
            "escalation",
            f"Not acknowledged: paged {target.mention} (level {target.level})",
            None,
            {"level": target.level, "target_kind": target.kind, "target_id": target.id},
            at=now,
        )
        step = rules.next_escalation(
            target.level, level.escalate_after, incident.declared_at, now, now
        )
        if step is not None:
            self.d.timers.schedule(
                session,
                ESCALATE,
                step.due,
                incident.id,
                {"level": step.level, "severity": level.name},
            )
        await session.flush()
        return entry

    async def _send_page(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        payload = entry.payload
        assert entry.incident_id is not None
        incident_id = entry.incident_id

        async def send() -> str | Mapping[str, Any]:
            async with self.d.sessions() as session:
                incident = await session.get(Incident, incident_id)
            if incident is None or not rules.awaiting_ack(
                incident.status, incident.acknowledged_at
            ):
                return {"skipped": "acknowledged or closed before the page went out"}
            user = payload["target_kind"] == "user"
            try:
                return await self.d.discord.send(
                    payload["channel_id"],
                    content=payload["content"],
                    embed=Embed(
                        title=f"Escalation level {payload['level']}",
                        description="Acknowledge with ✅ on the pinned kickoff or `/incident ack`.",
                        footer=page_footer(incident_id, entry.id),
                    ),
                    mention_users=(payload["target_id"],) if user else (),
                    mention_roles=() if user else (payload["target_id"],),
                )
            except UserError as error:
                if entry.attempts <= 1:
                    await self._tell_ops(incident, payload["level"], error)
                raise

        # Discord may have acted before failing: post_once looks before trying again. If
        # the look fails too, the entry stays in doubt and the timer's retry looks again.
        footer = page_footer(incident_id, entry.id)
        return await post_once(self.d.discord, entry, payload["channel_id"], footer, send)

    async def _tell_ops(self, incident: Incident, level: int, error: UserError) -> None:
        """An automatic page Discord refused (a missing permission, say) is told in the
        ops-alerts channel, once: nobody ran a command to see the error."""
        ops = self.d.discord.text_channel(self.d.config.discord.ops_alerts_channel)
        if ops is None:
            return
        text = f"⚠️ The level {level} page of incident #{incident.id} could not be sent: {error}"
        try:
            await self.d.discord.send(str(ops.id), content=text)
        except (UserError, ExternalServiceError):
            log.warning("could not tell #%s of the refused page", ops.name)

    async def _find_page(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        assert entry.incident_id is not None
        footer = page_footer(entry.incident_id, entry.id)
        return await find_posted(self.d.discord, entry.payload["channel_id"], footer)

    async def _settle_page(self, entry: OutboxEntry) -> None:
        page_id = entry.payload["page_id"]
        if entry.state == EffectState.SENDING:
            return  # another run (a retry, a re-run) is sending it right now
        if entry.state == EffectState.DONE:
            skipped = "skipped" in entry.result
            state = PageState.CANCELLED if skipped else PageState.SENT
        else:  # pending again (Discord unavailable) or refused: the timer tries again
            state = PageState.FAILED
        async with self.d.sessions.begin() as session:
            page = await session.get(Page, page_id)
            if page is not None and PAGES.can(page.state, state):
                await queries.set_page_state(
                    session, page_id, state, entry.result.get("message_id")
                )
            incident = await session.get(Incident, entry.incident_id)
        if state is PageState.FAILED:
            raise ExternalServiceError(
                f"the level {entry.payload['level']} page could not be sent: {entry.last_error}"
            )
        if state is PageState.SENT and incident is not None:
            if entry.payload["target_kind"] == "user":
                await self.d.grant(incident.channel_id, entry.payload["target_id"])
            await self.d.emit(
                IncidentEvent(
                    "paged",
                    incident,
                    None,
                    {"level": entry.payload["level"], "target_id": entry.payload["target_id"]},
                )
            )

    # -- the response time ---------------------------------------------------------------
    async def _notice_once(
        self,
        timer: Timer,
        what: str,
        add: Callable[[AsyncSession, Incident], Awaitable[OutboxEntry | None]],
    ) -> None:
        """The response clock's notice ``what``: ``add`` records it with its timeline entry,
        under the lock, while the incident awaits acknowledgement (None: nothing to say);
        then it is posted (a run after a failed post posts the one recorded)."""
        assert timer.incident_id is not None
        key = f"response-{what}:{timer.incident_id}"
        async with self.d.locks.hold(timer.incident_id), self.d.sessions.begin() as session:
            incident = await session.get(Incident, timer.incident_id)
            entry = await outbox_queries.by_key(session, key)
            if entry is None:
                if incident is None or not rules.awaiting_ack(
                    incident.status, incident.acknowledged_at
                ):
                    return
                assert incident.channel_id is not None
                entry = await add(session, incident)
                if entry is None:
                    return
            entry_id = entry.id
        await self.d.notices.deliver(entry_id)

    async def on_response_reminder(self, timer: Timer) -> None:
        """Remind once: the notice and its timeline entry are committed, then posted."""

        async def add(session: AsyncSession, incident: Incident) -> OutboxEntry:
            assert incident.channel_id is not None
            level = self.d.severity(incident.severity)
            assert level.respond_within is not None
            due = incident.declared_at + level.respond_within
            commander = incident.commander_id
            who = f"<@{commander}>" if commander else "Nobody has acknowledged yet:"
            entry = await self.d.notices.add(
                session,
                f"response-reminder:{incident.id}",
                incident.channel_id,
                f"⏰ {who} the {level.name} response time ({level.response_time}) runs out "
                f"<t:{int(due.timestamp())}:R>. "
                "Acknowledge with ✅ on the kickoff or `/incident ack`.",
                title="Response time",
                label=f"Incident {incident.id} · reminder",
                mention_users=(commander,) if commander else (),
                incident_id=incident.id,
            )
            record(
                session,
                incident,
                "response_reminder",
                f"Reminder: response time runs out at {due:%H:%M} UTC",
                at=self.d.now(),
            )
            return entry

        await self._notice_once(timer, "reminder", add)

    async def on_response_breach(self, timer: Timer) -> None:
        """Record the breach and its notice together; a run after a failed post posts it."""

        async def add(session: AsyncSession, incident: Incident) -> OutboxEntry | None:
            if incident.response_breached_at is not None:
                return None  # recorded by a run before notices existed
            assert incident.channel_id is not None
            level = self.d.severity(incident.severity)
            incident.response_breached_at = self.d.now()
            record(
                session,
                incident,
                "response_breach",
                f"Response time breached: {level.name} must be answered "
                f"{level.response_time.lower()}",
                at=self.d.now(),
            )
            return await self.d.notices.add(
                session,
                f"response-breach:{incident.id}",
                incident.channel_id,
                f"🚨 The {level.name} response time ({level.response_time}) has passed "
                "without an acknowledgement. Recorded in the timeline.",
                title="Response time breached",
                colour=0xED4245,
                label=f"Incident {incident.id} · breach",
                incident_id=incident.id,
            )

        await self._notice_once(timer, "breach", add)
