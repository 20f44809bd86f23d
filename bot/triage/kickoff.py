"""The kickoff message: rendered once when the channel opens, then kept current.

``render_kickoff`` builds the message from the incident as it is now: its state,
commander and severity, the playbook's steps filled for this incident
(bot/mitigate/playbook.py: date, slug, configured addresses, the P3 issue link once
recorded), and the Acknowledge button, disabled once acknowledged and gone once resolved.

``KickoffRefresher`` listens on the incident events and edits the kickoff in place:
- outside any incident lock: each edit runs in its own task with a fresh context, so it
  never inherits a lock held by the code that emitted the event (the Discord adapter
  refuses calls made under one);
- coalescing: a change while an edit is under way marks the incident dirty and one more
  edit follows, reading the incident again, so a burst of changes gives at most two
  edits and the last one shows the last state;
- by ``kickoff_message_id``, read from the database for each edit: after a restart the
  same message is edited.

Another phase that records something the kickoff shows (the P3 GitHub issue) asks for
an edit with ``IncidentService.refresh_kickoff``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from bot.adapters.discord_out import ButtonSpec, Embed
from bot.errors import ExternalServiceError, UserError
from bot.mitigate.playbook import PlaybookFacts, playbook_for
from bot.procedure import Severity
from bot.triage.base import (
    ACK_EMOJI,
    SEVERITY_COLOURS,
    IncidentEvent,
    TriageDeps,
    ack_custom_id,
    kickoff_footer,
)
from bot.triage.lifecycle import Status
from bot.triage.naming import incident_day
from storage import incidents as queries
from storage.models import Incident

log = logging.getLogger(__name__)

# Events that change what the kickoff shows ("declared": it was just rendered; "paged":
# nothing on it changes).
REFRESH_ON = frozenset(
    {"acknowledged", "commander_changed", "severity_changed", "status_changed", "resolved"}
)


def render_kickoff(
    d: TriageDeps,
    incident: Incident,
    level: Severity,
    commander_id: str | None,
    slug: str,
) -> tuple[str, Embed, tuple[ButtonSpec, ...]]:
    """The kickoff's ping text, embed and button for ``incident`` as it is now."""
    procedure = d.config.procedure
    admin_role_id = d.discord.role_id(d.config.discord.admin_role)
    respond_by = incident.declared_at + level.respond_within if level.respond_within else None
    facts = PlaybookFacts(
        day=incident_day(incident.declared_at, incident.source, incident.down_since, d.config.zone),
        slug=slug,
        addresses=d.config.mitigate.addresses,
        github_issue_url=incident.github_issue_url,
    )
    # The first kickoff is rendered while the row is still opening: it opens declared.
    status = Status.DECLARED if incident.status == Status.OPENING else Status(incident.status)
    context = {
        "incident": incident,
        "severity": level,
        "status": status,
        "closed": status in (Status.RESOLVED, Status.CLOSED),
        "commander_id": commander_id,
        "admin_role": d.config.discord.admin_role,
        "admin_role_id": admin_role_id,
        "respond_by": respond_by,
        "postmortem_due": procedure.postmortem.due_within,
        "ops_alerts_id": d.ops_alerts_id(),
        "playbook": playbook_for(level, facts),
    }
    rank = min(procedure.rank(level.name), len(SEVERITY_COLOURS) - 1)
    embed = Embed(
        title=f"{level.name} · {incident.title}"[:256],
        description=d.renderer.render("kickoff.md.j2", **context)[:4096],
        colour=SEVERITY_COLOURS[rank],
        footer=kickoff_footer(incident.id),
    )
    ping = d.renderer.render("kickoff_ping.md.j2", **context)
    if context["closed"]:
        return ping, embed, ()  # over: no button at all
    button = ButtonSpec(
        "Acknowledged" if incident.acknowledged_at else "Acknowledge",
        ack_custom_id(incident.id),
        "success",
        ACK_EMOJI,
        disabled=incident.acknowledged_at is not None,
    )
    return ping, embed, (button,)


class KickoffRefresher:
    def __init__(self, deps: TriageDeps) -> None:
        self.d = deps
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def on_event(self, event: IncidentEvent) -> None:
        if event.kind in REFRESH_ON:
            self.refresh(event.incident.id)

    def refresh(self, incident_id: int) -> None:
        """Edit the kickoff to show the incident as it is now (soon, in a task of its own)."""
        self._dirty.add(incident_id)
        if incident_id not in self._tasks:
            # A fresh context: the edit never runs as if holding the emitter's locks.
            self._tasks[incident_id] = asyncio.create_task(
                self._run(incident_id),
                name=f"kickoff-edit-{incident_id}",
                context=contextvars.Context(),
            )

    async def _run(self, incident_id: int) -> None:
        try:
            while incident_id in self._dirty:
                self._dirty.discard(incident_id)
                try:
                    await self._edit(incident_id)
                except (UserError, ExternalServiceError):
                    log.warning(
                        "could not edit the kickoff of incident %s", incident_id, exc_info=True
                    )
                except Exception:
                    log.exception("kickoff edit of incident %s failed", incident_id)
        finally:
            self._tasks.pop(incident_id, None)

    async def _edit(self, incident_id: int) -> None:
        async with self.d.sessions() as session:
            incident = await queries.get(session, incident_id)
        if incident is None or not incident.channel_id or not incident.kickoff_message_id:
            return
        level = self.d.severity(incident.severity)
        _, embed, buttons = render_kickoff(
            self.d, incident, level, incident.commander_id, incident.slug
        )
        await self.d.discord.edit(
            incident.channel_id, incident.kickoff_message_id, embed=embed, buttons=buttons
        )

    async def idle(self) -> None:
        """Wait until every edit asked for so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        self._tasks.clear()
        self._dirty.clear()
