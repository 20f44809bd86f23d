"""CommsService: procedure step 2 run by the bot. Listens to incident events, owns the comms
timers, and answers the Communicate cog (updates, approvals, edits)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from bot.adapters.discord_out import DiscordOut
from bot.adapters.github import GitHubClient
from bot.adapters.x import XClient, XCredentials
from bot.communicate.base import (
    ASK,
    EXTERNAL_DUE,
    GITHUB_ISSUE,
    PUBLISH,
    UPDATE_REMINDER,
    Deps,
    hold_incident,
)
from bot.communicate.external import Approval, ExternalComms
from bot.communicate.internal import InternalComms, UpdatePosted
from bot.communicate.matrix import is_open
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError, UserError
from bot.settings import Settings
from bot.triage.lifecycle import OPEN_STATES, Status
from bot.triage.service import IncidentEvent, IncidentService
from storage.models import ExternalPost, Incident
from storage.types import utcnow

log = logging.getLogger(__name__)

RECONCILE_RESOLVED_WITHIN = timedelta(days=1)  # resolved incidents whose post may lag behind
# Timers that serve only a live incident; ended by comms itself on resolution. The GitHub
# issue's timer (GITHUB_ISSUE) is not among them: the ticket is owed after resolution too.
OPEN_ONLY_TIMERS = (UPDATE_REMINDER, EXTERNAL_DUE)


def x_client(settings: Settings) -> XClient | None:
    secrets = settings.secrets
    keys = (
        secrets.x_consumer_key,
        secrets.x_consumer_secret,
        secrets.x_access_token,
        secrets.x_access_token_secret,
    )
    if any(key is None for key in keys):
        return None
    credentials = XCredentials(*(key.get_secret_value() for key in keys))  # type: ignore[union-attr]
    x = settings.config.x
    return XClient(x.api_base, credentials, x.request_timeout.total_seconds())


def github_client(settings: Settings) -> GitHubClient | None:
    github = settings.config.github
    token = settings.secrets.github_token
    if token is None or not github.owner or not github.repo:
        return None
    return GitHubClient(
        github.api_base,
        token.get_secret_value(),
        github.owner,
        github.repo,
        github.api_version,
        github.request_timeout.total_seconds(),
    )


class CommsService:
    def __init__(
        self,
        settings: Settings,
        sessions: Any,
        discord: DiscordOut,
        incidents: IncidentService,
        timers: TimerService,
        renderer: Renderer,
        x: XClient | None = None,
        github: GitHubClient | None = None,
    ) -> None:
        self.deps = Deps(settings.config, sessions, discord, incidents, timers, renderer, x, github)
        self.internal = InternalComms(self.deps)
        self.external = ExternalComms(self.deps, self._after_posted)
        self._tasks: set[asyncio.Task[None]] = set()
        timers.register(GITHUB_ISSUE, self.internal.on_github_issue)
        timers.register(UPDATE_REMINDER, self.internal.on_reminder)
        timers.register(EXTERNAL_DUE, self.external.on_external_due)
        timers.register(PUBLISH, self.external.on_publish)
        timers.register(ASK, self.external.on_ask)

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile after a (re)start: every open incident gets what the matrix owes it."""
        touched = await self.external.reconcile()
        recently = utcnow() - RECONCILE_RESOLVED_WITHIN
        async with self.deps.sessions() as session:
            rows = await session.scalars(
                select(Incident.id).where(
                    or_(
                        Incident.status.in_([s.value for s in OPEN_STATES]),
                        and_(Incident.status == Status.RESOLVED, Incident.resolved_at >= recently),
                    )
                )
            )
            ids = sorted(set(rows) | set(touched))
        for incident_id in ids:
            try:
                await self._reconcile(incident_id)
            except Exception:
                log.exception("comms: could not reconcile incident %s", incident_id)

    async def _reconcile(self, incident_id: int) -> None:
        async with self.deps.lock(incident_id):
            async with self.deps.sessions.begin() as session:
                incident = await hold_incident(session, incident_id)
                if incident is None:
                    return
                await self.internal.ensure_github_timer(session, incident)  # resolved too
                if is_open(incident):
                    await self.internal.ensure_reminder(session, incident)
                else:
                    await self.deps.timers.cancel(session, incident_id, OPEN_ONLY_TIMERS)
            try:
                await self.internal.sync_ops_post(incident_id, look_back=True)
            except (ExternalServiceError, UserError) as error:
                log.warning(
                    "incident %s: #ops-alerts post not brought up to date: %s", incident_id, error
                )
            if is_open(incident):
                await self.external.ensure_external(incident_id)
            else:
                await self.external.request(incident_id, "resolve")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for adapter in (self.deps.x, self.deps.github):
            if adapter is not None:
                await adapter.close()

    async def idle(self) -> None:
        """Wait until the event work started so far is done (tests and shutdown use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- incident events -------------------------------------------------------------------
    async def on_event(self, event: IncidentEvent) -> None:
        """Subscribed to IncidentService. The work runs beside the command that caused it,
        so a slow Discord or GitHub never holds up that command's answer."""
        self._spawn(self._handle(event), f"comms-{event.kind}-{event.incident.id}")

    async def _handle(self, event: IncidentEvent) -> None:
        incident_id = event.incident.id
        try:
            async with self.deps.lock(incident_id):
                await self._apply(event, incident_id)
        except Exception:
            log.exception("comms: %s of incident %s not handled", event.kind, incident_id)

    async def _apply(self, event: IncidentEvent, incident_id: int) -> None:
        kind = event.kind
        if kind == "paged":
            return
        # The durable part first (timer rows), then what only touches Discord.
        async with self.deps.sessions.begin() as session:
            incident = await hold_incident(session, incident_id)
            if incident is None:
                return
            # The issue is the follow-up ticket: owed after resolution too (a retry that
            # a resolution cut short is scheduled again here).
            await self.internal.ensure_github_timer(session, incident)
            if not is_open(incident):
                # Resolved or closed: the comms timers that serve a live incident end here
                # (triage stops only its own clock); the GitHub issue's does not.
                await self.deps.timers.cancel(session, incident_id, OPEN_ONLY_TIMERS)
            elif kind == "declared":
                await self.internal.ensure_reminder(session, incident)
            elif kind == "severity_changed":
                await self.internal.reschedule_reminder(session, incident)
            elif kind == "status_changed":
                await self.internal.ensure_reminder(session, incident)
        await self._quietly(self.internal.sync_ops_post(incident_id), "#ops-alerts post", event)
        reopened = kind == "status_changed" and event.data.get("previous") == Status.RESOLVED
        if kind == "declared":
            await self.external.ensure_external(incident_id)
        elif kind == "severity_changed":
            await self.external.on_severity_changed(incident_id)
        elif kind == "resolved":
            await self.external.on_resolved(incident_id)
            await self._quietly(
                self.internal.comment_resolution(incident_id), "GitHub comment", event
            )
        elif reopened and is_open(incident):
            await self.external.on_reopened(incident_id)

    @staticmethod
    async def _quietly(work: Coroutine[Any, Any, None], what: str, event: IncidentEvent) -> None:
        """A side effect that the next event (or the next start) brings up to date."""
        try:
            await work
        except (ExternalServiceError, UserError) as error:
            log.warning(
                "incident %s (%s): %s not updated: %s", event.incident.id, event.kind, what, error
            )

    async def _after_posted(self, incident_id: int) -> None:
        async with self.deps.lock(incident_id):
            await self.internal.sync_ops_post(incident_id)
            await self.external.request(incident_id, "resolve")

    # -- the cog's entry points ------------------------------------------------------------
    async def post_update(self, channel_id: str, user_id: str, text: str) -> UpdatePosted:
        incident = await self.deps.incidents.in_channel(channel_id)
        return await self.internal.post_update(incident, user_id, text)

    async def approve(
        self, post_id: int, user_id: str, via: str, seen: str | None = None
    ) -> Approval:
        return await self.external.approve(post_id, user_id, via, seen)

    async def approve_by_reaction(
        self, message_id: str, user_id: str, reacted_at: datetime | None = None
    ) -> Approval | None:
        """A ✅ that reached the bot at ``reacted_at`` (default: now, before any waiting)."""
        return await self.external.approve_by_message(message_id, user_id, reacted_at or utcnow())

    async def may_edit(self, post_id: int, user_id: str) -> ExternalPost:
        return await self.external.may_edit(post_id, user_id)

    async def edit(self, post_id: int, user_id: str, text: str) -> ExternalPost:
        return await self.external.edit(post_id, user_id, text)
