"""The postmortem rule applied to one incident (bot/postmortem/rules.py holds the rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.durations import format_duration
from bot.postmortem.rules import PostmortemDue, postmortem_for

if TYPE_CHECKING:
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident


@dataclass(frozen=True)
class PostmortemStatus:
    severity: str
    due: PostmortemDue | None  # None: the severity needs no postmortem


class PostmortemService:
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
