"""``/mitigate pause``: the proposal, the bound signers' ✅, approval, reminders, expiry and
cancellation (shape a: each signer sends the call; the timelock counts them on-chain).

The chain is read (simulation, the head block) before anything is written; the rows change
under the incident's lock; every post is an outbox entry queued in the same transaction.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.chain import SimulationFailed
from bot.core.permissions import record_refusal, require
from bot.errors import Conflict, ExternalServiceError, UserError
from bot.mitigate import rules
from bot.mitigate.actions import BuiltAction, build, new_mitigation
from bot.mitigate.base import EXPIRE, REMIND, WATCH, MitigateDeps
from bot.mitigate.config import PAUSE
from bot.mitigate.posts import AMBER, RED, Poster
from bot.mitigate.rules import CONFIRM_EMOJI, MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation, MitigationConfirmation
from storage.models import Incident

if TYPE_CHECKING:
    from bot.mitigate.safe_flow import SafeProposals

log = logging.getLogger(__name__)
_FOOTER = re.compile(r"^Mitigation #(?P<id>\d+) · incident #(?P<incident>\d+)")


def footer(mitigation: Mitigation) -> str:
    return f"Mitigation #{mitigation.id} · incident #{mitigation.incident_id}"


class Proposals:
    def __init__(self, deps: MitigateDeps, poster: Poster) -> None:
        self.d = deps
        self.poster = poster
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
            session.add(row)
            await session.flush()
            fresh = await queries.existing_incident(session, incident.id)
            self.d.record(
                session,
                fresh,
                "mitigation_proposed",
                f"<@{actor_id}> proposed {action.label}: `{action.function}` on {action.target} "
                f"({threshold} of {config.signers} signers, by "
                f"{row.deadline:%Y-%m-%d %H:%M} UTC)",
                actor_id,
                {"mitigation_id": row.id, "calldata": action.calldata},
            )
            await self._queue_proposal(
                session, row, action, [s.member_id for s in signers], channel_id
            )
            for at in rules.reminder_times(now, row.deadline, config.reminders):
                self.d.timers.schedule(session, REMIND, at, incident.id, {"mitigation_id": row.id})
            self.d.timers.schedule(
                session, EXPIRE, row.deadline, incident.id, {"mitigation_id": row.id}
            )
        return row

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
        await self.poster.queue(
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

    # -- reactions -------------------------------------------------------------------------
    async def mitigation_of_message(self, channel_id: str, message_id: str) -> Mitigation | None:
        async with self.d.sessions() as session:
            unrecorded = await queries.unrecorded_proposals_in(session, channel_id)
        async with self.d.sessions() as session:  # a new read: sees an id stored meanwhile
            row = await queries.mitigation_by_message(session, message_id)
        if row is not None or not unrecorded:  # not unrecorded: no proposal here waits for its id
            return row
        # A ✅ can arrive before the message's id is stored: its footer names the proposal.
        found = _FOOTER.match(await self.d.discord.own_message_footer(channel_id, message_id) or "")
        if found is None:
            return None
        async with self.d.sessions() as session:
            row = await queries.mitigation(session, int(found["id"]))
        if row is None or row.message_id not in (None, message_id):
            return None
        return row

    async def on_reaction(
        self, channel_id: str, message_id: str, user_id: str, reacted_at: datetime | None = None
    ) -> str | None:
        """A ✅ on a proposal: counted once for a bound signer; anything else recorded and
        (for people) removed with a reason. What happened, or None if no proposal."""
        row = await self.mitigation_of_message(channel_id, message_id)
        if row is None:
            return None
        now = reacted_at or self.d.clock.now()
        if user_id == self.d.discord.bot_user_id:
            await self._note(
                row, None, "the bot's own ✅ does not count", "mitigate_reaction_ignored"
            )
            return "ignored"
        signer = await self.d.signers.of_member(user_id)
        reason = None
        if signer is None:
            reason = "only bound signers count (`/signer register`)"
        elif row.state == MitigationState.PROPOSED and now >= row.deadline:
            reason = "the proposal's deadline has passed"
        elif row.state in (MitigationState.EXPIRED, MitigationState.CANCELLED):
            reason = f"the proposal is {row.state}"
        if reason is not None:
            await self._refuse_reaction(row, channel_id, message_id, user_id, reason)
            return "refused"
        assert signer is not None
        if row.safe_tx:
            await self._note(
                row,
                user_id,
                "✅ recorded as intent; a Safe owner signs with `/mitigate sign`",
                "mitigate_intent",
            )
            return "intent"
        if row.state != MitigationState.PROPOSED:
            await self._note(
                row, user_id, "✅ after approval: already approved", "mitigate_reaction_ignored"
            )
            return "ignored"
        async with self.d.changing(row.incident_id) as session:
            fresh = await queries.mitigation(session, row.id)
            assert fresh is not None
            counted = await queries.confirmations(session, row.id, "reaction")
            incident = await queries.existing_incident(session, row.incident_id)
            if fresh.state != MitigationState.PROPOSED:
                return "ignored"
            if any(c.address == signer.address for c in counted):
                self.d.record(
                    session,
                    incident,
                    "mitigate_reaction_ignored",
                    f"<@{user_id}>'s second ✅ on mitigation #{row.id} counts once",
                    user_id,
                    {"mitigation_id": row.id},
                )
                return "ignored"
            session.add(
                MitigationConfirmation(
                    mitigation_id=row.id,
                    via="reaction",
                    member_id=user_id,
                    address=signer.address,
                    at=now,
                )
            )
            count = len(counted) + 1
            self.d.record(
                session,
                incident,
                "mitigation_confirmed",
                f"<@{user_id}> ({signer.address}) confirmed mitigation #{row.id}: "
                f"{count} of {fresh.threshold}",
                user_id,
                {"mitigation_id": row.id, "address": signer.address},
            )
            if count < fresh.threshold:
                return "counted"
            fresh.state = rules.MITIGATIONS.check(fresh.state, MitigationState.APPROVED)
            fresh.approved_at = now
            self.d.record(
                session,
                incident,
                "mitigation_approved",
                f"Mitigation #{row.id} approved by {count} bound signers: they run the command",
                None,
                {"mitigation_id": row.id},
            )
            signer_ids = [s.member_id for s in await self.d.signers.list()]
            await self.poster.queue(
                session,
                f"mitigation:{row.id}:approved",
                row.incident_id,
                channel_id,
                f"✅ Approved: {count} of {fresh.threshold} signers",
                "Each signer now runs, with their own wallet:\n"
                f"```\n{self.command(fresh)}\n```\n"
                "The bot watches the chain and says each confirmation as it lands.",
                footer(fresh),
                content=" ".join(f"<@{m}>" for m in signer_ids) + " run the command now.",
                colour=AMBER,
                mention_users=tuple(signer_ids),
            )
            self.d.timers.schedule(session, WATCH, now, row.incident_id, {"mitigation_id": row.id})
        return "approved"

    async def _note(self, row: Mitigation, user_id: str | None, text: str, kind: str) -> None:
        async with self.d.changing(row.incident_id) as session:
            incident = await queries.existing_incident(session, row.incident_id)
            who = f"<@{user_id}>" if user_id else "The bot"
            self.d.record(
                session,
                incident,
                kind,
                f"{who} on mitigation #{row.id}: {text}",
                user_id,
                {"mitigation_id": row.id},
            )

    async def _refuse_reaction(
        self, row: Mitigation, channel_id: str, message_id: str, user_id: str, reason: str
    ) -> None:
        async with self.d.changing(row.incident_id) as session:
            incident = await queries.existing_incident(session, row.incident_id)
            self.d.record(
                session,
                incident,
                "mitigate_reaction_refused",
                f"<@{user_id}>'s ✅ on mitigation #{row.id} does not count: {reason}",
                user_id,
                {"mitigation_id": row.id, "reason": reason},
            )
            await self.poster.queue(
                session,
                f"mitigation:{row.id}:refused:{user_id}:{reason[:40]}",
                row.incident_id,
                channel_id,
                f"{CONFIRM_EMOJI} removed",
                f"{self.d.discord.plain_name(user_id)}'s {CONFIRM_EMOJI} was removed: {reason}.",
                footer(row),
                colour=AMBER,
            )
        await record_refusal(
            self.d.sessions, self.d.clock, user_id, f"{CONFIRM_EMOJI} reaction", reason, channel_id
        )
        try:
            await self.d.discord.remove_reaction(channel_id, message_id, CONFIRM_EMOJI, user_id)
        except (UserError, ExternalServiceError) as error:
            log.warning("mitigation %s: could not remove a ✅: %s", row.id, error)
