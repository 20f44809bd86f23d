"""The optional executor: only when ``INCIDENT_BOT_CHAIN_EXECUTOR_KEY`` is set (a relayer
with no authority of its own), the bot submits an approved Safe transaction itself.

The transaction is signed first and its hash and raw bytes are an outbox row before it
is sent. A run that stops while it is out looks it up by hash at start: known to the
node, it was sent (done); unknown, the very same signed bytes (same nonce, same hash)
go out again, never a new transaction. The key is never logged, stored or shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from bot.core.outbox import EffectState, Retry
from bot.errors import ExternalServiceError, UserError
from bot.mitigate.base import AMBER, EXECUTE, RED, MitigateDeps
from bot.mitigate.proposals import footer
from bot.mitigate.rules import MitigationState
from storage import mitigate as queries
from storage import outbox as outbox_queries
from storage.models import OutboxEntry, Timer

log = logging.getLogger(__name__)


class NotSent(Exception):
    """The node did not take the transaction yet: the timer tries again."""


class Executor:
    def __init__(self, deps: MitigateDeps, key: SecretStr) -> None:
        self.d = deps
        self._key = key
        deps.outbox.register_verifier(EXECUTE, self._look_up)

    async def on_timer(self, timer: Timer) -> None:
        mitigation_id = int(timer.payload["mitigation_id"])
        key = f"mitigation:{mitigation_id}:execute"
        async with self.d.sessions() as session:
            row = await queries.mitigation(session, mitigation_id)
            entry = await outbox_queries.by_key(session, key)
        if row is None or row.state != MitigationState.APPROVED or not row.safe_tx:
            return
        chain = self.d.need_chain()
        if entry is None:
            try:
                tx_hash, raw = await chain.sign_call(self._key, row.target, row.calldata)
            except UserError as error:  # the call would revert: say so, send nothing
                await self._tell(row.id, row.incident_id, f"not sent: {error}", RED, "refused")
                return
            async with self.d.changing(row.incident_id) as session:
                entry = await outbox_queries.by_key(session, key)
                if entry is None:
                    entry = self.d.outbox.add(
                        session, EXECUTE, key, {"tx_hash": tx_hash, "raw": raw}, row.incident_id
                    )
                    await session.flush()
        settled = await self.d.outbox.deliver(entry.id, self._send)
        if settled.state == EffectState.PENDING:
            raise NotSent(settled.last_error or "not sent yet")
        if settled.state == EffectState.DONE:
            await self._tell(
                row.id,
                row.incident_id,
                f"the executor sent tx `{settled.payload['tx_hash']}`; the bot reads the effect back",
                AMBER,
                "sent",
            )

    async def _send(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        chain = self.d.need_chain()
        if entry.attempts > 1 and await self._look_up(entry) is not None:
            return {"tx_hash": entry.payload["tx_hash"]}
        try:
            await chain.send_raw(entry.payload["raw"])
        except ExternalServiceError as error:
            if await self._look_up(entry) is not None:
                return {"tx_hash": entry.payload["tx_hash"]}
            raise Retry(str(error)) from error
        return {"tx_hash": entry.payload["tx_hash"]}

    async def _look_up(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        chain = self.d.need_chain()
        known = await chain.transaction_known(entry.payload["tx_hash"])
        return {"tx_hash": entry.payload["tx_hash"]} if known else None

    async def _tell(
        self, mitigation_id: int, incident_id: int, text: str, colour: int, what: str
    ) -> None:
        async with self.d.changing(incident_id) as session:
            row = await queries.mitigation(session, mitigation_id)
            incident = await queries.existing_incident(session, incident_id)
            if row is None or incident.channel_id is None:
                return
            self.d.record(
                session,
                incident,
                f"mitigation_executor_{what}",
                f"Executor: {text}",
                None,
                {"mitigation_id": mitigation_id},
            )
            await self.d.post(
                session,
                f"mitigation:{mitigation_id}:executor:{what}",
                incident_id,
                incident.channel_id,
                "🤖 Executor",
                text,
                footer(row),
                colour=colour,
            )
