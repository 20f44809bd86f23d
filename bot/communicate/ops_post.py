"""The incident's card in #ops-alerts: posted once, then edited to the incident's state."""

from __future__ import annotations

import logging

from bot.adapters.discord_out import Embed
from bot.communicate.base import Deps
from bot.communicate.matrix import keeps_ops_alerts_post, status_label
from bot.communicate.rules import INITIAL
from bot.procedure import Severity
from bot.triage.lifecycle import Status
from bot.triage.service import SEVERITY_COLOURS
from storage import communicate as queries
from storage.models import Incident, TimelineEvent

log = logging.getLogger(__name__)

RESOLVED_COLOUR = 0x57F287
OPS_CARD = "ops-card"  # the serialiser of one incident's #ops-alerts card


def ops_footer(incident_id: int) -> str:
    return f"Incident #{incident_id}"


class OpsPost:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def sync(self, incident_id: int, look_back: bool = False) -> None:
        """Post the incident's #ops-alerts message, or edit it to the incident's current state.

        One at a time per incident, each reading the state inside, so the last edit shows
        the latest state. ``look_back`` (at start): before posting, look for a post an
        interrupted run made but never recorded, so a crash between sending and storing
        does not post twice.
        """
        async with self.d.serial(OPS_CARD, incident_id):
            await self._sync(incident_id, look_back)

    async def _sync(self, incident_id: int, look_back: bool) -> None:
        async with self.d.sessions() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None or incident.channel_id is None:
                return
            latest = await queries.latest_update(session, incident_id)
            external_url = await queries.posted_url(session, incident_id, INITIAL)
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
        embed = self._embed(incident, level, latest, external_url)
        message_id = incident.ops_alerts_message_id
        if message_id is None and look_back:
            message_id = await self.d.discord.find_own_message(ops_id, embed.footer or "")
        if message_id is not None:
            await self.d.discord.edit(ops_id, message_id, embed=embed)
            if incident.ops_alerts_message_id is not None:
                return
        else:
            message_id = await self.d.discord.send(ops_id, embed=embed)
        async with self.d.changing(incident_id) as session:
            row = await queries.incident(session, incident_id)
            assert row is not None
            row.ops_alerts_message_id = message_id
            self.d.record(
                session,
                row,
                "ops_alerts",
                f"Announced in #{self.d.config.discord.ops_alerts_channel}",
                None,
                {"channel_id": ops_id},
                message_id=message_id,
            )

    def _embed(
        self,
        incident: Incident,
        level: Severity,
        latest: TimelineEvent | None,
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
            footer=ops_footer(incident.id),
            url=self.d.channel_url(incident.channel_id) or None,
        )
