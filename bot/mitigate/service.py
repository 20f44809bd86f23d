"""Mitigate for one incident: the playbook filled (bot/mitigate/playbook.py) and, for P0,
the on-chain emergency actions (proposals.py, killswitch.py, watch.py) with the signer
registry (signers.py). Built once in bot/services.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.mitigate.base import EXECUTE, EXPIRE, POST, REMIND, WATCH, MitigateDeps
from bot.mitigate.endings import Endings
from bot.mitigate.executor import Executor
from bot.mitigate.killswitch import KillSwitch
from bot.mitigate.playbook import FilledPlaybook, PlaybookFacts, playbook_for
from bot.mitigate.posts import Poster
from bot.mitigate.proposals import Proposals
from bot.mitigate.safe_flow import SafeProposals
from bot.mitigate.watch import Watcher

if TYPE_CHECKING:
    from bot.mitigate.signers import SignerRegistry
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident


class MitigateService:
    def __init__(
        self, config: Config, incidents: IncidentService, deps: MitigateDeps | None = None
    ) -> None:
        self._config = config
        self._incidents = incidents
        self.deps = deps
        if deps is not None:
            self.poster = Poster(deps)
            self.proposals = Proposals(deps, self.poster)
            self.proposals.safe = SafeProposals(deps, self.poster, self.proposals)
            self.killswitch = KillSwitch(deps, self.poster, self.proposals)
            self.watcher = Watcher(deps, self.poster)
            deps.timers.register(POST, self.poster.on_timer)
            deps.timers.register(WATCH, self.watcher.on_timer)
            self.endings = Endings(deps, self.poster, self.proposals)
            deps.timers.register(REMIND, self.endings.on_remind)
            deps.timers.register(EXPIRE, self.endings.on_expire)
            incidents.name_deadline(EXPIRE, "mitigation deadline")
            if deps.executor_key is not None:
                self.executor = Executor(deps, self.poster, deps.executor_key)
                deps.timers.register(EXECUTE, self.executor.on_timer)

    @property
    def signers(self) -> SignerRegistry:
        assert self.deps is not None
        return self.deps.signers

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
