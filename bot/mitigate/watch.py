"""Watching the chain for an approved action: the signers' transactions as they land, and
"Mitigation applied" only once the effect is read back at a block.

A durable timer drives it: each look reads a bounded range of blocks after the cursor
(``scanned_to``), outside any lock, then records what it saw (the cursor moves in the same
transaction) and schedules the next look. Every post is keyed by what it reports (the
transaction hash, the mitigation), so a restart or a second look says nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.chain import ChainClient, SeenTx, SimulationFailed
from bot.errors import ExternalServiceError
from bot.mitigate import rules
from bot.mitigate.base import GREEN, OPS, RED, WATCH, MitigateDeps
from bot.mitigate.config import KILLSWITCH
from bot.mitigate.proposals import footer
from bot.mitigate.rules import MitigationState, ResolvedEffect, short
from storage import mitigate as queries
from storage.mitigate_models import Mitigation, MitigationConfirmation
from storage.models import Incident, Timer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Look:
    """What one look at the chain found."""

    last: int  # the cursor after it
    seen: list[SeenTx]
    applied_by: SeenTx | None  # the first transaction at whose block the effect reads true
    failed_by: SeenTx | None  # a kill switch transaction that succeeded without the effect


class Watcher:
    def __init__(self, deps: MitigateDeps) -> None:
        self.d = deps

    async def on_timer(self, timer: Timer) -> None:
        mitigation_id = int(timer.payload["mitigation_id"])
        async with self.d.sessions() as session:
            row = await queries.mitigation(session, mitigation_id)
        if row is None or row.state not in rules.WATCHED or self.d.chain is None:
            return
        try:
            look = await self.look(self.d.chain, row)
        except (ExternalServiceError, SimulationFailed) as error:
            log.warning("mitigation %s: chain not read this time: %s", row.id, error)
            look = None
        await self.settle(row, look)

    async def look(self, chain: ChainClient, row: Mitigation) -> Look:
        config = self.d.config.mitigate.chain
        head = await chain.block_number() - config.confirmations
        first = row.scanned_to + 1
        last = min(head, first + config.scan_blocks - 1)
        if last < first:
            return Look(row.scanned_to, [], None, None)
        seen = await chain.transactions_to(row.target, row.calldata, first, last)
        effect = ResolvedEffect.from_dict(row.effect)
        applied_by = failed_by = None
        for tx in seen:
            if not tx.success:
                continue
            if await self.effect_at(chain, effect, tx):
                applied_by = tx
                break
            if row.action == KILLSWITCH:
                failed_by = tx
                break
        return Look(last, seen, applied_by, failed_by)

    @staticmethod
    async def effect_at(chain: ChainClient, effect: ResolvedEffect, tx: SeenTx) -> bool:
        """The effect, read at the transaction's block: the view call and/or the event."""
        if effect.view is not None:
            value = await chain.view(
                effect.contract, effect.view, list(effect.args), effect.returns, tx.block
            )
            if not rules.expected(value, effect.expect):
                return False
        if effect.event is not None:
            return await chain.emitted(tx.tx_hash, effect.contract, effect.event)
        return True

    async def settle(self, row: Mitigation, look: Look | None) -> None:
        async with self.d.changing(row.incident_id) as session:
            fresh = await queries.mitigation(session, row.id)
            incident = await queries.incident(session, row.incident_id)
            if fresh is None or incident is None or fresh.state not in rules.WATCHED:
                return
            channel = incident.channel_id or OPS
            if look is not None:
                known = {c.address for c in await queries.confirmations(session, row.id, "chain")}
                signers = {s.address: s.member_id for s in await self.d.signers.list()}
                for tx in look.seen:
                    if not tx.success or tx.sender in known:
                        continue
                    known.add(tx.sender)
                    member = signers.get(tx.sender)
                    session.add(
                        MitigationConfirmation(
                            mitigation_id=row.id,
                            via="chain",
                            member_id=member,
                            address=tx.sender,
                            tx_hash=tx.tx_hash,
                            block=tx.block,
                            at=self.d.clock.now(),
                        )
                    )
                    who = f"<@{member}>" if member else f"{tx.sender} (not a bound signer)"
                    count = len(known)
                    single = fresh.action == KILLSWITCH or bool(fresh.safe_tx)
                    text = (
                        f"Transaction mined: tx {tx.tx_hash} by {who}"
                        if single
                        else f"{count} of {fresh.threshold} on-chain, tx {tx.tx_hash} by {who}"
                    )
                    self.d.record(
                        session,
                        incident,
                        "mitigation_onchain",
                        text,
                        member,
                        {"mitigation_id": row.id, "tx": tx.tx_hash, "block": tx.block},
                    )
                    title = (
                        "⛓️ Transaction mined"
                        if single
                        else f"⛓️ {count} of {fresh.threshold} on-chain"
                    )
                    await self.d.post(
                        session,
                        f"mitigation:{row.id}:tx:{tx.tx_hash}",
                        row.incident_id,
                        channel,
                        title,
                        f"tx `{tx.tx_hash}` by {who} in block {tx.block}.",
                        footer(fresh),
                    )
                fresh.scanned_to = look.last
                if look.applied_by is not None:
                    await self._applied(session, fresh, incident, channel, look.applied_by)
                    return
                if look.failed_by is not None:
                    await self._failed(session, fresh, incident, channel, look.failed_by)
                    return
            self.d.timers.schedule(
                session,
                WATCH,
                self.d.clock.now() + self.d.config.mitigate.chain.poll_every,
                row.incident_id,
                {"mitigation_id": row.id},
            )

    async def _applied(
        self, session: AsyncSession, row: Mitigation, incident: Incident, channel: str, tx: SeenTx
    ) -> None:
        effect = ResolvedEffect.from_dict(row.effect)
        row.state = rules.MITIGATIONS.check(row.state, MitigationState.APPLIED)
        row.applied_at, row.applied_tx, row.applied_block = self.d.clock.now(), tx.tx_hash, tx.block
        text = (
            f"Mitigation applied: {row.function} on {row.target}, tx {tx.tx_hash} in block "
            f"{tx.block} ({effect.describe()}, read back at that block)"
        )
        self.d.record(
            session,
            incident,
            "mitigation_applied",
            text,
            None,
            {"mitigation_id": row.id, "tx": tx.tx_hash, "block": tx.block},
        )
        description = (
            f"**tx** `{tx.tx_hash}`\n**block** {tx.block}\n"
            f"**effect** {effect.describe()}, read back at block {tx.block}."
        )
        await self.d.post(
            session,
            f"mitigation:{row.id}:applied",
            row.incident_id,
            channel,
            "✅ Mitigation applied",
            description,
            footer(row),
            colour=GREEN,
        )
        await self.d.post(
            session,
            f"mitigation:{row.id}:applied:ops",
            row.incident_id,
            OPS,
            f"✅ Mitigation applied (incident #{row.incident_id})",
            f"{row.function} on {row.target}: tx `{short(tx.tx_hash)}`, block {tx.block}.",
            footer(row),
            colour=GREEN,
        )

    async def _failed(
        self, session: AsyncSession, row: Mitigation, incident: Incident, channel: str, tx: SeenTx
    ) -> None:
        effect = ResolvedEffect.from_dict(row.effect)
        row.state = rules.MITIGATIONS.check(row.state, MitigationState.FAILED)
        row.last_error = f"tx {tx.tx_hash} succeeded without the effect"
        text = (
            f"KILL SWITCH FAILED: tx {tx.tx_hash} (block {tx.block}) succeeded but "
            f"{effect.describe()} is not true at that block: nothing was revoked"
        )
        self.d.record(
            session,
            incident,
            "mitigation_failed",
            text,
            None,
            {"mitigation_id": row.id, "tx": tx.tx_hash, "block": tx.block},
        )
        description = (
            f"The transaction `{tx.tx_hash}` (block {tx.block}) **succeeded**, but the chain "
            f"does not show the effect: {effect.describe()} is false. **Nothing was revoked.** "
            "Treat the account as still live: use another path now."
        )
        for where, key in ((channel, "failed"), (OPS, "failed:ops")):
            await self.d.post(
                session,
                f"mitigation:{row.id}:{key}",
                row.incident_id,
                where,
                f"🚨 Kill switch FAILED (incident #{row.incident_id})",
                description,
                footer(row),
                content="🚨 **The kill switch did not work.**",
                colour=RED,
            )
