"""Shape (b): the emergency pause as a Safe transaction. The bot reads the Safe's owners,
threshold and nonce live, shows the ``safeTxHash`` and the typed data, accepts each
owner's EIP-712 signature (``/mitigate sign``, checked against the live owner set), and at
the threshold shows the ``execTransaction`` command anyone may run; the watch then
proceeds as in shape (a). A ✅ alone is intent, never a signature."""

from __future__ import annotations

import json
from typing import Any

from eth_utils import to_checksum_address

from bot.adapters.chain import ChainClient, calldata
from bot.errors import Conflict, ExternalServiceError, NotFound, UserError
from bot.mitigate import rules, safe
from bot.mitigate.actions import BuiltAction, new_mitigation, resolve
from bot.mitigate.base import AMBER, EXECUTE, RED, WATCH, MitigateDeps
from bot.mitigate.proposals import Proposals, footer
from bot.mitigate.rules import MitigationState
from storage import mitigate as queries
from storage.mitigate_models import Mitigation, MitigationConfirmation
from storage.models import Incident


class SafeProposals:
    def __init__(self, deps: MitigateDeps, proposals: Proposals) -> None:
        self.d = deps
        self.proposals = proposals

    async def live(self, chain: ChainClient, address: str) -> tuple[list[str], int, int]:
        """The Safe's owners, threshold and nonce, read now."""
        owners = await chain.view(address, "getOwners()", [], "address[]")
        threshold = await chain.view(address, "getThreshold()", [], "uint256")
        nonce = await chain.view(address, "nonce()", [], "uint256")
        return [to_checksum_address(str(o)) for o in owners], int(threshold), int(nonce)

    async def propose(
        self, incident: Incident, actor_id: str, action: BuiltAction, channel_id: str
    ) -> Mitigation:
        config = self.d.config.mitigate
        assert config.safe is not None
        what = "pause"
        try:
            address = resolve(config.safe, self.d.names)
            chain = self.d.need_chain()
            owners, threshold, nonce = await self.live(chain, address)
            typed = safe.typed_data(chain.chain_id, address, action.target, action.calldata, nonce)
            local = safe.safe_tx_hash(typed)
            onchain = await chain.view(address, safe.TX_HASH, safe.tx_hash_args(typed), "bytes32")
            if "0x" + bytes(onchain).hex() != local:
                raise UserError(
                    f"The Safe at {address} hashes this transaction differently "
                    f"(0x{bytes(onchain).hex()}, not {local}): is it a Safe v1.4.1? Nothing was proposed."
                )
        except ExternalServiceError as error:
            raise await self.proposals.refuse(
                incident, actor_id, what, UserError(f"{error}. Nothing was proposed.")
            ) from None
        except UserError as error:
            raise await self.proposals.refuse(incident, actor_id, what, error) from None
        head = await self.proposals.simulate(incident, actor_id, what, action, address)
        now = self.d.clock.now()
        async with self.d.changing(incident.id) as session:
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
            row.safe_tx = {
                "safe": address,
                "nonce": nonce,
                "hash": local,
                "typed_data": typed,
                "owners": owners,
            }
            text = (
                f"<@{actor_id}> proposed {action.label} through the Safe {address}: "
                f"safeTxHash {local} ({threshold} of {len(owners)} owners, read live)"
            )
            await self.proposals.open(session, row, text, {"safe_tx_hash": local}, now)
            body = json.dumps(typed, indent=1)
            description = "\n".join(
                [
                    f"**Safe:** {address} (owners and threshold read live: {threshold} of {len(owners)})",
                    f"**Call:** `{action.function}` on {action.target}, calldata `{action.calldata}`",
                    f"**safeTxHash:** `{local}` (nonce {nonce})",
                    f"**Deadline:** <t:{int(row.deadline.timestamp())}:R>",
                    f"**Effect checked:** {action.effect.describe()}",
                    "",
                    "Owners: sign the typed data with your own wallet, e.g.",
                    f"```\n{safe.sign_command(typed)}\n```",
                    "then paste the signature with `/mitigate sign signature:`. "
                    f"A {rules.CONFIRM_EMOJI} is intent, not a signature.",
                    f"```json\n{body}\n```",
                ]
            )
            await self.d.post(
                session,
                f"mitigation:{row.id}:proposal",
                incident.id,
                channel_id,
                f"🛑 P0 mitigation proposed (Safe): {action.label}",
                description,
                footer(row),
                content=f"Safe owners: a P0 emergency action needs {threshold} signatures.",
                colour=RED,
                message_of=row.id,
            )
        return row

    async def sign(
        self, channel_id: str, actor_id: str, signature_text: str
    ) -> tuple[Mitigation, int]:
        """An owner's signature of the open Safe proposal; (the proposal, signatures so far)."""
        incident = await self.d.incidents.in_channel(channel_id)
        what = "sign"
        try:
            signature = rules.parse_signature(signature_text)
            async with self.d.sessions() as session:
                open_ = [
                    m
                    for m in await queries.mitigations_of(
                        session, incident.id, [MitigationState.PROPOSED]
                    )
                    if m.safe_tx
                ]
            if not open_:
                raise NotFound("No Safe proposal is open in this incident: nothing to sign.")
            row = open_[-1]
            if self.d.clock.now() >= row.deadline:
                raise Conflict("The proposal's deadline has passed; a signature no longer counts.")
            typed = row.safe_tx["typed_data"]
            signer = safe.signer_of(typed, signature)
            owners, _threshold, nonce = await self.live(self.d.need_chain(), row.safe_tx["safe"])
            if signer not in owners:
                raise UserError(
                    f"That signature recovers to {signer or 'no valid key'}, which is not an owner "
                    f"of the Safe {row.safe_tx['safe']} now: it was made with another key or over "
                    f"other data than safeTxHash `{row.safe_tx['hash']}`. Nothing changed."
                )
            if nonce != row.safe_tx["nonce"]:
                raise Conflict(
                    f"The Safe's nonce is now {nonce}, not {row.safe_tx['nonce']}: another "
                    "transaction ran first. Cancel and propose again. Nothing changed."
                )
        except ExternalServiceError as error:
            raise await self.proposals.refuse(
                incident, actor_id, what, UserError(str(error))
            ) from None
        except UserError as error:
            raise await self.proposals.refuse(incident, actor_id, what, error) from None
        try:
            return row, await self._count(row, incident, actor_id, signer, signature, channel_id)
        except UserError as error:
            raise await self.proposals.refuse(incident, actor_id, what, error) from None

    async def _count(
        self,
        row: Mitigation,
        incident: Incident,
        actor_id: str,
        signer: str,
        signature: str,
        channel_id: str,
    ) -> int:
        async with self.d.changing(incident.id) as session:
            fresh = await queries.mitigation(session, row.id)
            assert fresh is not None
            if fresh.state != MitigationState.PROPOSED:
                raise Conflict(f"This proposal is {fresh.state}; a signature no longer counts.")
            signed = await queries.confirmations(session, row.id, "safe")
            if any(c.address == signer for c in signed):
                raise Conflict(f"{signer} has signed already; each owner counts once.")
            session.add(
                MitigationConfirmation(
                    mitigation_id=row.id,
                    via="safe",
                    member_id=actor_id,
                    address=signer,
                    signature=signature,
                    at=self.d.clock.now(),
                )
            )
            count = len(signed) + 1
            found = await queries.existing_incident(session, incident.id)
            self.d.record(
                session,
                found,
                "mitigation_signed",
                f"<@{actor_id}> signed the Safe transaction as owner {signer}: "
                f"{count} of {fresh.threshold}",
                actor_id,
                {"mitigation_id": row.id, "owner": signer},
            )
            if count >= fresh.threshold:
                await self._approve(session, fresh, found, channel_id, signed, signer, signature)
        return count

    async def _approve(
        self,
        session: Any,
        row: Mitigation,
        incident: Incident,
        channel_id: str,
        signed: list[MitigationConfirmation],
        signer: str,
        signature: str,
    ) -> None:
        signatures = {c.address: c.signature or "" for c in signed} | {signer: signature}
        args = safe.exec_args(row.safe_tx["typed_data"], signatures)
        row.state = rules.MITIGATIONS.check(row.state, MitigationState.APPROVED)
        row.approved_at = self.d.clock.now()
        row.target, row.function, row.args = row.safe_tx["safe"], safe.EXEC, args
        row.calldata = calldata(safe.EXEC, args)
        self.d.record(
            session,
            incident,
            "mitigation_approved",
            f"Mitigation #{row.id}: {len(signatures)} owners signed; anyone may execute it",
            None,
            {"mitigation_id": row.id},
        )
        await self.d.post(
            session,
            f"mitigation:{row.id}:approved",
            row.incident_id,
            channel_id,
            f"✅ Signed: {len(signatures)} of {row.threshold} owners",
            "Anyone may now execute it (the signatures, in owner order, are in it):\n"
            f"```\n{self.proposals.command(row)}\n```\n"
            "The bot watches the chain for the effect.",
            footer(row),
            colour=AMBER,
        )
        now = self.d.clock.now()
        self.d.timers.schedule(session, WATCH, now, row.incident_id, {"mitigation_id": row.id})
        if self.d.executor_key is not None:
            self.d.timers.schedule(
                session, EXECUTE, now, row.incident_id, {"mitigation_id": row.id}
            )
