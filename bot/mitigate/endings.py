"""The end of a proposal that never took effect: ``/mitigate cancel``, the reminders
before its deadline, and its expiry at the deadline (durable timers)."""

from __future__ import annotations

from bot.core.permissions import require
from bot.errors import Conflict, NotAllowed
from bot.mitigate import rules
from bot.mitigate.base import AMBER, RED, TIMER_KINDS, MitigateDeps
from bot.mitigate.proposals import Proposals, footer
from bot.mitigate.rules import MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation
from storage.models import Timer


class Endings:
    def __init__(self, deps: MitigateDeps, proposals: Proposals) -> None:
        self.d = deps
        self.proposals = proposals

    async def cancel(self, channel_id: str, actor_id: str) -> Mitigation:
        incident = await self.d.incidents.in_channel(channel_id)
        try:
            require(
                self.d.config.permissions,
                "cancel_mitigation",
                self.d.incidents.actor(actor_id),
                incident.commander_id,
                doing="cancel an emergency action",
            )
        except NotAllowed as error:
            raise await self.proposals.refuse(incident, actor_id, "cancel", error) from None
        async with self.d.changing(incident.id) as session:
            open_ = await queries.mitigations_of(session, incident.id, rules.OPEN)
            if not open_:
                raise Conflict("No emergency action is open in this incident; nothing to cancel.")
            row = open_[-1]
            row.state = rules.MITIGATIONS.check(row.state, MitigationState.CANCELLED)
            row.ended_by = actor_id
            await self.d.timers.cancel(session, incident.id, TIMER_KINDS)
            fresh = await queries.existing_incident(session, incident.id)
            self.d.record(
                session,
                fresh,
                "mitigation_cancelled",
                f"<@{actor_id}> cancelled mitigation #{row.id}",
                actor_id,
                {"mitigation_id": row.id},
            )
            await self.d.post(
                session,
                f"mitigation:{row.id}:cancelled",
                incident.id,
                channel_id,
                "Mitigation cancelled",
                f"<@{actor_id}> cancelled it; a ✅ on it no longer counts.",
                footer(row),
            )
        return row

    async def on_remind(self, timer: Timer) -> None:
        async with self.d.changing(timer.incident_id or 0) as session:
            row = await queries.mitigation(session, int(timer.payload["mitigation_id"]))
            if row is None or row.state not in (MitigationState.PROPOSED, MitigationState.APPROVED):
                return
            incident = await queries.incident(session, row.incident_id)
            if incident is None or incident.channel_id is None:
                return
            counted = len(await queries.confirmations(session, row.id, "reaction"))
            bound = [s.member_id for s in await self.d.signers.list()]
            step = (
                f"{counted} of {row.threshold} ✅ so far"
                if row.state == MitigationState.PROPOSED
                else "approved: run the command"
            )
            await self.d.post(
                session,
                f"mitigation:{row.id}:remind:{timer.id}",
                row.incident_id,
                incident.channel_id,
                "⏰ Mitigation deadline approaching",
                f"{step}; the deadline is <t:{int(row.deadline.timestamp())}:R>.\n"
                f"```\n{self.proposals.command(row)}\n```",
                footer(row),
                content=" ".join(f"<@{m}>" for m in bound) or None,
                colour=AMBER,
                mention_users=tuple(bound),
            )

    async def on_expire(self, timer: Timer) -> None:
        async with self.d.changing(timer.incident_id or 0) as session:
            row = await queries.mitigation(session, int(timer.payload["mitigation_id"]))
            if row is None or row.state not in rules.OPEN:
                return
            incident = await queries.existing_incident(session, row.incident_id)
            row.state = rules.MITIGATIONS.check(row.state, MitigationState.EXPIRED)
            self.d.record(
                session,
                incident,
                "mitigation_expired",
                f"Mitigation #{row.id} expired at its deadline without being applied",
                None,
                {"mitigation_id": row.id},
            )
            if incident.channel_id:
                await self.d.post(
                    session,
                    f"mitigation:{row.id}:expired",
                    row.incident_id,
                    incident.channel_id,
                    "⌛ Mitigation expired",
                    "The deadline passed; a ✅ no longer counts. Propose again if still needed.",
                    footer(row),
                    colour=RED,
                )
