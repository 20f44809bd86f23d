"""Declaring an incident and opening its channel: row, channel, kickoff, pin.

Every step is idempotent by incident id: after a crash the channel is found again by
its topic marker and the kickoff by its footer, so a restart finishes the work without
a second channel or a second ping.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from bot.core.permissions import require
from bot.errors import ExternalServiceError, NotFound, UserError
from bot.procedure import Severity
from bot.triage.base import (
    MAX_SUMMARY,
    Declared,
    IncidentEvent,
    PageState,
    TriageDeps,
    kickoff_footer,
    topic_marker,
)
from bot.triage.duplicates import DUPLICATES_KEY, Duplicate, hold_back
from bot.triage.escalation import EscalationClock
from bot.triage.kickoff import render_kickoff
from bot.triage.lifecycle import Status, record, transition
from bot.triage.naming import channel_name, incident_day, validate_title
from bot.triage.oncall import Resolved
from storage import incidents as queries
from storage.models import Incident, Page, Timer

log = logging.getLogger(__name__)

NAMING_KEY = "triage:channel-naming"
# The pin's safety net: due shortly after the commit that declares, cancelled once the pin
# was tried; a crash in between leaves it to pin the kickoff after the restart.
PIN = "triage:pin-kickoff"
PIN_CHECK_AFTER = timedelta(seconds=15)


def opening_key(incident_id: int) -> tuple[str, int]:
    """Serialises the opening of one incident (its channel and kickoff calls). Only a
    retry of the same declaration waits on it, so it may be held across Discord calls."""
    return ("triage:opening", incident_id)


class Declarer:
    def __init__(self, deps: TriageDeps, clock: EscalationClock) -> None:
        self.d = deps
        self._clock = clock
        # Request keys this process has inserted. A key seen before (a retry) is looked up
        # first; an unseen one is inserted straight away and the unique index catches a
        # retry that reaches another process or outlives a restart.
        self._requested: set[str] = set()
        self._opened: set[int] = set()  # incidents this process finished opening
        deps.timers.register(PIN, self._pin_after_restart)

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
        """``hold_duplicates``: a title matching an open incident declares nothing and
        answers a Duplicate (bot/triage/duplicates.py)."""
        title = validate_title(title)
        level = self.d.severity(severity)
        if summary is not None:
            summary = summary.strip() or None
        if summary and len(summary) > MAX_SUMMARY:
            raise UserError(f"The summary is {len(summary)} characters; keep it to {MAX_SUMMARY}.")
        if actor_id is not None:
            require(
                self.d.config.permissions,
                "declare",
                self.d.actor(actor_id),
                doing="declare an incident",
            )
        args = (actor_id, title, level.name, summary, request_key, source, down_since)
        try:
            async with self.d.locks.hold(DUPLICATES_KEY) if hold_duplicates else nullcontext():
                found = await self._insert_or_find(*args, hold_duplicates=hold_duplicates)
        except IntegrityError:
            # The same request reached the insert first (a concurrent retry, or one from before
            # a restart): use its row, retrying it if it failed, and wait on its opening below.
            found = await self._insert_or_find(*args, lookup=True)
        if isinstance(found, Duplicate):
            return found
        incident, created, oncall = found
        if incident.status == Status.OPENING:
            await self.open(incident, oncall.primary_id, oncall.unresolved, fresh=created)
        async with self.d.sessions() as session:
            current = await queries.get(session, incident.id)
        if current is None or current.status in (Status.OPENING, Status.FAILED):
            raise NotFound(f"There is no incident #{incident.id}.")
        return Declared(current, created)

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
        hold_duplicates: bool = False,
    ) -> tuple[Incident, bool, Resolved] | Duplicate:
        """The incident's row, inserted (or found by its request key), in one transaction
        with the duplicate check (``hold_duplicates``: a Duplicate, its draft saved)."""
        created = False
        async with self.d.sessions.begin() as session:
            incident = None
            if request_key is not None and (lookup or request_key in self._requested):
                incident = await queries.by_request_key(session, request_key)
            if incident is None and hold_duplicates:
                duplicate = await hold_back(
                    session, title, severity, summary, actor_id, request_key
                )
                if duplicate is not None:
                    return duplicate
            if incident is None:
                now = self.d.now()
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
                    at=self.d.now(),
                )
        oncall = await self.d.oncall.at(incident.declared_at)
        if request_key is not None:
            if len(self._requested) >= 10_000:
                self._requested.clear()  # only an optimisation: the unique index stays the rule
            self._requested.add(request_key)
        return incident, created, oncall

    async def resume_opening(self) -> int:
        """After a restart: finish every incident whose channel was being opened."""
        async with self.d.sessions() as session:
            pending = await queries.in_states(session, (Status.OPENING,))
        for incident in pending:
            try:
                oncall = await self.d.oncall.at()
                await self.open(incident, oncall.primary_id, oncall.unresolved)
            except Exception:
                log.exception("could not finish opening incident %s", incident.id)
        return len(pending)

    async def open(
        self,
        incident: Incident,
        commander_id: str | None,
        unresolved: tuple[str, ...],
        fresh: bool = False,
    ) -> None:
        """Channel, kickoff (the commander's ping), then one transaction, then the pin.

        Nothing is written between the row and the kickoff, so the ping goes out
        after a single database round trip.
        """
        async with self.d.locks.hold(opening_key(incident.id), across_calls=True):
            if incident.id in self._opened:
                return
            if not fresh:
                async with self.d.sessions() as session:
                    current = await session.get(Incident, incident.id, populate_existing=True)
                if current is None or current.status != Status.OPENING:
                    return
            level = self.d.severity(incident.severity)
            prefix = self.d.config.procedure.channel_prefix
            channel_id, name, slug = incident.channel_id, incident.channel_name, incident.slug
            kickoff_id = incident.kickoff_message_id
            try:
                if channel_id is None:
                    existing = self.d.discord.channel_by_topic_marker(topic_marker(incident.id))
                    if existing is not None:
                        channel_id, name = str(existing.id), existing.name
                        slug = name.removeprefix(f"{prefix}-")[11:] or name
                        kickoff_id = await self.d.discord.find_own_message(
                            channel_id, kickoff_footer(incident.id)
                        )
                    else:
                        channel_id, name, slug = await self._create_channel(
                            incident, level, commander_id
                        )
                if kickoff_id is None:
                    kickoff_id = await self._send_kickoff(
                        incident, channel_id, level, commander_id, slug
                    )
            except (UserError, ExternalServiceError) as error:
                # The channel is ours (created now, or found by our topic marker): remove it.
                await self._fail_opening(incident, channel_id, error)
                raise
            async with self.d.locks.hold(incident.id):
                incident = await self._finish_opening(
                    incident, channel_id, name, slug, kickoff_id, level, commander_id, unresolved
                )
            self._opened.add(incident.id)
        await self._pin(incident.id, channel_id, kickoff_id)
        async with self.d.sessions.begin() as session:
            await self.d.timers.cancel(session, incident.id, (PIN,))
        await self.d.emit(IncidentEvent("declared", incident, incident.declared_by))

    async def _pin(self, incident_id: int, channel_id: str, kickoff_id: str) -> None:
        try:
            await self.d.discord.pin(channel_id, kickoff_id)
        except (UserError, ExternalServiceError) as error:
            log.warning("could not pin the kickoff of incident %s: %s", incident_id, error)
            await self._say_unpinned(channel_id, error)

    async def _pin_after_restart(self, timer: Timer) -> None:
        """The last run stopped between declaring and pinning: pin the kickoff now."""
        async with self.d.sessions() as session:
            incident = await queries.get(session, timer.incident_id or 0)
        if incident is None or incident.channel_id is None or not incident.kickoff_message_id:
            return
        await self._pin(incident.id, incident.channel_id, incident.kickoff_message_id)

    async def _say_unpinned(self, channel_id: str, error: Exception) -> None:
        """The kickoff stays unpinned: the channel is told why (a missing permission named)."""
        try:
            await self.d.discord.send(
                channel_id, content=f"📌 The kickoff above is not pinned. {error}"
            )
        except (UserError, ExternalServiceError):
            log.warning("could not say in %s that the kickoff is unpinned", channel_id)

    def forget(self, incident_id: int) -> None:
        """Drop per-incident memory once it is over, so long-running processes stay small."""
        self._opened.discard(incident_id)

    async def _create_channel(
        self, incident: Incident, level: Severity, commander_id: str | None
    ) -> tuple[str, str, str]:
        topic = f"{level.name} · {incident.title} {topic_marker(incident.id)}"
        access = (commander_id,) if commander_id else ()
        # Choosing a free channel name and creating it is one step, or two incidents
        # declared at once with the same title would get the same name.
        async with self.d.locks.hold(NAMING_KEY, across_calls=True):
            category = await self.d.discord.ensure_category(
                self.d.config.discord.incidents_category
            )
            name, slug = channel_name(
                self.d.config.procedure.channel_prefix,
                self.local_date(incident),
                incident.title,
                self.d.discord.channel_names(),
                fallback=str(incident.id),
            )
            channel_id = await self.d.discord.create_text_channel(
                name, category, topic[:1024], access
            )
        return channel_id, name, slug

    def local_date(self, incident: Incident) -> date:
        """The incident's day in the team's time zone: its channel name and postmortem file."""
        return incident_day(
            incident.declared_at, incident.source, incident.down_since, self.d.config.zone
        )

    async def _send_kickoff(
        self,
        incident: Incident,
        channel_id: str,
        level: Severity,
        commander_id: str | None,
        slug: str,
    ) -> str:
        content, embed, buttons = render_kickoff(self.d, incident, level, commander_id, slug)
        admin_role_id = self.d.discord.role_id(self.d.config.discord.admin_role)
        return await self.d.discord.send(
            channel_id,
            content=content,
            embed=embed,
            buttons=buttons,
            mention_users=(commander_id,) if commander_id else (),
            mention_roles=(admin_role_id,) if admin_role_id and not commander_id else (),
        )

    async def _fail_opening(
        self, incident: Incident, created_channel_id: str | None, error: Exception
    ) -> None:
        if created_channel_id:
            try:
                await self.d.discord.delete_channel(
                    created_channel_id, "incident could not be opened"
                )
            except Exception:
                log.exception(
                    "could not remove the half-opened channel of incident %s", incident.id
                )
        async with self.d.locks.hold(incident.id), self.d.sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None
            row.channel_id = None
            row.kickoff_message_id = None
            transition(
                session,
                row,
                Status.FAILED,
                f"Could not open the incident channel: {error}",
                at=self.d.now(),
            )

    async def _finish_opening(
        self,
        incident: Incident,
        channel_id: str,
        name: str | None,
        slug: str,
        kickoff_id: str,
        level: Severity,
        commander_id: str | None,
        unresolved: tuple[str, ...],
    ) -> Incident:
        now = self.d.now()
        async with self.d.sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None
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
                at=now,
            )
            if commander_id:
                record(
                    session,
                    row,
                    "commander",
                    f"<@{commander_id}> assigned as incident commander (on call)",
                    None,
                    {"commander_id": commander_id, "reason": "on-call primary"},
                    at=now,
                )
                session.add(
                    Page(
                        incident_id=row.id,
                        target_kind="user",
                        target_id=commander_id,
                        level=0,
                        at=now,
                        state=PageState.SENT,  # the kickoff, sent above, is the ping
                        message_id=kickoff_id,
                    )
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
                    at=now,
                )
            await self._clock.schedule(session, row, level)
            self.d.timers.schedule(session, PIN, now + PIN_CHECK_AFTER, row.id)
        return row
