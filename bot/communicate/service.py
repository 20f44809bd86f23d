"""CommsService: procedure step 2 run by the bot. Listens to incident events, owns the comms
timers, and answers the Communicate cog (updates, approvals, edits)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.github import GitHubClient
from bot.adapters.x import XClient, XCredentials
from bot.communicate.approvals import Approval, Approvals
from bot.communicate.asking import ApprovalMessages
from bot.communicate.base import (
    ASK,
    EXTERNAL_DUE,
    GITHUB_ISSUE,
    GITHUB_ISSUE_EFFECT,
    PUBLISH,
    UPDATE_REMINDER,
    Deps,
)
from bot.communicate.drafts import Drafts
from bot.communicate.github_issue import GitHubIssues
from bot.communicate.matrix import is_open
from bot.communicate.ops_post import OpsPost
from bot.communicate.publishing import Publishing
from bot.communicate.refusals import ReactionRefusals
from bot.communicate.rules import RESOLVE
from bot.communicate.updates import UpdatePosted, Updates
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import Outbox
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError, UserError
from bot.settings import Settings
from bot.triage.lifecycle import OPEN_STATES, Status
from bot.triage.service import IncidentEvent, IncidentService
from storage import communicate as queries
from storage.models import ExternalPost

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
        sessions: async_sessionmaker[AsyncSession],
        discord: DiscordOut,
        incidents: IncidentService,
        timers: TimerService,
        renderer: Renderer,
        x: XClient | None = None,
        github: GitHubClient | None = None,
        clock: Clock | None = None,
        locks: IncidentLocks | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        clock = clock or Clock()
        self.deps = Deps(
            settings.config,
            sessions,
            discord,
            incidents,
            timers,
            renderer,
            x,
            github,
            clock,
            locks or IncidentLocks(),
            outbox or Outbox(sessions, clock),
        )
        self.ops_post = OpsPost(self.deps)
        self.messages = ApprovalMessages(self.deps)
        self.drafts = Drafts(self.deps, self.messages)
        self.approvals = Approvals(self.deps, self.messages, self._spawn)
        self.publishing = Publishing(self.deps, self.messages, self._after_posted)
        self.github_issues = GitHubIssues(self.deps, self.ops_post.sync)
        self.updates = Updates(self.deps, self._sync_ops_post_later)
        self.refusals = ReactionRefusals(self.deps)
        self._tasks: set[asyncio.Task[None]] = set()
        timers.register(GITHUB_ISSUE, self.github_issues.on_timer)
        timers.register(UPDATE_REMINDER, self.updates.on_reminder)
        timers.register(EXTERNAL_DUE, self.drafts.on_external_due)
        timers.register(PUBLISH, self.publishing.on_publish)
        timers.register(ASK, self.messages.on_ask)
        if github is not None:
            self.deps.outbox.register_verifier(GITHUB_ISSUE_EFFECT, self.github_issues.verify)

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile after a (re)start: every open incident gets what the matrix owes it.

        Effects the last run left half-sent were settled before the timers started
        (``IncidentBot.on_ready`` runs ``Outbox.recover`` with every phase's verifier)."""
        touched = await self.publishing.reconcile()
        recently = self.deps.clock.now() - RECONCILE_RESOLVED_WITHIN
        async with self.deps.sessions() as session:
            rows = await queries.incidents_to_reconcile(
                session, [s.value for s in OPEN_STATES], Status.RESOLVED, recently
            )
        for incident_id in sorted(set(rows) | set(touched)):
            try:
                await self._reconcile(incident_id)
            except Exception:
                log.exception("comms: could not reconcile incident %s", incident_id)

    async def _reconcile(self, incident_id: int) -> None:
        async with self.deps.changing(incident_id) as session:
            incident = await queries.hold_incident(session, incident_id)
            if incident is None:
                return
            await self.github_issues.ensure_timer(session, incident)  # resolved too
            if is_open(incident):
                await self.updates.ensure_reminder(session, incident)
            else:
                await self.deps.timers.cancel(session, incident_id, OPEN_ONLY_TIMERS)
        try:
            await self.ops_post.sync(incident_id, look_back=True)
        except (ExternalServiceError, UserError) as error:
            log.warning(
                "incident %s: #ops-alerts post not brought up to date: %s", incident_id, error
            )
        if is_open(incident):
            await self.drafts.ensure_external(incident_id)
        else:
            await self.drafts.request(incident_id, RESOLVE)

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
        so a slow Discord or GitHub never holds up that command's answer. The events of one
        incident are handled one at a time, in order (a serialiser no command waits on)."""
        self._spawn(self._handle(event), f"comms-{event.kind}-{event.incident.id}")

    async def _handle(self, event: IncidentEvent) -> None:
        incident_id = event.incident.id
        try:
            async with self.deps.serial("comms-events", incident_id):
                await self._apply(event, incident_id)
        except Exception:
            log.exception("comms: %s of incident %s not handled", event.kind, incident_id)

    async def _apply(self, event: IncidentEvent, incident_id: int) -> None:
        kind = event.kind
        if kind == "paged":
            return
        # The durable part first (timer rows), then what only touches Discord.
        async with self.deps.changing(incident_id) as session:
            incident = await queries.hold_incident(session, incident_id)
            if incident is None:
                return
            # The issue is the follow-up ticket: owed after resolution too (a retry that
            # a resolution cut short is scheduled again here).
            await self.github_issues.ensure_timer(session, incident)
            if not is_open(incident):
                # Resolved or closed: the comms timers that serve a live incident end here
                # (triage stops only its own clock); the GitHub issue's does not.
                await self.deps.timers.cancel(session, incident_id, OPEN_ONLY_TIMERS)
            elif kind == "declared":
                await self.updates.ensure_reminder(session, incident)
            elif kind == "severity_changed":
                await self.updates.reschedule_reminder(session, incident)
            elif kind == "status_changed":
                await self.updates.ensure_reminder(session, incident)
        await self._quietly(self.ops_post.sync(incident_id), "#ops-alerts post", event)
        reopened = kind == "status_changed" and event.data.get("previous") == Status.RESOLVED
        if kind == "declared":
            await self.drafts.ensure_external(incident_id)
        elif kind == "severity_changed":
            await self.drafts.on_severity_changed(incident_id)
        elif kind == "resolved":
            await self.drafts.on_resolved(incident_id)
            await self._quietly(
                self.github_issues.comment_resolution(incident_id), "GitHub comment", event
            )
        elif reopened and is_open(incident):
            await self.drafts.on_reopened(incident_id)

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
        try:
            await self.ops_post.sync(incident_id)
        except (ExternalServiceError, UserError) as error:
            log.warning("incident %s: #ops-alerts post not updated: %s", incident_id, error)
        await self.drafts.request(incident_id, RESOLVE)

    def _sync_ops_post_later(self, incident_id: int) -> None:
        async def sync() -> None:
            try:
                await self.ops_post.sync(incident_id)
            except (ExternalServiceError, UserError) as error:
                log.warning("incident %s: #ops-alerts post not updated: %s", incident_id, error)

        self._spawn(sync(), f"comms-ops-card-{incident_id}")

    # -- the cog's entry points ------------------------------------------------------------
    async def post_update(self, channel_id: str, user_id: str, text: str) -> UpdatePosted:
        incident = await self.deps.incidents.in_channel(channel_id)
        return await self.updates.post_update(incident, user_id, text)

    async def approve(
        self, post_id: int, user_id: str, via: str, seen: str | None = None
    ) -> Approval:
        return await self.approvals.approve(post_id, user_id, via, seen)

    async def approve_by_reaction(
        self, channel_id: str, message_id: str, user_id: str
    ) -> Approval | None:
        """A ✅ that reached the bot now (stamped before any waiting). A ✅ that may not
        approve is removed and its author told once (NotAllowed, Conflict, UserError are
        answered so, and not raised)."""
        reacted_at = self.deps.clock.now()
        try:
            return await self.approvals.approve_by_message(
                message_id, user_id, reacted_at, channel_id
            )
        except UserError as error:
            await self.refusals.refuse(channel_id, message_id, user_id, "✅", str(error))
            return None

    async def refuse_reaction(
        self, channel_id: str, message_id: str, user_id: str, emoji: str, reason: str
    ) -> None:
        """Any phase's refused reaction: removed, and its author told once per message."""
        await self.refusals.refuse(channel_id, message_id, user_id, emoji, reason)

    async def may_edit(self, post_id: int, user_id: str) -> ExternalPost:
        return await self.approvals.may_edit(post_id, user_id)

    async def edit(self, post_id: int, user_id: str, text: str) -> ExternalPost:
        return await self.approvals.edit(post_id, user_id, text)
