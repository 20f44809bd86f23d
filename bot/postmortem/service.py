"""The postmortem rule applied to one incident (bot/postmortem/rules.py holds the rule),
and the phase's services put together: transcript, timeline, notes, draft, deadline,
publishing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.adapters.discord_files import send_text_file
from bot.core.durations import format_duration
from bot.errors import NotFound
from bot.postmortem.rules import PostmortemDue, postmortem_for
from bot.postmortem.status import Report
from storage import postmortem as pm_queries
from storage import transcript as transcript_queries

if TYPE_CHECKING:
    from bot.adapters.discord_out import DiscordOut
    from bot.core.clock import Clock
    from bot.core.permissions import Actor
    from bot.postmortem.deadline import DeadlineService
    from bot.postmortem.drafting import DraftService
    from bot.postmortem.notes import NotesService
    from bot.postmortem.publishing import Publication, PublishService
    from bot.postmortem.timeline import TimelineService
    from bot.postmortem.transcript import TranscriptService
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident


@dataclass(frozen=True)
class PostmortemStatus:
    severity: str
    due: PostmortemDue | None  # None: the severity needs no postmortem


class PostmortemService:
    # The parts, set by bot.postmortem.build (None only in tests that need the rule alone).
    transcript: TranscriptService
    timeline: TimelineService
    notes: NotesService
    drafts: DraftService
    deadline: DeadlineService
    publishing: PublishService

    out: DiscordOut
    clock: Clock

    def __init__(self, config: Config, incidents: IncidentService) -> None:
        self._procedure = config.procedure
        self._incidents = incidents

    def due_of(self, incident: Incident) -> PostmortemDue | None:
        return postmortem_for(
            self._procedure,
            incident.severity,
            self._incidents.local_date(incident),
            incident.slug,
            incident.resolved_at,
        )

    async def status(self, channel_id: str) -> PostmortemStatus:
        """Whether the incident of ``channel_id`` owes a postmortem, where and by when."""
        incident = await self._incidents.in_channel(channel_id)
        level = self._incidents.severity(incident.severity)
        return PostmortemStatus(level.name, self.due_of(incident))

    # -- the commands' work ------------------------------------------------------------------
    async def attach_draft(self, incident: Incident, user_id: str) -> str:
        """Draft the postmortem and attach it to the incident channel; the answer."""
        draft = await self.drafts.draft(incident, mark_drafted_at=self.clock.now())
        channel_id = _channel(incident)
        await send_text_file(
            self.out,
            channel_id,
            draft.filename,
            draft.text,
            f"📝 Postmortem draft `{draft.path}`, drafted by <@{user_id}>.",
        )
        text = f"Drafted `{draft.path}` and attached it to the channel."
        if draft.empty:
            text += " Still empty: " + ", ".join(draft.empty) + "."
        return text

    async def attach_transcript(self, incident: Incident) -> str:
        lines = await self.transcript.lines(incident.id)
        if not lines:
            return "The transcript is empty: no message has been kept for this incident yet."
        name = (
            f"{self.drafts.path_of(incident).rsplit('/', 1)[-1].removesuffix('.md')}-transcript.txt"
        )
        await send_text_file(
            self.out,
            _channel(incident),
            name,
            "\n".join(lines) + "\n",
            f"🗒️ Full transcript ({len(lines)} messages). It stays out of the published postmortem.",
        )
        return f"Attached the full transcript ({len(lines)} messages) to the channel."

    async def report(self, incident: Incident) -> Report:
        draft = await self.drafts.draft(incident)
        state = await self.deadline.state(incident)
        due = self.due_of(incident)
        async with self._incidents.deps.sessions() as session:
            kept = await transcript_queries.count(session, incident.id)
            row = await pm_queries.find_record(session, incident.id)
        return Report(
            self._incidents.severity(incident.severity).name,
            due is not None,
            draft.path,
            state.due_at,
            draft.empty,
            row.published_commit if row else None,
            row.published_at if row else None,
            state.breached_at,
            kept,
        )

    async def publish(self, incident: Incident, actor: Actor) -> Publication:
        draft = await self.drafts.draft(incident, mark_drafted_at=self.clock.now())
        return await self.publishing.publish(incident, draft, actor)


def _channel(incident: Incident) -> str:
    if incident.channel_id is None:
        raise NotFound("This incident has no channel.")
    return incident.channel_id


def render_status(status: PostmortemStatus) -> str:
    """``/incident postmortem``'s answer."""
    due = status.due
    if due is None:
        return f"No postmortem is required for {status.severity}."
    text = (
        f"A postmortem is required for {due.severity} within {format_duration(due.within)}, "
        f"at `{due.path}`."
    )
    if due.due_at is None:
        return text + " The clock starts when the incident is resolved."
    stamp = int(due.due_at.timestamp())
    return text + f" Due <t:{stamp}:f> (<t:{stamp}:R>)."
