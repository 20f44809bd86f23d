"""The bound signers' ✅ on a proposal (shape a): counted once for a bound signer, and at
the threshold the proposal is approved and the chain watched; any other ✅ is recorded and,
for a person, removed with a reason. A ✅ on a Safe proposal (shape b) is intent only."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from bot.adapters.reactors import reactors
from bot.core.permissions import record_refusal
from bot.errors import ExternalServiceError, UserError
from bot.mitigate import rules
from bot.mitigate.base import AMBER, WATCH, MitigateDeps
from bot.mitigate.proposals import Proposals, footer
from bot.mitigate.rules import CONFIRM_EMOJI, MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation, MitigationConfirmation

log = logging.getLogger(__name__)
_FOOTER = re.compile(r"^Mitigation #(?P<id>\d+) · incident #(?P<incident>\d+)")


class Reactions:
    def __init__(self, deps: MitigateDeps, proposals: Proposals) -> None:
        self.d = deps
        self.proposals = proposals

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

    async def catch_up(self) -> None:
        """At start: the ✅ made on open proposals while the bot was down (Discord does not
        replay them), each taken as if it arrived now."""
        async with self.d.sessions() as session:
            rows = await queries.open_reaction_proposals(session)
            counted = {
                row.id: {c.member_id for c in await queries.confirmations(session, row.id)}
                for row, _ in rows
            }
        new = 0
        for row, channel_id in rows:
            assert row.message_id is not None
            try:
                users = await reactors(self.d.discord, channel_id, row.message_id, CONFIRM_EMOJI)
            except ExternalServiceError as error:
                log.warning("mitigation #%s: its ✅ could not be read at start: %s", row.id, error)
                continue
            for user_id in users:
                if user_id in counted[row.id] or user_id == self.d.discord.bot_user_id:
                    continue
                new += 1
                await self.on_reaction(channel_id, row.message_id, user_id)
        if new:
            log.info("counted %d ✅ made on open proposals while the bot was down", new)

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
            await self.d.post(
                session,
                f"mitigation:{row.id}:approved",
                row.incident_id,
                channel_id,
                f"✅ Approved: {count} of {fresh.threshold} signers",
                "Each signer now runs, with their own wallet:\n"
                f"```\n{self.proposals.command(fresh)}\n```\n"
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
            await self.d.post(
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
