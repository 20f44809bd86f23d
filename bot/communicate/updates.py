"""Status updates (``/incident update``) and the reminders to post them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.github import GitHubError
from bot.communicate.base import UPDATE_REMINDER, Deps
from bot.communicate.matrix import is_open, next_update_due, status_label, update_targets
from bot.core.durations import format_duration
from bot.core.permissions import require
from bot.errors import Conflict, ExternalServiceError, UserError
from bot.triage.lifecycle import Status
from storage import communicate as queries
from storage.models import Incident, Timer

log = logging.getLogger(__name__)

MAX_UPDATE = 1500  # characters: the formatted update must fit one Discord message (2,000)
_UPDATABLE = (Status.DECLARED, Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED)


@dataclass(frozen=True)
class UpdatePosted:
    incident: Incident
    message_id: str
    places: list[str]
    next_due: datetime | None
    problems: list[str]


def check_update_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise UserError("The update is empty: say what changed, what is being done, what is next.")
    if len(text) > MAX_UPDATE:
        raise UserError(
            f"The update is {len(text):,} characters; the limit is {MAX_UPDATE:,}. "
            f"Shorten it by {len(text) - MAX_UPDATE:,} characters, or post it as two updates."
        )
    return text


class Updates:
    def __init__(self, deps: Deps, sync_ops_post_later: Callable[[int], None]) -> None:
        self.d = deps
        self._sync_ops_post_later = sync_ops_post_later

    async def post_update(self, incident: Incident, user_id: str, text: str) -> UpdatePosted:
        async with self.d.sessions() as session:
            paged = await self.d.incidents.paged(session, incident.id)
            fresh = await queries.incident(session, incident.id)
        require(
            self.d.config.permissions,
            "post_update",
            self.d.incidents.actor(user_id),
            incident.commander_id,
            paged,
            doing="post a status update",
        )
        if incident.status not in _UPDATABLE:
            raise Conflict(f"The incident is {incident.status}; updates are for live incidents.")
        text = check_update_text(text)
        problems: list[str] = []
        incident = fresh or incident
        assert incident.channel_id is not None
        level = self.d.incidents.severity(incident.severity)
        now = self.d.clock.now()
        next_due = next_update_due(level, now) if is_open(incident) else None
        context = {
            "incident": incident,
            "severity": level,
            "status_label": status_label(incident.status),
            "text": text,
            "author_id": user_id,
            "next_due": next_due,
        }
        message_id = await self.d.discord.send(
            incident.channel_id,
            content=self.d.renderer.render("status_update.md.j2", elsewhere=False, **context),
        )
        targets = update_targets(level, incident)
        async with self.d.changing(incident.id) as session:
            row = await queries.hold_incident(session, incident.id)
            assert row is not None
            self.d.record(
                session,
                row,
                "update",
                text,
                user_id,
                {"places": targets.describe()},
                message_id=message_id,
            )
            await self.d.timers.cancel(session, row.id, [UPDATE_REMINDER])
            if next_due is not None and is_open(row):
                self.d.timers.schedule(
                    session, UPDATE_REMINDER, next_due, row.id, {"severity": level.name}
                )
        # Posted here and recorded: what follows is reported, never raised, so the
        # person does not post the same update twice.
        ops_id = self.d.ops_alerts_id()
        if targets.ops_alerts and ops_id:
            try:
                await self.d.discord.send(
                    ops_id,
                    content=self.d.renderer.render(
                        "status_update.md.j2", elsewhere=True, **context
                    ),
                )
            except (ExternalServiceError, UserError) as error:
                problems.append(f"not posted in #ops-alerts: {error}")
        if targets.github_issue and self.d.github is not None:
            if incident.github_issue_number is None:
                problems.append("not added to the GitHub issue: it is not opened yet")
        if (
            targets.github_issue
            and self.d.github is not None
            and incident.github_issue_number is not None
        ):
            try:
                await self.d.github.comment(
                    incident.github_issue_number,
                    self.d.renderer.render(
                        "github_update.md.j2",
                        author_name=self.d.name(user_id),
                        at=now,
                        **context,
                    ),
                )
            except GitHubError as error:
                problems.append(f"not added to the GitHub issue: {error}")
        self._sync_ops_post_later(incident.id)  # the card shows the latest update
        return UpdatePosted(incident, message_id, targets.describe(), next_due, problems)

    # -- reminders -------------------------------------------------------------------------
    async def ensure_reminder(self, session: AsyncSession, incident: Incident) -> None:
        """Schedule the next reminder if the severity wants them and none is pending."""
        level = self.d.incidents.severity(incident.severity)
        if not is_open(incident) or await queries.has_pending_timer(
            session, incident.id, [UPDATE_REMINDER]
        ):
            return
        latest = await queries.latest_update(session, incident.id)
        due = next_update_due(level, latest.at if latest else incident.declared_at)
        if due is not None:
            self.d.timers.schedule(
                session, UPDATE_REMINDER, due, incident.id, {"severity": level.name}
            )

    async def reschedule_reminder(self, session: AsyncSession, incident: Incident) -> None:
        await self.d.timers.cancel(session, incident.id, [UPDATE_REMINDER])
        await session.flush()
        await self.ensure_reminder(session, incident)

    async def on_reminder(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        async with self.d.sessions() as session:
            incident = await queries.incident(session, incident_id)
            latest = await queries.latest_update(session, incident_id)
        if (
            incident is None
            or incident.channel_id is None
            or not is_open(incident)
            or timer.payload.get("severity") != incident.severity
            or (latest is not None and latest.at > timer.created_at)
        ):
            return  # superseded: resolved, re-classified, or an update came first
        level = self.d.incidents.severity(incident.severity)
        every = level.comms.update_every
        if every is None:
            return
        # The next reminder first (a row), then the message: a failing send is retried
        # by this timer, and the next one is not lost.
        async with self.d.changing(incident_id) as session:
            row = await queries.hold_incident(session, incident_id)
            if row is None or not is_open(row) or row.severity != level.name:
                return
            await self.d.timers.cancel(session, incident_id, [UPDATE_REMINDER])
            self.d.timers.schedule(
                session,
                UPDATE_REMINDER,
                self.d.clock.now() + every,
                incident_id,
                {"severity": level.name},
            )
        await self.d.discord.send(
            incident.channel_id,
            content=self.d.renderer.render(
                "update_reminder.md.j2",
                incident=incident,
                severity=level,
                last_update_at=latest.at if latest else None,
            ),
            mention_users=(incident.commander_id,) if incident.commander_id else (),
        )
        async with self.d.changing(incident_id) as session:
            row = await queries.incident(session, incident_id)
            assert row is not None
            self.d.record(
                session,
                row,
                "update_reminder",
                f"Reminded the commander to post a status update (every {format_duration(every)})",
            )
