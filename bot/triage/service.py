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
from bot.core.permissions import Actor
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.errors import NotFound, WrongChannel
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
from bot.triage.changes import IncidentChanges
from bot.triage.deadlines import DeadlineNames
from bot.triage.declare import Declarer
from bot.triage.duplicates import Duplicate, draft_request_key, load_draft
from bot.triage.escalation import EscalationClock
from bot.triage.kickoff import KickoffRefresher
from bot.triage.lifecycle import OPEN_STATES, Status
from bot.triage.oncall import OnCallService
from storage import incidents as queries
from storage import timers as timer_queries
from storage.models import Incident

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


class IncidentService(IncidentChanges):
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
        self.declare = self.declarer.declare  # the declaring itself is in declare.py
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
