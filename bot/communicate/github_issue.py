"""The GitHub issue a severity asks for: the ticket for the follow-up work, opened once.

It goes through the outbox (``github_issue``, one row per incident): the row first,
then the issue, found again by its hidden marker, so a run that stopped while GitHub
had the request finds the issue instead of opening another. The issue is opened even
when the incident is resolved (or closed) first, e.g. while GitHub was down.

While GitHub does not answer, the timer retries with the timers' backoff and, after its
last try, a fresh timer goes on at the longest wait: the ticket is opened once GitHub is
back, however long it was down. The incident channel is told once that GitHub is not
answering (a ChannelNotice keyed by the incident), /healthz names ``github`` meanwhile
(bot/core/outages.py), and the ticket's link, once opened, says GitHub is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.github import GitHubClient, GitHubError, GitHubRejected, GitHubUnavailable, Issue
from bot.adapters.notices import ChannelNotices
from bot.communicate.base import GITHUB_ISSUE, GITHUB_ISSUE_EFFECT, Deps
from bot.communicate.matrix import is_open, status_label, wants_github_issue
from bot.core.durations import format_duration
from bot.core.outages import Outages
from bot.core.outbox import EffectState, Refused, Retry
from bot.core.timers import MAX_ATTEMPTS, RETRY
from bot.errors import ExternalServiceError
from bot.triage.lifecycle import Status
from storage import communicate as queries
from storage import outbox as outbox_queries
from storage.models import Incident, OutboxEntry, Timer

log = logging.getLogger(__name__)

# The labels and milestone an issue gets (mitigate's ticket schedules it for the next
# sprint, bot/mitigate/ticket.py); None: the incident label alone.
Schedule = Callable[[GitHubClient, Incident], Awaitable[tuple[list[str], int | None]]]


def has_ticket_status(incident: Incident) -> bool:
    """Opened (a channel to link) and not failed: open, resolved or closed."""
    return incident.channel_id is not None and incident.status not in (
        Status.OPENING,
        Status.FAILED,
    )


def effect_key(incident_id: int) -> str:
    return f"github_issue:{incident_id}"


class GitHubIssues:
    def __init__(self, deps: Deps, ops_post_sync: Callable[[int], Awaitable[None]]) -> None:
        self.d = deps
        self._sync_ops_post = ops_post_sync
        self.schedule: Schedule | None = None
        # Severities whose issue opens on declaration beside the matrix's (P3), and a
        # timer whose payload says ``ticket`` (``/mitigate ticket``) opens one for any.
        self.auto_severities: frozenset[str] = frozenset()
        # Set by the composition root (bot/services.py): where an outage is named and told.
        self.outages = Outages()
        self.notices: ChannelNotices | None = None

    def wanted(self, incident: Incident, payload: Mapping[str, Any] | None = None) -> bool:
        level = self.d.incidents.severity(incident.severity)
        return (
            wants_github_issue(level)
            or incident.severity in self.auto_severities
            or bool((payload or {}).get("ticket"))
        )

    def marker(self, incident_id: int) -> str:
        return f"incident-bot:{self.d.discord.guild.id}:{incident_id}"

    async def verify(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        """The outbox's verifier: the issue an interrupted run opened, by its marker."""
        if self.d.github is None or entry.incident_id is None:
            raise RuntimeError("GitHub is not configured: the issue cannot be looked for")
        issue = await self.d.github.find_issue(self.marker(entry.incident_id))
        return _result(issue) if issue else None

    async def ensure_timer(self, session: AsyncSession, incident: Incident) -> None:
        if (
            not self.wanted(incident)
            or incident.github_issue_number is not None
            or not has_ticket_status(incident)
            or await queries.has_pending_timer(session, incident.id, [GITHUB_ISSUE])
        ):
            return
        self.d.timers.schedule(session, GITHUB_ISSUE, self.d.clock.now(), incident.id)

    async def on_timer(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        async with self.d.sessions() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None or not has_ticket_status(incident) or incident.github_issue_number:
            return
        if not self.wanted(incident, timer.payload):
            return
        if self.d.github is None:
            await self._skipped(
                incident,
                "GitHub is not configured (set `[github] owner` and `repo`, and "
                "INCIDENT_BOT_GITHUB_TOKEN)",
            )
            return
        async with self.d.changing(incident_id) as session:
            entry = await outbox_queries.by_key(session, effect_key(incident_id))
            if entry is None:
                entry = self.d.outbox.add(
                    session, GITHUB_ISSUE_EFFECT, effect_key(incident_id), {}, incident_id
                )
                await session.flush()
            entry_id, state = entry.id, entry.state
        if state in (EffectState.FAILED, EffectState.IN_DOUBT):
            # Asked for again (a start, a new event): safe, since the effect looks for the
            # issue by its marker before opening one.
            await self.d.outbox.release(entry_id)
        entry = await self.d.outbox.deliver(entry_id, self._open)
        if entry.state == EffectState.FAILED:
            await self._skipped(incident, entry.last_error or "GitHub refused it")
            return
        if entry.state == EffectState.PENDING:  # GitHub unavailable: the timer retries
            error = entry.last_error or "GitHub is unavailable"
            self.outages.down("github", error)
            await self._tell_down(incident, error)
            if timer.attempts + 1 >= MAX_ATTEMPTS:  # goes on, at the longest wait
                async with self.d.changing(incident_id) as session:
                    self.d.timers.schedule(
                        session,
                        GITHUB_ISSUE,
                        self.d.clock.now() + RETRY.cap,
                        incident_id,
                        dict(timer.payload),
                    )
                return
            raise GitHubUnavailable(error)
        if entry.state != EffectState.DONE:
            return  # in doubt: a person looks (the outbox keeps it)
        await self._opened(incident, entry.result)

    async def _open(self, entry: OutboxEntry) -> Mapping[str, Any]:
        """The effect: find the issue by its marker, or open it."""
        github = self.d.github
        assert github is not None and entry.incident_id is not None
        async with self.d.sessions() as session:
            incident = await queries.incident(session, entry.incident_id)
        assert incident is not None
        level = self.d.incidents.severity(incident.severity)
        marker = self.marker(incident.id)
        try:
            # By marker alone: GitHub silently drops labels a token without push access
            # sets, so an issue an earlier try opened may carry no label at all.
            issue = await github.find_issue(marker)
            if issue is None:
                context = {
                    "incident": incident,
                    "severity": level,
                    "marker": marker,
                    "channel_url": self.d.channel_url(incident.channel_id),
                    "declared_by_name": self.d.name(incident.declared_by),
                    "commander_name": self.d.name(incident.commander_id),
                }
                labels, milestone = [self.d.config.github.incident_label], None
                if self.schedule is not None:
                    labels, milestone = await self.schedule(github, incident)
                issue = await github.create_issue(
                    self.d.renderer.render("github_issue_title.txt.j2", **context)[:256],
                    self.d.renderer.render("github_issue.md.j2", **context),
                    labels,
                    milestone,
                )
        except GitHubRejected as error:
            raise Refused(str(error)) from None
        except GitHubUnavailable as error:  # found by its marker on the next try
            raise Retry(str(error)) from None
        self.outages.up("github")
        return _result(issue)

    async def _tell_down(self, incident: Incident, error: str) -> None:
        """The incident channel told once (per incident) that its ticket waits for GitHub."""
        if self.notices is None or incident.channel_id is None:
            return
        try:
            await self.notices.post(
                f"github-down:{incident.id}",
                incident.channel_id,
                f"⚠️ GitHub is unavailable ({error[:200]}): the ticket will be opened "
                "when it is back, once. Nothing to do here; /healthz names `github` meanwhile.",
                title="The GitHub ticket waits for GitHub",
                colour=0xFEE75C,
                label="GitHub outage",
                incident_id=incident.id,
            )
        except ExternalServiceError as failure:  # Discord too: /healthz still names github
            log.error("incident %s: could not say GitHub is down: %s", incident.id, failure)

    async def _opened(self, incident: Incident, result: Mapping[str, Any]) -> None:
        number, url = int(result["number"]), str(result["url"])
        label = self.d.config.github.incident_label
        async with self.d.changing(incident.id) as session:
            row = await queries.incident(session, incident.id)
            assert row is not None
            if row.github_issue_number is not None:
                return
            row.github_issue_number, row.github_issue_url = number, url
            self.d.record(
                session,
                row,
                "github_issue",
                f"GitHub issue #{number} opened: {url}",
                None,
                {"number": number, "url": url},
            )
        self.d.incidents.refresh_kickoff(incident.id)  # its playbook links the issue
        note = (
            ""
            if label in result.get("labels", ())
            else f" GitHub dropped the `{label}` label: the bot's token lacks push access."
        )
        if result.get("milestone"):
            note = f" Scheduled for the milestone {result['milestone']}.{note}"
        back = "GitHub is back: " if await self._was_told_down(incident.id) else ""
        if row.channel_id:
            await self.d.discord.send(
                row.channel_id,
                content=f"📋 {back}GitHub issue [#{number}]({url}) opened with the "
                f"`{label}` label, linking this channel.{note}",
            )
        if not is_open(row):  # resolved before the issue could be opened: say so
            try:
                await self.comment_resolution(incident.id)
            except GitHubError as error:
                log.warning("incident %s: resolution not added to the issue: %s", row.id, error)
        if row.ops_alerts_message_id is not None:  # it shows the issue's link
            await self._sync_ops_post(incident.id)

    async def _was_told_down(self, incident_id: int) -> bool:
        async with self.d.sessions() as session:
            return await outbox_queries.by_key(session, f"github-down:{incident_id}") is not None

    async def _skipped(self, incident: Incident, reason: str) -> None:
        async with self.d.changing(incident.id) as session:
            row = await queries.incident(session, incident.id)
            assert row is not None
            self.d.record(session, row, "github_issue_failed", f"No GitHub issue: {reason}")
        if incident.channel_id:
            await self.d.discord.send(
                incident.channel_id,
                content=f"⚠️ The procedure wants a GitHub issue for this {incident.severity}, "
                f"but none was opened: {reason}. Open one by hand with the "
                f"`{self.d.config.github.incident_label}` label.",
            )

    async def comment_resolution(self, incident_id: int) -> None:
        """A resolved incident with a GitHub issue says so there (the issue stays open: it is
        the ticket for the follow-up work)."""
        async with self.d.sessions() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None or incident.github_issue_number is None or self.d.github is None:
            return
        level = self.d.incidents.severity(incident.severity)
        duration = incident.resolved_at - incident.declared_at if incident.resolved_at else None
        text = "Resolved in Discord" + (
            f" after {format_duration(duration)}." if duration is not None else "."
        )
        await self.d.github.comment(
            incident.github_issue_number,
            self.d.renderer.render(
                "github_update.md.j2",
                incident=incident,
                severity=level,
                status_label=status_label(incident.status),
                text=text,
                author_name=self.d.name(incident.commander_id) or "the incident bot",
                at=self.d.clock.now(),
                next_due=None,
            ),
        )


def _result(issue: Issue) -> dict[str, Any]:
    return {
        "number": issue.number,
        "url": issue.url,
        "labels": list(issue.labels),
        "milestone": issue.milestone,
    }
