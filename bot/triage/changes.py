"""Triage's changes of an open incident, as commands ask for them: acknowledge, hand over,
change severity, set the status (resolve, reopen). Each one is "lock, check who may,
change rows, commit, unlock, then act" (grant, the event to the other phases).

``IncidentChanges`` is a part of ``IncidentService`` (bot/triage/service.py), which
holds the dependencies it names.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.permissions import require
from bot.errors import Conflict, NotFound, UserError
from bot.triage.base import CLOCK_TIMERS, IncidentEvent, TriageDeps
from bot.triage.declare import Declarer
from bot.triage.escalation import EscalationClock
from bot.triage.lifecycle import Status, is_open, record, transition
from storage import incidents as queries
from storage.models import Incident, Page


class IncidentChanges:
    deps: TriageDeps
    escalation: EscalationClock
    declarer: Declarer

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
        async with self.deps.sessions() as session:
            incident = await queries.get(session, incident_id)
        if incident is None or incident.status in (Status.OPENING, Status.FAILED):
            raise NotFound(f"There is no incident #{incident_id}.")  # as service.get says
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
