"""The triage phase as domain logic: declare, assign, acknowledge, escalate, resolve.

Cogs call these methods and render what they return; every state change is
one transaction (row + timeline event + timer rows) followed by the Discord
side effects, and every side effect is idempotent by incident id so a retry
or a restart finishes it exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import ButtonSpec, DiscordOut, Embed
from bot.core.permissions import Actor, require
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.errors import Conflict, ExternalServiceError, NotFound, UserError, WrongChannel
from bot.procedure import Severity
from bot.settings import Config
from bot.triage.lifecycle import OPEN_STATES, Status, is_open, record, transition
from bot.triage.naming import channel_name, validate_title
from bot.triage.oncall import OnCallService, Resolved
from storage.models import Incident, Page, Timer
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_SUMMARY = 1000
ACK_EMOJI = "✅"
ESCALATE, RESPONSE_REMINDER, RESPONSE_BREACH = "escalate", "response_reminder", "response_breach"
CLOCK_TIMERS = (ESCALATE, RESPONSE_REMINDER, RESPONSE_BREACH)
SEVERITY_COLOURS = (0xED4245, 0xE67E22, 0xFEE75C, 0x95A5A6)


def ack_custom_id(incident_id: int) -> str:
    return f"incident:ack:{incident_id}"


def topic_marker(incident_id: int) -> str:
    return f"[incident:{incident_id}]"


def kickoff_footer(incident_id: int) -> str:
    return f"Incident #{incident_id}"


def _awaiting_ack(incident: Incident | None) -> TypeGuard[Incident]:
    """Open and not acknowledged: the clock's timers still have work to do."""
    return incident is not None and incident.acknowledged_at is None and is_open(incident.status)


@dataclass(frozen=True)
class IncidentEvent:
    """Something happened to an incident; listeners (comms, follow-up) react to it."""

    kind: str  # declared | acknowledged | severity_changed | commander_changed | status_changed | resolved | paged
    incident: Incident
    actor_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[IncidentEvent], Awaitable[None]]


@dataclass(frozen=True)
class Declared:
    incident: Incident
    created: bool  # False: this request had already declared it (a retry)


@dataclass(frozen=True)
class Deadline:
    what: str
    at: datetime


@dataclass(frozen=True)
class StatusReport:
    incident: Incident
    age: timedelta
    time_to_ack: timedelta | None
    next_deadline: Deadline | None


class IncidentService:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        discord: DiscordOut,
        oncall: OnCallService,
        timers: TimerService,
        renderer: Renderer,
    ) -> None:
        self._config = config
        self._procedure = config.procedure
        self._sessions = sessions
        self._discord = discord
        self._oncall = oncall
        self._timers = timers
        self._render = renderer
        self._listeners: list[Listener] = []
        self._locks: dict[int, asyncio.Lock] = {}
        # Request keys this process has inserted. A key seen before (a retry) is looked up
        # first; an unseen one is inserted straight away and the unique index catches a
        # retry that reaches another process or outlives a restart.
        self._requested: set[str] = set()
        self._opened: set[int] = set()  # incidents this process finished opening
        # Choosing a free channel name and creating it is one step, or two incidents
        # declared at once with the same title would get the same name.
        self._naming = asyncio.Lock()
        timers.register(ESCALATE, self._on_escalate)
        timers.register(RESPONSE_REMINDER, self._on_response_reminder)
        timers.register(RESPONSE_BREACH, self._on_response_breach)

    # -- wiring --------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def _emit(self, event: IncidentEvent) -> None:
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception(
                    "listener %s failed on %s of incident %s",
                    listener,
                    event.kind,
                    event.incident.id,
                )

    def _lock(self, incident_id: int) -> asyncio.Lock:
        return self._locks.setdefault(incident_id, asyncio.Lock())

    def severity(self, name: str) -> Severity:
        try:
            return self._procedure.severity(name)
        except KeyError:
            names = ", ".join(self._procedure.severity_names)
            raise UserError(f"`{name}` is not a severity here; choose one of {names}.") from None

    def actor(self, user_id: str) -> Actor:
        return Actor(user_id, self._discord.role_names(user_id))

    # -- reading -------------------------------------------------------------------------
    async def get(self, incident_id: int) -> Incident:
        async with self._sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None or incident.status in (Status.OPENING, Status.FAILED):
            raise NotFound(f"There is no incident #{incident_id}.")
        return incident

    async def in_channel(self, channel_id: str) -> Incident:
        async with self._sessions() as session:
            incident = await session.scalar(
                select(Incident).where(Incident.channel_id == channel_id)
            )
        if incident is None or incident.status in (Status.OPENING, Status.FAILED):
            raise WrongChannel(
                "This command works in an incident channel (`#incident-…`). "
                "Run it there; `/incident list` shows the open ones."
            )
        return incident

    async def list_open(self) -> list[Incident]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Incident)
                .where(Incident.status.in_([s.value for s in OPEN_STATES]))
                .order_by(Incident.declared_at)
            )
            incidents = list(rows)
        return sorted(incidents, key=lambda i: (self._procedure.rank(i.severity), i.declared_at))

    async def paged(self, session: AsyncSession, incident_id: int) -> frozenset[str]:
        rows = await session.scalars(
            select(Page.target_id).where(
                Page.incident_id == incident_id, Page.target_kind == "user"
            )
        )
        return frozenset(rows)

    async def status(self, incident: Incident) -> StatusReport:
        now = utcnow()
        async with self._sessions() as session:
            timer = await session.scalar(
                select(Timer)
                .where(
                    Timer.incident_id == incident.id,
                    Timer.state == "pending",
                    Timer.kind.in_(CLOCK_TIMERS),
                )
                .order_by(Timer.due_at)
                .limit(1)
            )
        names = {
            ESCALATE: "escalation if not acknowledged",
            RESPONSE_REMINDER: "response-time reminder",
            RESPONSE_BREACH: "response time runs out",
        }
        deadline = (
            Deadline(names.get(timer.kind, timer.kind.replace("_", " ")), timer.due_at)
            if timer
            else None
        )
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
    ) -> Declared:
        title = validate_title(title)
        level = self.severity(severity)
        if summary is not None:
            summary = summary.strip() or None
        if summary and len(summary) > MAX_SUMMARY:
            raise UserError(f"The summary is {len(summary)} characters; keep it to {MAX_SUMMARY}.")
        if actor_id is not None:
            require(
                self._config.permissions,
                "declare",
                self.actor(actor_id),
                doing="declare an incident",
            )
        try:
            incident, created, oncall = await self._insert_or_find(
                actor_id, title, level.name, summary, request_key, source, down_since
            )
        except IntegrityError:
            # The same request reached the insert first (a concurrent retry, or one from before
            # a restart): use its row, retrying it if it failed, and wait on its lock below.
            incident, created, oncall = await self._insert_or_find(
                actor_id, title, level.name, summary, request_key, source, down_since, lookup=True
            )
        if incident.status == Status.OPENING:
            await self._open(incident, oncall.primary_id, oncall.unresolved, fresh=created)
        incident = await self.get(incident.id)
        return Declared(incident, created)

    async def _insert_or_find(
        self,
        actor_id: str | None,
        title: str,
        severity: str,
        summary: str | None,
        request_key: str | None,
        source: str,
        down_since: datetime | None,
        lookup: bool = False,
    ) -> tuple[Incident, bool, Resolved]:
        created = False
        async with self._sessions.begin() as session:
            incident = None
            if request_key is not None and (lookup or request_key in self._requested):
                incident = await session.scalar(
                    select(Incident).where(Incident.request_key == request_key)
                )
            if incident is None:
                now = utcnow()
                incident = Incident(
                    title=title,
                    slug="",
                    summary=summary,
                    severity=severity,
                    status=Status.OPENING,
                    source=source,
                    request_key=request_key,
                    declared_by=actor_id,
                    declared_at=now,
                    down_since=down_since or now,
                )
                session.add(incident)
                created = True
            elif incident.status == Status.FAILED:
                transition(
                    session,
                    incident,
                    Status.OPENING,
                    "Declaring again after a failed attempt",
                    actor_id,
                )
        oncall = await self._oncall.at(incident.declared_at)
        if request_key is not None:
            if len(self._requested) >= 10_000:
                self._requested.clear()  # only an optimisation: the unique index stays the rule
            self._requested.add(request_key)
        return incident, created, oncall

    async def resume_opening(self) -> int:
        """After a restart: finish every incident whose channel was being opened."""
        async with self._sessions() as session:
            pending = list(
                await session.scalars(select(Incident).where(Incident.status == Status.OPENING))
            )
        for incident in pending:
            try:
                oncall = await self._oncall.at()
                await self._open(incident, oncall.primary_id, oncall.unresolved)
            except Exception:
                log.exception("could not finish opening incident %s", incident.id)
        return len(pending)

    async def _open(
        self,
        incident: Incident,
        commander_id: str | None,
        unresolved: tuple[str, ...],
        fresh: bool = False,
    ) -> None:
        """Channel, kickoff (the commander's ping), then one transaction, then the pin.

        Nothing is written between the row and the kickoff, so the ping goes out
        after a single database round trip. After a crash in between, the channel
        is found again by its topic marker and the kickoff by its footer, so a
        restart finishes the work without a second channel or a second ping.
        """
        async with self._lock(incident.id):
            if incident.id in self._opened:
                return
            if not fresh:
                async with self._sessions() as session:
                    current = await session.get(Incident, incident.id)
                if current is None or current.status != Status.OPENING:
                    return
            level = self.severity(incident.severity)
            channel_id, name, slug = incident.channel_id, incident.channel_name, incident.slug
            kickoff_id = incident.kickoff_message_id
            try:
                if channel_id is None:
                    existing = self._discord.channel_by_topic_marker(topic_marker(incident.id))
                    if existing is not None:
                        channel_id, name = str(existing.id), existing.name
                        slug = name.removeprefix(f"{self._procedure.channel_prefix}-")[11:] or name
                        kickoff_id = await self._discord.find_own_message(
                            channel_id, kickoff_footer(incident.id)
                        )
                    else:
                        channel_id, name, slug = await self._create_channel(
                            incident, level, commander_id
                        )
                if kickoff_id is None:
                    kickoff_id = await self._send_kickoff(incident, channel_id, level, commander_id)
            except (UserError, ExternalServiceError) as error:
                # The channel is ours (created now, or found by our topic marker): remove it.
                await self._fail_opening(incident, channel_id, error)
                raise
            assert channel_id is not None and name is not None  # created or found above
            incident = await self._finish_opening(
                incident, channel_id, name, slug, kickoff_id, level, commander_id, unresolved
            )
        self._opened.add(incident.id)
        try:
            await self._discord.pin(channel_id, kickoff_id)
        except (UserError, ExternalServiceError):
            log.warning("could not pin the kickoff of incident %s", incident.id, exc_info=True)
        await self._emit(IncidentEvent("declared", incident, incident.declared_by))

    async def _create_channel(
        self, incident: Incident, level: Severity, commander_id: str | None
    ) -> tuple[str, str, str]:
        topic = f"{level.name} · {incident.title} {topic_marker(incident.id)}"
        access = (commander_id,) if commander_id else ()
        async with self._naming:
            category = await self._discord.ensure_category(self._config.discord.incidents_category)
            name, slug = channel_name(
                self._procedure.channel_prefix,
                self.local_date(incident),
                incident.title,
                self._discord.channel_names(),
                fallback=str(incident.id),
            )
            channel_id = await self._discord.create_text_channel(
                name, category, topic[:1024], access
            )
        return channel_id, name, slug

    def local_date(self, incident: Incident) -> date:
        """The incident's day in the team's time zone: its channel name and postmortem file."""
        return incident.declared_at.astimezone(self._config.zone).date()

    async def _send_kickoff(
        self, incident: Incident, channel_id: str, level: Severity, commander_id: str | None
    ) -> str:
        admin_role_id = self._discord.role_id(self._config.discord.admin_role)
        ops = self._discord.text_channel(self._config.discord.ops_alerts_channel)
        respond_by = incident.declared_at + level.respond_within if level.respond_within else None
        context = {
            "incident": incident,
            "severity": level,
            "commander_id": commander_id,
            "admin_role": self._config.discord.admin_role,
            "admin_role_id": admin_role_id,
            "respond_by": respond_by,
            "postmortem_due": self._procedure.postmortem.due_within,
            "ops_alerts_id": str(ops.id) if ops else None,
        }
        rank = min(self._procedure.rank(level.name), len(SEVERITY_COLOURS) - 1)
        embed = Embed(
            title=f"{level.name} · {incident.title}"[:256],
            description=self._render.render("kickoff.md.j2", **context)[:4096],
            colour=SEVERITY_COLOURS[rank],
            footer=kickoff_footer(incident.id),
        )
        return await self._discord.send(
            channel_id,
            content=self._render.render("kickoff_ping.md.j2", **context),
            embed=embed,
            buttons=(ButtonSpec("Acknowledge", ack_custom_id(incident.id), "success", ACK_EMOJI),),
            mention_users=(commander_id,) if commander_id else (),
            mention_roles=(admin_role_id,) if admin_role_id and not commander_id else (),
        )

    async def _fail_opening(
        self, incident: Incident, created_channel_id: str | None, error: Exception
    ) -> None:
        if created_channel_id:
            try:
                await self._discord.delete_channel(
                    created_channel_id, "incident could not be opened"
                )
            except Exception:
                log.exception(
                    "could not remove the half-opened channel of incident %s", incident.id
                )
        async with self._sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            row.channel_id = None
            row.kickoff_message_id = None
            transition(session, row, Status.FAILED, f"Could not open the incident channel: {error}")

    async def _finish_opening(
        self,
        incident: Incident,
        channel_id: str,
        name: str,
        slug: str,
        kickoff_id: str,
        level: Severity,
        commander_id: str | None,
        unresolved: tuple[str, ...],
    ) -> Incident:
        async with self._sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            row.channel_id, row.channel_name, row.slug = channel_id, name, slug
            row.kickoff_message_id = kickoff_id
            row.commander_id = commander_id
            transition(
                session,
                row,
                Status.DECLARED,
                f"Declared {level.name}: {row.title}",
                row.declared_by,
                {"severity": level.name, "channel_id": channel_id},
            )
            if commander_id:
                record(
                    session,
                    row,
                    "commander",
                    f"<@{commander_id}> assigned as incident commander (on call)",
                    None,
                    {"commander_id": commander_id, "reason": "on-call primary"},
                )
                session.add(
                    Page(incident_id=row.id, target_kind="user", target_id=commander_id, level=0)
                )
            else:
                note = f" (not members: {', '.join(unresolved)})" if unresolved else ""
                record(
                    session,
                    row,
                    "commander",
                    f"Nobody on call to assign{note}",
                    None,
                    {"unresolved": list(unresolved)},
                )
            self._schedule_clock(session, row, level)
        return row

    def _schedule_clock(self, session: AsyncSession, incident: Incident, level: Severity) -> None:
        """The severity's escalation and response timers, counted from the declaration (a
        severity change re-runs this: what is already overdue fires at once)."""
        if level.escalate_after is not None:
            self._timers.schedule(
                session,
                ESCALATE,
                max(utcnow(), incident.declared_at + level.escalate_after),
                incident.id,
                {"level": 1, "severity": level.name},
            )
        if level.respond_within is not None:
            due = incident.declared_at + level.respond_within
            lead = level.respond_within * (1 - self._procedure.response_reminder_at)
            self._timers.schedule(
                session, RESPONSE_REMINDER, due - lead, incident.id, {"severity": level.name}
            )
            self._timers.schedule(
                session, RESPONSE_BREACH, due, incident.id, {"severity": level.name}
            )

    # -- acknowledging and escalating ----------------------------------------------------
    async def acknowledge(self, incident_id: int, user_id: str, via: str) -> tuple[Incident, bool]:
        """Returns the incident and whether this call acknowledged it (False: it already was)."""
        async with self._lock(incident_id), self._sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None or not is_open(incident.status):
                raise Conflict("This incident is not open any more; nothing to acknowledge.")
            if incident.acknowledged_at is not None:
                return incident, False
            paged = await self.paged(session, incident.id)
            require(
                self._config.permissions,
                "acknowledge",
                self.actor(user_id),
                incident.commander_id,
                paged,
                doing="acknowledge this incident",
            )
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
                )
            incident.acknowledged_by = user_id
            transition(
                session,
                incident,
                Status.ACKNOWLEDGED,
                f"Acknowledged by <@{user_id}> ({via})",
                user_id,
                {"via": via},
            )
            await self._timers.cancel(session, incident.id, CLOCK_TIMERS)
        if previous != user_id and incident.channel_id:
            await self._grant(incident.channel_id, user_id)
        await self._emit(IncidentEvent("acknowledged", incident, user_id, {"via": via}))
        if previous != user_id:
            await self._emit(
                IncidentEvent("commander_changed", incident, user_id, {"previous": previous})
            )
        return incident, True

    async def acknowledge_kickoff_reaction(
        self, channel_id: str, message_id: str, user_id: str
    ) -> tuple[Incident, bool] | None:
        """A ✅ on a kickoff message; None when the message is no kickoff."""
        async with self._sessions() as session:
            incident = await session.scalar(
                select(Incident).where(
                    Incident.channel_id == channel_id, Incident.kickoff_message_id == message_id
                )
            )
        if incident is None:
            return None
        return await self.acknowledge(incident.id, user_id, "reaction")

    async def _on_escalate(self, timer: Timer) -> None:
        assert timer.incident_id is not None  # escalation timers belong to an incident
        level_number = int(timer.payload.get("level", 1))
        async with self._lock(timer.incident_id):
            async with self._sessions() as session:
                incident = await session.get(Incident, timer.incident_id)
                if not _awaiting_ack(incident):
                    return  # superseded
                done = await session.scalar(
                    select(func.max(Page.level)).where(Page.incident_id == incident.id)
                )
                if done is not None and done >= level_number:
                    return  # this level was paged before a crash or a retry: never twice
                paged = await self.paged(session, incident.id)
            level = self.severity(incident.severity)
            target_kind, target_id = await self._escalation_target(level_number, incident, paged)
            if target_kind is None and level_number == 1:
                level_number, target_kind, target_id = (
                    2,
                    *await self._escalation_target(2, incident, paged),
                )
            if target_kind is None:
                async with self._sessions.begin() as session:
                    row = await session.get(Incident, incident.id)
                    assert row is not None  # the Incident row is there: read or locked above
                    record(
                        session,
                        row,
                        "escalation",
                        f"Escalation level {level_number}: nobody left to page",
                    )
                return
            waited = utcnow() - incident.declared_at
            content = self._render.render(
                "page.md.j2",
                target_kind=target_kind,
                target_id=target_id,
                level=level_number,
                severity=level,
                incident=incident,
                waited=waited,
                commander_id=incident.commander_id,
            )
            assert target_id is not None  # a target kind comes with its id
            assert incident.channel_id is not None  # an open incident has its channel
            await self._discord.send(
                incident.channel_id,
                content=content,
                mention_users=(target_id,) if target_kind == "user" else (),
                mention_roles=(target_id,) if target_kind == "role" else (),
            )
            async with self._sessions.begin() as session:
                row = await session.get(Incident, incident.id)
                assert row is not None  # the Incident row is there: read or locked above
                row.escalation_level = level_number
                session.add(
                    Page(
                        incident_id=row.id,
                        target_kind=target_kind,
                        target_id=target_id,
                        level=level_number,
                    )
                )
                who = f"<@{target_id}>" if target_kind == "user" else f"<@&{target_id}>"
                record(
                    session,
                    row,
                    "escalation",
                    f"Not acknowledged: paged {who} (level {level_number})",
                    None,
                    {"level": level_number, "target_kind": target_kind, "target_id": target_id},
                )
                if level_number < 2 and level.escalate_after is not None:
                    self._timers.schedule(
                        session,
                        ESCALATE,
                        utcnow() + level.escalate_after,
                        row.id,
                        {"level": level_number + 1, "severity": level.name},
                    )
            assert target_id is not None  # a target kind comes with its id
            assert incident.channel_id is not None  # an open incident has its channel
            if target_kind == "user":
                await self._grant(incident.channel_id, target_id)
            await self._emit(
                IncidentEvent(
                    "paged", incident, None, {"level": level_number, "target_id": target_id}
                )
            )

    async def _grant(self, channel_id: str, user_id: str) -> None:
        """Channel access for a new responder: wanted, but the state change stands without it."""
        try:
            await self._discord.grant_access(channel_id, user_id)
        except (UserError, ExternalServiceError):
            log.warning(
                "could not give <@%s> access to channel %s", user_id, channel_id, exc_info=True
            )

    async def _escalation_target(
        self, level_number: int, incident: Incident, paged: frozenset[str]
    ) -> tuple[str | None, str | None]:
        if level_number == 1:
            secondary = (await self._oncall.at()).secondary_id
            if secondary and secondary != incident.commander_id and secondary not in paged:
                return "user", secondary
            return None, None
        role_id = self._discord.role_id(self._config.discord.admin_role)
        return ("role", role_id) if role_id else (None, None)

    async def _on_response_reminder(self, timer: Timer) -> None:
        async with self._sessions() as session:
            incident = await session.get(Incident, timer.incident_id)
        if not _awaiting_ack(incident):
            return
        level = self.severity(incident.severity)
        assert level.respond_within is not None  # the reminder is only scheduled with one
        due = incident.declared_at + level.respond_within
        who = (
            f"<@{incident.commander_id}>"
            if incident.commander_id
            else "Nobody has acknowledged yet:"
        )
        assert incident.channel_id is not None  # an open incident has its channel
        await self._discord.send(
            incident.channel_id,
            content=f"⏰ {who} the {level.name} response time ({level.response_time}) runs out <t:{int(due.timestamp())}:R>. "
            "Acknowledge with ✅ on the kickoff or `/incident ack`.",
            mention_users=(incident.commander_id,) if incident.commander_id else (),
        )
        async with self._sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            record(
                session,
                row,
                "response_reminder",
                f"Reminder: response time runs out at {due:%H:%M} UTC",
            )

    async def _on_response_breach(self, timer: Timer) -> None:
        async with self._sessions.begin() as session:
            incident = await session.get(Incident, timer.incident_id)
            if not _awaiting_ack(incident):
                return
            if incident.response_breached_at is not None:
                return
            level = self.severity(incident.severity)
            incident.response_breached_at = utcnow()
            record(
                session,
                incident,
                "response_breach",
                f"Response time breached: {level.name} must be answered {level.response_time.lower()}",
            )
        assert incident.channel_id is not None  # an open incident has its channel
        await self._discord.send(
            incident.channel_id,
            content=f"🚨 The {level.name} response time ({level.response_time}) has passed without an acknowledgement. "
            "Recorded in the timeline.",
        )

    # -- changing ------------------------------------------------------------------------
    async def _authorised(
        self, session: AsyncSession, incident: Incident, user_id: str, action: str, doing: str
    ) -> None:
        paged = await self.paged(session, incident.id)
        require(
            self._config.permissions,
            action,
            self.actor(user_id),
            incident.commander_id,
            paged,
            doing=doing,
        )

    async def hand_over(self, incident_id: int, user_id: str, new_commander_id: str) -> Incident:
        member = self._discord.member(new_commander_id)
        if member is None:
            raise NotFound(f"<@{new_commander_id}> is not a member of this server.")
        if member.bot:
            raise UserError("A bot cannot be the incident commander; choose a person.")
        async with self._lock(incident_id), self._sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
            self._require_open(incident)
            await self._authorised(session, incident, user_id, "hand_over", "hand over command")
            if incident.commander_id == new_commander_id:
                raise Conflict(f"<@{new_commander_id}> is already the incident commander.")
            previous = incident.commander_id
            incident.commander_id = new_commander_id
            record(
                session,
                incident,
                "commander",
                f"Command handed over from {f'<@{previous}>' if previous else 'nobody'} to <@{new_commander_id}>",
                user_id,
                {"commander_id": new_commander_id, "previous": previous, "reason": "hand-over"},
            )
            session.add(
                Page(
                    incident_id=incident.id, target_kind="user", target_id=new_commander_id, level=0
                )
            )
        assert incident.channel_id is not None  # an open incident has its channel
        await self._grant(incident.channel_id, new_commander_id)
        await self._emit(
            IncidentEvent("commander_changed", incident, user_id, {"previous": previous})
        )
        return incident

    async def change_severity(
        self, incident_id: int, user_id: str, severity: str
    ) -> tuple[Incident, str]:
        level = self.severity(severity)
        async with self._lock(incident_id), self._sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
            self._require_open(incident)
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
            )
            if incident.acknowledged_at is None:
                # The new level's clock replaces the old one, counted from declaration.
                await self._timers.cancel(session, incident.id, CLOCK_TIMERS)
                self._schedule_clock(session, incident, level)
        await self._emit(
            IncidentEvent("severity_changed", incident, user_id, {"previous": previous})
        )
        return incident, previous

    async def set_status(
        self, incident_id: int, user_id: str, target: Status, note: str | None = None
    ) -> Incident:
        async with self._lock(incident_id), self._sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident #{incident_id}.")
            await self._authorised(
                session, incident, user_id, "change_status", f"mark the incident {target}"
            )
            previous = incident.status
            text = f"Marked {target} by <@{user_id}>" + (f": {note}" if note else "")
            transition(session, incident, target, text, user_id, {"note": note} if note else None)
            if target in (Status.RESOLVED, Status.CLOSED, Status.ACKNOWLEDGED):
                # Triage's own clock stops; other phases' timers (a P3's ticket, a reply to
                # approve) are theirs to end, on the event below.
                await self._timers.cancel(session, incident.id, CLOCK_TIMERS)
        if target in (Status.RESOLVED, Status.CLOSED):
            self._forget(incident_id)
        kind = "resolved" if target is Status.RESOLVED else "status_changed"
        await self._emit(
            IncidentEvent(kind, incident, user_id, {"previous": previous, "note": note})
        )
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

    def _forget(self, incident_id: int) -> None:
        """Drop per-incident memory once it is over, so long-running processes stay small."""
        self._opened.discard(incident_id)
        lock = self._locks.get(incident_id)
        if lock is not None and not lock.locked():
            del self._locks[incident_id]

    @staticmethod
    def _require_open(incident: Incident | None) -> None:
        if incident is None:
            raise NotFound("There is no such incident.")
        if not is_open(incident.status):
            raise Conflict(
                f"The incident is {incident.status}; reopen it first with `/incident reopen`."
            )
