"""The follow-up rules applied to one incident (bot/follow_up/rules.py holds the rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import WrongChannel
from bot.follow_up.next_steps import NextSteps, next_steps
from bot.follow_up.rules import FollowUpItem, checklist

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from bot.follow_up.archive import Archive
    from bot.follow_up.closeout import CloseOut
    from bot.follow_up.items import ActionItems
    from bot.follow_up.reminders import Reminders
    from bot.follow_up.stats import StatsService
    from bot.follow_up.tracker import PlanTracker
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident


class FollowUpService:
    # The parts, set by bot.follow_up.build (None only in tests that need the rules alone).
    items: ActionItems
    tracker: PlanTracker
    reminders: Reminders
    closeout: CloseOut
    archive: Archive
    stats: StatsService
    today: Callable[[], date]  # the local date in the configured time zone

    def __init__(self, config: Config, incidents: IncidentService) -> None:
        self._procedure = config.procedure
        self._incidents = incidents

    async def checklist(self, channel_id: str) -> tuple[FollowUpItem, ...]:
        """The follow-up checklist of the incident of ``channel_id``; outside an incident
        channel, the procedure's checklist as it is written (every item)."""
        try:
            incident = await self._incidents.in_channel(channel_id)
        except WrongChannel:
            return tuple(FollowUpItem(text) for text in self._procedure.follow_up)
        return checklist(self._procedure, incident.severity)

    def after_resolving(self, incident: Incident) -> NextSteps | None:
        """What comes next for a resolved ``incident`` (None while it is not resolved)."""
        if incident.resolved_at is None:
            return None
        return next_steps(
            self._procedure,
            severity=incident.severity,
            day=self._incidents.local_date(incident),
            slug=incident.slug,
            resolved_at=incident.resolved_at,
        )
