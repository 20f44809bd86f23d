"""``/mitigate pause``: the proposal, what every proposal shares (refusals, simulation, the
row and its deadline timers) and the command the signers run (shape a: each signer sends
the call; the timelock counts them on-chain). The signers' ✅ are counted in reactions.py;
reminders, expiry and cancellation are in endings.py.

The chain is read (simulation, the head block) before anything is written; the rows change
under the incident's lock; every post is an outbox entry queued in the same transaction.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.chain import SimulationFailed
from bot.core.permissions import require
from bot.errors import Conflict, ExternalServiceError, UserError
from bot.mitigate import rules
from bot.mitigate.actions import BuiltAction, build, new_mitigation
from bot.mitigate.base import EXPIRE, RED, REMIND, MitigateDeps
from bot.mitigate.config import PAUSE
from bot.mitigate.rules import CONFIRM_EMOJI, MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation
from storage.models import Incident

if TYPE_CHECKING:
    from bot.mitigate.safe_flow import SafeProposals

log = logging.getLogger(__name__)
_FOOTER = re.compile(r"^Mitigation #(?P<id>\d+) · incident #(?P<incident>\d+)")


def footer(mitigation: Mitigation) -> str:
    return f"Mitigation #{mitigation.id} · incident #{mitigation.incident_id}"


class Proposals:
    def __init__(self, deps: MitigateDeps) -> None:
        self.d = deps
        self.safe: SafeProposals | None = None  # shape (b), set by the service

    # -- refusing --------------------------------------------------------------------------
    async def refuse(
        self, incident: Incident, actor_id: str, what: str, error: UserError
    ) -> UserError:
        """Record a refusal in the incident's timeline (nothing else changes); the error."""
        async with self.d.changing(incident.id) as session:
            row = await queries.existing_incident(session, incident.id)
            self.d.record(
                session,
                row,
                "mitigate_refused",
                f"<@{actor_id}>: {what} refused: {error}",
                actor_id,
                {"what": what},
            )
        return error

    async def checked_incident(self, channel_id: str, actor_id: str, what: str) -> Incident:
        """The incident of the channel, if it is one whose severity runs on-chain actions."""
        incident = await self.d.incidents.in_channel(channel_id)
        allowed = self.d.config.mitigate.severities
        if incident.severity not in allowed:
            raise await self.refuse(
                incident,
                actor_id,
                what,
                Conflict(
                    f"`/mitigate {what}` is for {', '.join(allowed)} incidents (fund safety); "
                    f"this one is {incident.severity}. Nothing was proposed."
                ),
            )
        return incident

    async def simulate(
        self, incident: Incident, actor_id: str, what: str, action: BuiltAction, sender: str
    ) -> int:
        """eth_call the action as ``sender``; the head block. Refusals are recorded."""
        try:
            chain = self.d.need_chain()
            await chain.simulate(action.target, action.calldata, sender)
            return await chain.block_number()
        except SimulationFailed as error:
            raise await self.refuse(
                incident,
                actor_id,
                what,
                UserError(
                    f"The simulation of `{action.function}` on {action.target} (as {sender}) "
                    f"reverts: **{error.reason}**. Nothing was proposed."
                ),
            ) from None
        except ExternalServiceError as error:
            raise await self.refuse(
                incident, actor_id, what, UserError(f"{error}. Nothing was proposed.")
            ) from None
        except UserError as error:
            raise await self.refuse(incident, actor_id, what, error) from None

    def safe_proposals(self) -> SafeProposals:
        if self.safe is None:
            raise UserError("Safe proposals are not set up.")
        return self.safe

    async def live_threshold(self, incident: Incident, actor_id: str, action: BuiltAction) -> int:
        """The threshold: read from the multisig (``threshold_view`` on the target) when
        configured, else ``[mitigate] threshold``."""
        config = self.d.config.mitigate
        if config.threshold_view is None:
            return config.threshold
        try:
            value = await self.d.need_chain().view(
                action.target, config.threshold_view, [], "uint256"
            )
        except (UserError, ExternalServiceError) as error:
            raise await self.refuse(
                incident,
                actor_id,
                "pause",
                UserError(f"The threshold could not be read ({error}). Nothing was proposed."),
            ) from None
        return int(value)

    # -- proposing -------------------------------------------------------------------------
    async def propose_pause(self, channel_id: str, actor_id: str) -> Mitigation:
        what = "pause"
        incident = await self.checked_incident(channel_id, actor_id, what)
        config = self.d.config.mitigate
        try:
            require(
                self.d.config.permissions,
                "propose_mitigation",
                self.d.incidents.actor(actor_id),
                incident.commander_id,
                doing="propose the emergency pause",
            )
            async with self.d.sessions() as session:
                if await queries.mitigations_of(session, incident.id, rules.OPEN):
                    raise Conflict(
                        "An emergency action is already open for this incident; "
                        "`/mitigate cancel` it first."
                    )
            action = build(config, PAUSE, self.d.names)
            signers = await self.d.signers.list()
            if self.safe is not None and config.safe is not None:
                pass  # shape (b): the Safe's owners, read live, sign; no ✅ counts
            elif not signers:
                raise UserError(
                    "No signer is bound yet (`/signer register`), so no ✅ could count. "
                    "Nothing was proposed."
                )
        except UserError as error:
            raise await self.refuse(incident, actor_id, what, error) from None
        if self.safe is not None and config.safe is not None:
            assert incident.channel_id is not None
            return await self.safe.propose(incident, actor_id, action, incident.channel_id)
        head = await self.simulate(incident, actor_id, what, action, signers[0].address)
        threshold = await self.live_threshold(incident, actor_id, action)
        now = self.d.clock.now()
        async with self.d.changing(incident.id) as session:
            if await queries.mitigations_of(session, incident.id, rules.OPEN):
                raise Conflict("An emergency action was opened for this incident meanwhile.")
            row = new_mitigation(
                incident.id,
                action,
                MitigationState.PROPOSED,
                actor_id,
                now,
                config.deadline,
                head,
                threshold,
            )
            text = (
                f"<@{actor_id}> proposed {action.label}: `{action.function}` on {action.target} "
                f"({threshold} of {config.signers} signers, by "
                f"{row.deadline:%Y-%m-%d %H:%M} UTC)"
            )
            await self.open(session, row, text, {"calldata": action.calldata}, now)
            await self._queue_proposal(
                session, row, action, [s.member_id for s in signers], channel_id
            )
        return row

    async def open(
        self,
        session: AsyncSession,
        row: Mitigation,
        text: str,
        data: dict[str, Any],
        reminders_from: datetime | None = None,
    ) -> Incident:
        """Add the new ``row`` with its "proposed" timeline event (``text``, ``data``) and
        its deadline's timer, plus the reminders of one that waits on signers (from
        ``reminders_from``); the incident, as ``session`` has it."""
        session.add(row)
        await session.flush()
        incident = await queries.existing_incident(session, row.incident_id)
        data = {"mitigation_id": row.id, **data}
        self.d.record(session, incident, "mitigation_proposed", text, row.proposed_by, data)
        if reminders_from is not None:
            for at in rules.reminder_times(
                reminders_from, row.deadline, self.d.config.mitigate.reminders
            ):
                self.d.timers.schedule(
                    session, REMIND, at, row.incident_id, {"mitigation_id": row.id}
                )
        self.d.timers.schedule(
            session, EXPIRE, row.deadline, row.incident_id, {"mitigation_id": row.id}
        )
        return incident

    def command(self, row: Mitigation) -> str:
        rpc = rules.command_rpc(self.d.config.mitigate.chain.command_rpc_url)
        return rules.cast_send(row.target, row.function, row.args, rpc)

    async def _queue_proposal(
        self,
        session: AsyncSession,
        row: Mitigation,
        action: BuiltAction,
        signer_ids: list[str],
        channel_id: str,
    ) -> None:
        config = self.d.config.mitigate
        pings = " ".join(f"<@{m}>" for m in signer_ids)
        description = "\n".join(
            [
                f"**Target:** {row.target}",
                f"**Function:** `{row.function}`",
                f"**Calldata:** `{row.calldata}`",
                f"**Threshold:** {row.threshold} of {config.signers} bound signers",
                f"**Deadline:** <t:{int(row.deadline.timestamp())}:f> "
                f"(<t:{int(row.deadline.timestamp())}:R>)",
                f"**Effect checked:** {action.effect.describe()}",
                "",
                f"Bound signers: react {CONFIRM_EMOJI} to approve. Once "
                f"{row.threshold} have, each runs, with their own wallet:",
                f"```\n{self.command(row)}\n```",
                "The bot never holds a key; it records the mitigation only when the chain "
                "shows the effect.",
            ]
        )
        await self.d.post(
            session,
            f"mitigation:{row.id}:proposal",
            row.incident_id,
            channel_id,
            f"🛑 P0 mitigation proposed: {action.label}",
            description,
            footer(row),
            content=f"{pings} a P0 emergency action needs {row.threshold} signers.".strip(),
            colour=RED,
            mention_users=tuple(signer_ids),
            message_of=row.id,
        )
