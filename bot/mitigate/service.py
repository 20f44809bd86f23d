"""Mitigate for one incident: read it, apply the playbook rule (bot/mitigate/playbook.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.mitigate.playbook import FilledPlaybook, PlaybookFacts, playbook_for

if TYPE_CHECKING:
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident


class MitigateService:
    def __init__(self, config: Config, incidents: IncidentService) -> None:
        self._config = config
        self._incidents = incidents

    def facts(self, incident: Incident) -> PlaybookFacts:
        """What the playbook rule needs of ``incident`` and the configuration."""
        return PlaybookFacts(
            day=self._incidents.local_date(incident),
            slug=incident.slug,
            addresses=self._config.mitigate.addresses,
            github_issue_url=incident.github_issue_url,
        )

    def playbook_of(self, incident: Incident) -> FilledPlaybook:
        level = self._incidents.severity(incident.severity)
        return playbook_for(level, self.facts(incident))

    async def playbook(self, channel_id: str) -> FilledPlaybook:
        """The playbook of the incident of ``channel_id``, filled (WrongChannel elsewhere)."""
        return self.playbook_of(await self._incidents.in_channel(channel_id))
