"""Mitigate for one incident: the playbook filled (bot/mitigate/playbook.py) and, for P0,
the on-chain emergency actions (proposals.py, killswitch.py, watch.py) with the signer
registry (signers.py). Built once in bot/services.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.mitigate.base import EXECUTE, EXPIRE, REMIND, WATCH, MitigateDeps
from bot.mitigate.endings import Endings
from bot.mitigate.executor import Executor
from bot.mitigate.killswitch import KillSwitch
from bot.mitigate.playbook import FilledPlaybook, PlaybookFacts, playbook_for
from bot.mitigate.proposals import Proposals
from bot.mitigate.reactions import Reactions
from bot.mitigate.safe_flow import SafeProposals
from bot.mitigate.watch import Watcher
from storage import mitigate as queries

if TYPE_CHECKING:
    from bot.mitigate.signers import SignerRegistry
    from bot.settings import Config
    from bot.triage.service import IncidentService
    from storage.models import Incident, OutboxEntry


class MitigateService:
    def __init__(
        self, config: Config, incidents: IncidentService, deps: MitigateDeps | None = None
    ) -> None:
        self._config = config
        self._incidents = incidents
        self.deps = deps
        if deps is not None:
            deps.notices.on_posted(self._store_message_id)
            self.proposals = Proposals(deps)
            self.proposals.safe = SafeProposals(deps, self.proposals)
            self.reactions = Reactions(deps, self.proposals)
            self.killswitch = KillSwitch(deps, self.proposals)
            self.watcher = Watcher(deps)
            deps.timers.register(WATCH, self.watcher.on_timer)
            self.endings = Endings(deps, self.proposals)
            deps.timers.register(REMIND, self.endings.on_remind)
            deps.timers.register(EXPIRE, self.endings.on_expire)
            incidents.name_deadline(EXPIRE, "mitigation deadline")
            if deps.executor_key is not None:
                self.executor = Executor(deps, deps.executor_key)
                deps.timers.register(EXECUTE, self.executor.on_timer)

    async def _store_message_id(self, entry: OutboxEntry) -> None:
        """A proposal's message is posted: its id, for the ✅ reactions on it."""
        mitigation_id = (entry.payload.get("data") or {}).get("message_of")
        message_id = entry.result.get("message_id")
        if mitigation_id is None or message_id is None or entry.incident_id is None:
            return
        assert self.deps is not None
        async with self.deps.changing(entry.incident_id) as session:
            row = await queries.mitigation(session, int(mitigation_id))
            if row is not None and row.message_id is None:
                row.message_id = str(message_id)

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
