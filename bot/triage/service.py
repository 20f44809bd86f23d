"""The triage phase as the cogs see it: reads, acknowledge, hand over, change severity,
status, resolve, reopen, and the event bus other phases listen on.

Where the rest lives: the rules (whom a level pages, when the reminder is due…) in
``rules.py``; declaring and opening the channel in ``declare.py``; the escalation and
response-clock timers in ``escalation.py``; queries in ``storage/incidents.py``.

Every change is "lock, change rows, commit, unlock, then act": the per-incident lock
(``Services.locks``, one registry for the bot) is never held across a Discord call.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import Outbox
from bot.core.permissions import Actor, require
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.errors import Conflict, NotFound, UserError, WrongChannel
from bot.procedure import Severity
from bot.settings import Config
from bot.triage.base import (
    ACK_EMOJI,
    CLOCK_TIMERS,
    ESCALATE,
    MAX_SUMMARY,
    RESPONSE_BREACH,
    RESPONSE_REMINDER,
    SEVERITY_COLOURS,
    Deadline,
    Declared,
    IncidentEvent,
    Listener,
    StatusReport,
    TriageDeps,
    ack_custom_id,
    kickoff_footer,
    topic_marker,
)
from bot.triage.deadlines import DeadlineNames
from bot.triage.declare import Declarer
from bot.triage.duplicates import Duplicate, draft_request_key, load_draft
from bot.triage.escalation import EscalationClock
from bot.triage.kickoff import KickoffRefresher
from bot.triage.lifecycle import OPEN_STATES, Status, is_open, record, transition
from bot.triage.oncall import OnCallService
from storage import incidents as queries
from storage import timers as timer_queries
from storage.models import Incident, Page

__all__ = [
    "ACK_EMOJI",
    "CLOCK_TIMERS",
    "ESCALATE",
    "MAX_SUMMARY",
    "RESPONSE_BREACH",
    "RESPONSE_REMINDER",
    "SEVERITY_COLOURS",
    "Deadline",
    "Declared",
    "Duplicate",
    "IncidentEvent",
    "IncidentService",
    "Listener",
    "StatusReport",
    "ack_custom_id",
    "kickoff_footer",
    "topic_marker",
]


class IncidentService:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        discord: DiscordOut,
        oncall: OnCallService,
        timers: TimerService,
        renderer: Renderer,
        *,
        clock: Clock,
        locks: IncidentLocks,
        outbox: Outbox,
        notices: ChannelNotices,
    ) -> None:
        self.deps = d = TriageDeps(
            config, sessions, discord, oncall, timers, renderer, clock, locks, outbox, notices
        )
        self._listeners = d.listeners
        self.escalation = EscalationClock(d)
        self.declarer = Declarer(d, self.escalation)
        self.kickoff = KickoffRefresher(d)  # keeps the kickoff current on every change
        d.listeners.append(self.kickoff.on_event)
        self.deadlines = DeadlineNames()  # triage's own are named in it already

    # -- wiring --------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self.deps.listeners.append(listener)

    async def stop(self) -> None:
        await self.kickoff.stop()

    def refresh_kickoff(self, incident_id: int) -> None:
        """Another phase recorded something the kickoff shows: edit it to match."""
        self.kickoff.refresh(incident_id)

    def name_deadline(self, kind: str, what: str) -> None:
        """Another phase's timer ``kind`` is a deadline people wait on: status names it."""
        self.deadlines.name(kind, what)

    def severity(self, name: str) -> Severity:
        return self.deps.severity(name)

    def severity_choices(self, typed: str) -> list[tuple[str, str]]:
        """(label, name) of each severity whose label contains ``typed``: autocomplete."""
        choices = []
        for level in self.deps.config.procedure.severities:
            label = f"{level.name}: {level.definition} (response: {level.response_time})"
            if typed.lower() in label.lower():
                choices.append((label[:100], level.name))
        return choices[:25]

    def actor(self, user_id: str) -> Actor:
        return self.deps.actor(user_id)

    def now(self) -> datetime:
        return self.deps.now()

    def local_date(self, incident: Incident) -> date:
        return self.declarer.local_date(incident)

    # -- reading -------------------------------------------------------------------------
    async def get(self, incident_id: int) -> Incident:
        async with self.deps.sessions() as session:
            incident = await queries.get(session, incident_id)
        if incident is None or incident.status in (Status.OPENING, Status.FAILED):
            raise NotFound(f"There is no incident #{incident_id}.")
        return incident

    async def in_channel(self, channel_id: str) -> Incident:
        async with self.deps.sessions() as session:
            incident = await queries.by_channel(session, channel_id)
        if incident is None or incident.status in (Status.OPENING, Status.FAILED):
            raise WrongChannel(
                "This command works in an incident channel (`#incident-…`). "
                "Run it there; `/incident list` shows the open ones."
            )
        return incident

    async def list_open(self) -> list[Incident]:
        async with self.deps.sessions() as session:
            incidents = await queries.in_states(session, OPEN_STATES)
        procedure = self.deps.config.procedure
        return sorted(incidents, key=lambda i: (procedure.rank(i.severity), i.declared_at))

    async def paged(self, session: AsyncSession, incident_id: int) -> frozenset[str]:
        return await queries.paged_users(session, incident_id)

    async def status(self, incident: Incident) -> StatusReport:
        now = self.deps.now()
        async with self.deps.sessions() as session:
            timer = await timer_queries.next_pending(session, incident.id, self.deadlines.kinds())
        deadline = Deadline(self.deadlines.what(timer.kind), timer.due_at) if timer else None
        ack = incident.acknowledged_at - incident.declared_at if incident.acknowledged_at else None
        return StatusReport(incident, now - incident.declared_at, ack, deadline)

    # -- declaring -----------------------------------------------------------------------
    async def declare(
        self,
        actor_id: str | None,
        title: str,
        severity: str,
        summary: str | None = None,
        request_key: str | None = None,
        source: str = "command",
        down_since: datetime | None = None,
        hold_duplicates: bool = False,
    ) -> Declared | Duplicate:
        return await self.declarer.declare(
            actor_id, title, severity, summary, request_key, source, down_since, hold_duplicates
        )

    async def declare_anyway(self, draft_id: int, actor_id: str) -> Declared:
        """ "Declare anyway" on a held-back duplicate: declares its draft, once."""
        async with self.deps.sessions() as session:
            draft = await load_draft(session, draft_id)
        declared = await self.declare(
            actor_id, draft.title, draft.severity, draft.summary, draft_request_key(draft_id)
        )
        assert isinstance(declared, Declared)
        return declared

    async def resume_opening(self) -> int:
        return await self.declarer.resume_opening()

    # -- acknowledging -------------------------------------------------------------------
    async def acknowledge(self, incident_id: int, user_id: str, via: str) -> tuple[Incident, bool]:
        """Returns the incident and whether this call acknowledged it (False: it already was)."""
        d = self.deps
        async with d.locks.hold(incident_id), d.sessions.begin() as session:
            incident = await queries.get(session, incident_id)
            if incident is None or not is_open(incident.status):
                raise Conflict("This incident is not open any more; nothing to acknowledge.")
            if incident.acknowledged_at is not None:
                return incident, False
            paged = await queries.paged_users(session, incident.id)
            require(
                d.config.permissions,
                "acknowledge",
                d.actor(user_id),
                incident.commander_id,
                paged,
                doing="acknowledge this incident",
            )
            now = d.now()
            previous = incident.commander_id
            if previous != user_id:
                incident.commander_id = user_id
                record(
                    session,
                    incident,
                    "commander",
                    f"<@{user_id}> took command by acknowledging",
                    user_id,
                    {"commander_id": user_id, "previous": previous, "reason": "acknowledged"},
                    at=now,
                )
            incident.acknowledged_by = user_id
            transition(
                session,
                incident,
                Status.ACKNOWLEDGED,
                f"Acknowledged by <@{user_id}> ({via})",
                user_id,
                {"via": via},
                at=now,
            )
            await d.timers.cancel(session, incident.id, CLOCK_TIMERS)
        if previous != user_id:
            await d.grant(incident.channel_id, user_id)
        await d.emit(IncidentEvent("acknowledged", incident, user_id, {"via": via}))
        if previous != user_id:
            await d.emit(
                IncidentEvent("commander_changed", incident, user_id, {"previous": previous})
            )
        return incident, True

    async def acknowledge_kickoff_reaction(
        self, channel_id: str, message_id: str, user_id: str
    ) -> tuple[Incident, bool] | None:
        """A ✅ on a kickoff message; None when the message is no kickoff."""
        async with self.deps.sessions() as session:
            incident = await queries.by_kickoff(session, channel_id, message_id)
        if incident is None:
            return None
        return await self.acknowledge(incident.id, user_id, "reaction")

    # -- changing ------------------------------------------------------------------------
    async def _authorised(
        self, session: AsyncSession, incident: Incident, user_id: str, action: str, doing: str
    ) -> None:
        paged = await queries.paged_users(session, incident.id)
        require(
            self.deps.config.permissions,
            action,
            self.deps.actor(user_id),
            incident.commander_id,
            paged,
            doing=doing,
        )

    async def hand_over(self, incident_id: int, user_id: str, new_commander_id: str) -> Incident:
        d = self.deps
        member = d.discord.member(new_commander_id)
        if member is None:
            raise NotFound(f"<@{new_commander_id}> is not a member of this server.")
        if member.bot:
            raise UserError("A bot cannot be the incident commander; choose a person.")
        async with d.locks.hold(incident_id), d.sessions.begin() as session:
            incident = await queries.get(session, incident_id)
            incident = _require_open(incident)
            await self._authorised(session, incident, user_id, "hand_over", "hand over command")
            if incident.commander_id == new_commander_id:
                raise Conflict(f"<@{new_commander_id}> is already the incident commander.")
            now = d.now()
            previous = incident.commander_id
            incident.commander_id = new_commander_id
            record(
                session,
                incident,
                "commander",
                f"Command handed over from {f'<@{previous}>' if previous else 'nobody'} to <@{new_commander_id}>",
                user_id,
                {"commander_id": new_commander_id, "previous": previous, "reason": "hand-over"},
                at=now,
            )
            session.add(
                Page(
                    incident_id=incident.id,
                    target_kind="user",
                    target_id=new_commander_id,
                    level=0,
                    at=now,
                )
            )
        await d.grant(incident.channel_id, new_commander_id)
        await d.emit(IncidentEvent("commander_changed", incident, user_id, {"previous": previous}))
        return incident

    async def change_severity(
        self, incident_id: int, user_id: str, severity: str
    ) -> tuple[Incident, str]:
        d = self.deps
        level = d.severity(severity)
        async with d.locks.hold(incident_id), d.sessions.begin() as session:
            incident = await queries.get(session, incident_id)
            incident = _require_open(incident)
            await self._authorised(
                session, incident, user_id, "change_severity", "change the severity"
            )
            previous = incident.severity
            if previous == level.name:
                raise Conflict(f"The incident is already {level.name}.")
            incident.severity = level.name
            record(
                session,
                incident,
                "severity",
                f"Severity changed from {previous} to {level.name}",
                user_id,
                {"from": previous, "to": level.name},
                at=d.now(),
            )
            if incident.acknowledged_at is None:
                # The new level's clock replaces the old one, counted from declaration,
                # and escalation goes on from the level already paged.
                await d.timers.cancel(session, incident.id, CLOCK_TIMERS)
                await self.escalation.schedule(session, incident, level)
        await d.emit(IncidentEvent("severity_changed", incident, user_id, {"previous": previous}))
        return incident, previous

    async def set_status(
        self, incident_id: int, user_id: str, target: Status, note: str | None = None
    ) -> Incident:
        d = self.deps
        async with d.locks.hold(incident_id), d.sessions.begin() as session:
            incident = await queries.get(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident #{incident_id}.")
            await self._authorised(
                session, incident, user_id, "change_status", f"mark the incident {target}"
            )
            previous = incident.status
            text = f"Marked {target} by <@{user_id}>" + (f": {note}" if note else "")
            transition(
                session,
                incident,
                target,
                text,
                user_id,
                {"note": note} if note else None,
                at=d.now(),
            )
            if target in (Status.RESOLVED, Status.CLOSED, Status.ACKNOWLEDGED):
                # Triage's own clock stops; other phases' timers (a P3's ticket, a reply to
                # approve) are theirs to end, on the event below.
                await d.timers.cancel(session, incident.id, CLOCK_TIMERS)
        if target in (Status.RESOLVED, Status.CLOSED):
            self.declarer.forget(incident_id)
        kind = "resolved" if target is Status.RESOLVED else "status_changed"
        await d.emit(IncidentEvent(kind, incident, user_id, {"previous": previous, "note": note}))
        return incident

    async def resolve(self, incident_id: int, user_id: str, note: str | None = None) -> Incident:
        return await self.set_status(incident_id, user_id, Status.RESOLVED, note)

    async def reopen(self, incident_id: int, user_id: str) -> Incident:
        """A resolved incident back to work (acknowledged: people are already on it)."""
        incident = await self.get(incident_id)
        if incident.status != Status.RESOLVED:
            raise Conflict(
                f"Only a resolved incident can be reopened; this one is {incident.status}."
            )
        return await self.set_status(incident_id, user_id, Status.ACKNOWLEDGED, "reopened")


def _require_open(incident: Incident | None) -> Incident:
    if incident is None:
        raise NotFound("There is no such incident.")
    if not is_open(incident.status):
        raise Conflict(
            f"The incident is {incident.status}; reopen it first with `/incident reopen`."
        )
    return incident
