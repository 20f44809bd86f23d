"""Internal comms: the #ops-alerts post, the GitHub issue, status updates and their reminders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.discord_out import Embed
from bot.adapters.github import GitHubError, GitHubRejected
from bot.communicate.base import (
    GITHUB_ISSUE,
    UPDATE_REMINDER,
    Deps,
    has_pending_timer,
    hold_incident,
)
from bot.communicate.matrix import (
    is_open,
    keeps_ops_alerts_post,
    next_update_due,
    status_label,
    update_targets,
    wants_github_issue,
)
from bot.core.durations import format_duration
from bot.core.permissions import require
from bot.core.timers import MAX_ATTEMPTS
from bot.errors import Conflict, ExternalServiceError, UserError
from bot.procedure import Severity
from bot.triage.lifecycle import Status, record
from bot.triage.service import SEVERITY_COLOURS
from storage.models import ExternalPost, Incident, TimelineEvent, Timer
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_UPDATE = 1500  # characters: the formatted update must fit one Discord message (2,000)
RESOLVED_COLOUR = 0x57F287


@dataclass(frozen=True)
class LatestUpdate:
    text: str
    at: datetime


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


class InternalComms:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    # -- reading ---------------------------------------------------------------------------
    @staticmethod
    async def latest_update(session: AsyncSession, incident_id: int) -> LatestUpdate | None:
        event = await session.scalar(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "update")
            .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
            .limit(1)
        )
        return LatestUpdate(event.text, event.at) if event else None

    def _name(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        member = self.d.discord.member(user_id)
        return member.display_name if member else f"user {user_id}"

    # -- the #ops-alerts post --------------------------------------------------------------
    async def sync_ops_post(self, incident_id: int, look_back: bool = False) -> None:
        """Post the incident's #ops-alerts message, or edit it to the incident's current state.

        ``look_back`` (at start): before posting, look for a post an interrupted run made
        but never recorded, so a crash between sending and storing does not post twice.
        """
        async with self.d.sessions() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None or incident.channel_id is None:
                return
            latest = await self.latest_update(session, incident_id)
            external_url = await session.scalar(
                select(ExternalPost.url).where(
                    ExternalPost.incident_id == incident_id,
                    ExternalPost.purpose == "initial",
                    ExternalPost.state == "posted",
                )
            )
        level = self.d.incidents.severity(incident.severity)
        if not keeps_ops_alerts_post(level, incident):
            return
        ops_id = self.d.ops_alerts_id()
        if ops_id is None:
            log.warning(
                "incident %s: no #%s channel to announce in",
                incident_id,
                self.d.config.discord.ops_alerts_channel,
            )
            return
        embed = self._ops_embed(incident, level, latest, external_url)
        message_id = incident.ops_alerts_message_id
        if message_id is None and look_back:
            message_id = await self._find_ops_post(ops_id, embed.footer or "")
        if message_id is not None:
            await self.d.discord.edit(ops_id, message_id, embed=embed)
            if incident.ops_alerts_message_id is not None:
                return
        else:
            message_id = await self.d.discord.send(ops_id, embed=embed)
        async with self.d.sessions.begin() as session:
            row = await session.get(Incident, incident_id)
            assert row is not None  # the Incident row is there: read or locked above
            row.ops_alerts_message_id = message_id
            record(
                session,
                row,
                "ops_alerts",
                f"Announced in #{self.d.config.discord.ops_alerts_channel}",
                None,
                {"channel_id": ops_id},
                message_id=message_id,
            )

    async def _find_ops_post(self, ops_id: str, footer: str) -> str | None:
        # DiscordOut.history reads oldest first, so a limit would keep the oldest messages:
        # read it all (this runs only at start, for an open incident with no recorded post).
        bot_id = self.d.discord.bot_user_id
        for message in reversed(await self.d.discord.history(ops_id)):
            if str(message.author.id) == bot_id and any(
                e.footer and e.footer.text == footer for e in message.embeds
            ):
                return str(message.id)
        return None

    def _ops_embed(
        self,
        incident: Incident,
        level: Severity,
        latest: LatestUpdate | None,
        external_url: str | None,
    ) -> Embed:
        rank = min(self.d.config.procedure.rank(level.name), len(SEVERITY_COLOURS) - 1)
        resolved = incident.status in (Status.RESOLVED, Status.CLOSED)
        mark = "✅ " if resolved else ""
        return Embed(
            title=f"{mark}{level.name} · {incident.title}"[:256],
            description=self.d.renderer.render(
                "ops_alerts.md.j2",
                incident=incident,
                severity=level,
                status_label=status_label(incident.status),
                latest_update=latest,
                external_url=external_url,
            )[:4096],
            colour=RESOLVED_COLOUR if resolved else SEVERITY_COLOURS[rank],
            footer=f"Incident #{incident.id}",
            url=self.d.channel_url(incident.channel_id) or None,
        )

    # -- the GitHub issue ------------------------------------------------------------------
    # The issue is the ticket for the next sprint's work, so it is opened even when the
    # incident is resolved (or closed) first, e.g. while GitHub was down.
    async def ensure_github_timer(self, session: AsyncSession, incident: Incident) -> None:
        level = self.d.incidents.severity(incident.severity)
        if (
            not wants_github_issue(level)
            or incident.github_issue_number is not None
            or not _has_ticket_status(incident)
            or await has_pending_timer(session, incident.id, [GITHUB_ISSUE])
        ):
            return
        self.d.timers.schedule(session, GITHUB_ISSUE, utcnow(), incident.id)

    async def on_github_issue(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        async with self.d.lock(incident_id):
            async with self.d.sessions() as session:
                incident = await session.get(Incident, incident_id)
            if incident is None or not _has_ticket_status(incident) or incident.github_issue_number:
                return
            level = self.d.incidents.severity(incident.severity)
            if not wants_github_issue(level):
                return
            if self.d.github is None:
                await self._github_skipped(
                    incident,
                    "GitHub is not configured (set `[github] owner` and `repo`, and "
                    "INCIDENT_BOT_GITHUB_TOKEN)",
                )
                return
            try:
                await self._open_issue(incident, level)
            except GitHubRejected as error:
                await self._github_skipped(incident, str(error))
                return
            except GitHubError as error:
                if timer.attempts + 1 >= MAX_ATTEMPTS:
                    await self._github_skipped(incident, f"{error} (gave up after retries)")
                    return
                raise
            if not is_open(incident):  # resolved before the issue could be opened: say so
                try:
                    await self.comment_resolution(incident_id)
                except GitHubError as error:
                    log.warning(
                        "incident %s: resolution not added to the issue: %s", incident_id, error
                    )
            if incident.ops_alerts_message_id is not None:  # it shows the issue's link
                await self.sync_ops_post(incident_id)

    async def _open_issue(self, incident: Incident, level: Severity) -> None:
        github = self.d.github
        assert github is not None
        label = self.d.config.github.incident_label
        marker = f"incident-bot:{self.d.discord.guild.id}:{incident.id}"
        # By marker alone: GitHub silently drops labels a token without push access sets,
        # so an issue an earlier try opened may carry no label at all.
        issue = await github.find_issue(marker)
        if issue is None:
            context = {
                "incident": incident,
                "severity": level,
                "marker": marker,
                "channel_url": self.d.channel_url(incident.channel_id),
                "declared_by_name": self._name(incident.declared_by),
                "commander_name": self._name(incident.commander_id),
            }
            issue = await github.create_issue(
                self.d.renderer.render("github_issue_title.txt.j2", **context)[:256],
                self.d.renderer.render("github_issue.md.j2", **context),
                [label],
            )
        async with self.d.sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            row.github_issue_number, row.github_issue_url = issue.number, issue.url
            record(
                session,
                row,
                "github_issue",
                f"GitHub issue #{issue.number} opened: {issue.url}",
                None,
                {"number": issue.number, "url": issue.url},
            )
        note = (
            ""
            if label in issue.labels
            else f" GitHub dropped the `{label}` label: the bot's token lacks push access."
        )
        if incident.channel_id:
            await self.d.discord.send(
                incident.channel_id,
                content=f"📋 GitHub issue [#{issue.number}]({issue.url}) opened with the "
                f"`{label}` label, linking this channel.{note}",
            )

    async def _github_skipped(self, incident: Incident, reason: str) -> None:
        async with self.d.sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            record(session, row, "github_issue_failed", f"No GitHub issue: {reason}")
        if incident.channel_id:
            await self.d.discord.send(
                incident.channel_id,
                content=f"⚠️ The procedure wants a GitHub issue for this {incident.severity}, "
                f"but none was opened: {reason}. Open one by hand with the "
                f"`{self.d.config.github.incident_label}` label.",
            )

    # -- status updates --------------------------------------------------------------------
    async def post_update(self, incident: Incident, user_id: str, text: str) -> UpdatePosted:
        async with self.d.sessions() as session:
            paged = await self.d.incidents.paged(session, incident.id)
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
        async with self.d.lock(incident.id):
            async with self.d.sessions() as session:
                fresh = await session.get(Incident, incident.id)
                assert fresh is not None  # the Incident row is there: read or locked above
                incident = fresh
            level = self.d.incidents.severity(incident.severity)
            now = utcnow()
            next_due = next_update_due(level, now) if is_open(incident) else None
            context = {
                "incident": incident,
                "severity": level,
                "status_label": status_label(incident.status),
                "text": text,
                "author_id": user_id,
                "next_due": next_due,
            }
            assert incident.channel_id is not None  # an open incident has its channel
            message_id = await self.d.discord.send(
                incident.channel_id,
                content=self.d.renderer.render("status_update.md.j2", elsewhere=False, **context),
            )
            targets = update_targets(level, incident)
            async with self.d.sessions.begin() as session:
                row = await hold_incident(session, incident.id)
                assert row is not None  # the row is there: read or locked above
                record(
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
                try:
                    assert (
                        incident.github_issue_number is not None
                    )  # targets.github_issue means there is one
                    await self.d.github.comment(
                        incident.github_issue_number,
                        self.d.renderer.render(
                            "github_update.md.j2",
                            author_name=self._name(user_id),
                            at=now,
                            **context,
                        ),
                    )
                except GitHubError as error:
                    problems.append(f"not added to the GitHub issue: {error}")
            try:
                await self.sync_ops_post(incident.id)
            except (ExternalServiceError, UserError) as error:
                log.warning("incident %s: #ops-alerts post not updated: %s", incident.id, error)
        return UpdatePosted(incident, message_id, targets.describe(), next_due, problems)

    async def comment_resolution(self, incident_id: int) -> None:
        """A resolved incident with a GitHub issue says so there (the issue stays open: it is
        the ticket for the follow-up work)."""
        async with self.d.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None or incident.github_issue_number is None or self.d.github is None:
            return
        level = self.d.incidents.severity(incident.severity)
        if not wants_github_issue(level):
            return
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
                author_name=self._name(incident.commander_id) or "the incident bot",
                at=utcnow(),
                next_due=None,
            ),
        )

    # -- update reminders ------------------------------------------------------------------
    async def ensure_reminder(self, session: AsyncSession, incident: Incident) -> None:
        """Schedule the next reminder if the severity wants them and none is pending."""
        level = self.d.incidents.severity(incident.severity)
        if not is_open(incident) or await has_pending_timer(
            session, incident.id, [UPDATE_REMINDER]
        ):
            return
        latest = await self.latest_update(session, incident.id)
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
        async with self.d.lock(incident_id):
            async with self.d.sessions() as session:
                incident = await session.get(Incident, incident_id)
                assert incident is not None  # the Incident row is there: read or locked above
                latest = await self.latest_update(session, incident_id)
            if (
                incident is None
                or not is_open(incident)
                or timer.payload.get("severity") != incident.severity
                or (latest is not None and latest.at > timer.created_at)
            ):
                return  # superseded: resolved, re-classified, or an update came first
            level = self.d.incidents.severity(incident.severity)
            if level.comms.update_every is None:
                return
            assert incident.channel_id is not None  # an open incident has its channel
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
            async with self.d.sessions.begin() as session:
                row = await hold_incident(session, incident_id)
                assert row is not None  # the row is there: read or locked above
                record(
                    session,
                    row,
                    "update_reminder",
                    f"Reminded the commander to post a status update "
                    f"(every {format_duration(level.comms.update_every)})",
                )
                if is_open(row) and row.severity == level.name:
                    self.d.timers.schedule(
                        session,
                        UPDATE_REMINDER,
                        utcnow() + level.comms.update_every,
                        incident_id,
                        {"severity": level.name},
                    )


def _has_ticket_status(incident: Incident) -> bool:
    """Opened (a channel to link) and not failed: open, resolved or closed."""
    return incident.channel_id is not None and incident.status not in (
        Status.OPENING,
        Status.FAILED,
    )


_UPDATABLE = (Status.DECLARED, Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED)
