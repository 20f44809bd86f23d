"""``/mitigate killswitch address:``: the immediate path. The address is checked (a wrong
checksum refused, lowercase accepted, never the zero address), the call simulated, and the
person who ran it confirms with a button; then the exact ``cast send`` command is posted
and the chain watched: a transaction that succeeds without the effect is a failure, said
loudly in the channel and #ops-alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.permissions import allowed, describe
from bot.errors import Conflict, NotAllowed, NotFound, UserError
from bot.mitigate import rules
from bot.mitigate.actions import build, new_mitigation
from bot.mitigate.base import RED, WATCH, MitigateDeps
from bot.mitigate.config import KILLSWITCH
from bot.mitigate.proposals import Proposals, footer
from bot.mitigate.rules import MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation


def confirm_custom_id(mitigation_id: int) -> str:
    return f"mitigate:confirm:{mitigation_id}"


class KillSwitch:
    def __init__(self, deps: MitigateDeps, proposals: Proposals) -> None:
        self.d = deps
        self.proposals = proposals

    async def prepare(self, channel_id: str, actor_id: str, address_text: str) -> Mitigation:
        """Checked and simulated; a row awaiting the runner's Confirm."""
        what = "killswitch"
        incident = await self.proposals.checked_incident(channel_id, actor_id, what)
        try:
            account = rules.parse_address(address_text, "account address")
            signer = await self.d.signers.of_member(actor_id)
            rule = self.d.config.permissions.run_killswitch
            if signer is None and not allowed(rule, self.d.incidents.actor(actor_id)):
                raise NotAllowed(
                    f"Only a bound signer or {describe(rule)} may run the kill switch."
                )
            action = build(self.d.config.mitigate, KILLSWITCH, self.d.names, account)
            signers = await self.d.signers.list()
            sender = signer.address if signer else (signers[0].address if signers else None)
            if sender is None:
                raise UserError("No signer is bound (`/signer register`): nobody could send it.")
        except UserError as error:
            raise await self.proposals.refuse(incident, actor_id, what, error) from None
        head = await self.proposals.simulate(incident, actor_id, what, action, sender)
        now = self.d.clock.now()
        async with self.d.changing(incident.id) as session:
            shown = await self._awaiting(session, incident.id, actor_id, account, now)
            if shown is not None:
                return shown
            row = new_mitigation(
                incident.id,
                action,
                MitigationState.AWAITING_CONFIRM,
                actor_id,
                now,
                self.d.config.mitigate.deadline,
                head,
                1,
                account,
            )
            text = (
                f"<@{actor_id}> prepared the kill switch for {account} "
                f"(`{action.function}` on {action.target}); awaiting their confirmation"
            )
            await self.proposals.open(session, row, text, {"account": account})
        return row

    async def _awaiting(
        self, session: AsyncSession, incident_id: int, actor_id: str, account: str, now: datetime
    ) -> Mitigation | None:
        """The same person's kill switch of the same account still awaiting their Confirm.
        Its answer may never have reached them (the bot stopped before it did), and a
        second row beside it would stay open for good: run again, it is shown again."""
        waiting = await queries.mitigations_of(
            session, incident_id, [MitigationState.AWAITING_CONFIRM]
        )
        return next(
            (
                row
                for row in waiting
                if row.action == KILLSWITCH
                and row.account == account
                and row.proposed_by == actor_id
                and now < row.deadline
            ),
            None,
        )

    async def confirm(self, mitigation_id: int, actor_id: str) -> Mitigation:
        async with self.d.sessions() as session:
            row = await queries.mitigation(session, mitigation_id)
        if row is None:
            raise NotFound("That kill switch no longer exists.")
        if row.proposed_by != actor_id:
            incident = await self.d.incidents.get(row.incident_id)
            raise await self.proposals.refuse(
                incident,
                actor_id,
                "killswitch confirm",
                NotAllowed(f"Only <@{row.proposed_by}>, who ran it, may confirm this kill switch."),
            )
        async with self.d.changing(row.incident_id) as session:
            fresh = await queries.mitigation(session, mitigation_id)
            incident = await queries.existing_incident(session, row.incident_id)
            assert fresh is not None
            if fresh.state != MitigationState.AWAITING_CONFIRM:
                raise Conflict(f"This kill switch is {fresh.state}; nothing to confirm.")
            fresh.state = rules.MITIGATIONS.check(fresh.state, MitigationState.APPROVED)
            fresh.approved_at = self.d.clock.now()
            self.d.record(
                session,
                incident,
                "mitigation_approved",
                f"<@{actor_id}> confirmed the kill switch for {fresh.account}",
                actor_id,
                {"mitigation_id": fresh.id},
            )
            await self.d.post(
                session,
                f"mitigation:{fresh.id}:killswitch",
                fresh.incident_id,
                incident.channel_id or "",
                "🔴 Kill switch: run it now",
                f"Revoke **{fresh.account}**. A signer runs, with their own wallet:\n"
                f"```\n{self.proposals.command(fresh)}\n```\n"
                "The bot checks the effect on-chain; a transaction alone proves nothing.",
                footer(fresh),
                content=f"<@{actor_id}> confirmed the kill switch.",
                colour=RED,
                mention_users=(actor_id,),
            )
            self.d.timers.schedule(
                session, WATCH, self.d.clock.now(), fresh.incident_id, {"mitigation_id": fresh.id}
            )
        return fresh
