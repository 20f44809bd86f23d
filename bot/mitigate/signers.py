"""The signer registry: a member binds an address by signing a single-use challenge
(EIP-191), and only bound signers' ✅ count on a proposal.

Every refusal (a wrong checksum, the zero address, a signature from another address, a
used or expired challenge) changes nothing and is written to the registry's audit trail
(``signer_events``), with the bindings and removals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.permissions import Actor, require
from bot.errors import Conflict, NotAllowed, NotFound, UserError
from bot.mitigate import rules
from bot.settings import Config
from storage import mitigate as queries
from storage.mitigate_models import Signer, SignerChallenge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Challenge:
    text: str
    expires_at: datetime
    command: str  # how to sign it with cast


class SignerRegistry:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        guild_id: Callable[[], str],
        actor: Callable[[str], Actor],
    ) -> None:
        self._config = config
        self._sessions = sessions
        self._clock = clock
        self._guild_id = guild_id
        self._actor = actor

    @property
    def chain_id(self) -> int:
        return self._config.mitigate.chain.chain_id

    async def _refuse(self, member_id: str, actor_id: str, kind: str, error: UserError) -> NoReturn:
        """Record a refused attempt (nothing else changes), then raise it."""
        async with self._sessions.begin() as session:
            queries.add_signer_event(
                session, self._guild_id(), member_id, actor_id, kind, str(error), self._clock.now()
            )
        log.info("signer registry: %s refused for %s: %s", kind, member_id, error)
        raise error

    # -- register and verify ------------------------------------------------------------------
    async def register(self, member_id: str, address_text: str) -> Challenge:
        """A challenge for ``member_id`` to sign with the key of ``address_text``."""
        try:
            require(
                self._config.permissions,
                "register_signer",
                self._actor(member_id),
                doing="register as a multisig signer",
            )
            address = rules.parse_address(address_text)
        except UserError as refused:
            await self._refuse(member_id, member_id, "register_refused", refused)
        now = self._clock.now()
        expires_at = now + self._config.mitigate.challenge_ttl
        guild = self._guild_id()
        async with self._sessions.begin() as session:
            holder = await queries.signer_of_address(session, guild, address)
            if holder is not None and holder.member_id != member_id:
                error: UserError | None = Conflict(
                    f"{address} is already bound to another member (<@{holder.member_id}>); "
                    "an incident-admin can `/signer remove` it first. Nothing changed."
                )
            else:
                error = None
                nonce = rules.new_nonce()
                text = rules.challenge_text(
                    address, member_id, guild, self.chain_id, nonce, expires_at
                )
                session.add(
                    SignerChallenge(
                        nonce=nonce,
                        guild_id=guild,
                        member_id=member_id,
                        address=address,
                        chain_id=self.chain_id,
                        text=text,
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
        if error is not None:
            await self._refuse(member_id, member_id, "register_refused", error)
        return Challenge(text, expires_at, rules.sign_command(text))

    async def verify(self, member_id: str, signature_text: str) -> Signer:
        """Bind the address that signed the member's open challenge (single use)."""
        try:
            signature = rules.parse_signature(signature_text)
        except UserError as refused:
            await self._refuse(member_id, member_id, "verify_refused", refused)
        guild, now = self._guild_id(), self._clock.now()
        async with self._sessions.begin() as session:
            problem, challenge = await self._open_challenge(session, guild, member_id, now)
            if challenge is not None:
                recovered = _recover(challenge.text, signature)
                if recovered != challenge.address:
                    problem = UserError(
                        f"That signature is from {recovered or 'no valid key'}, not from "
                        f"{challenge.address}, the address of your challenge: sign it with "
                        "that address's key. Nothing changed."
                    )
                elif (holder := await queries.signer_of_address(session, guild, recovered)) and (
                    holder.member_id != member_id
                ):
                    problem = Conflict(f"{recovered} is already bound to another member.")
            if problem is None and challenge is not None:
                challenge.used_at = now
                existing = await queries.signer_of_member(session, guild, member_id)
                if existing is not None:
                    await session.delete(existing)
                    await session.flush()
                signer = Signer(
                    guild_id=guild,
                    member_id=member_id,
                    address=challenge.address,
                    chain_id=challenge.chain_id,
                    bound_at=now,
                )
                session.add(signer)
                queries.add_signer_event(
                    session,
                    guild,
                    member_id,
                    member_id,
                    "bound",
                    f"bound {challenge.address} on chain {challenge.chain_id}",
                    now,
                )
                return signer
        assert problem is not None
        await self._refuse(member_id, member_id, "verify_refused", problem)

    async def _open_challenge(
        self, session: AsyncSession, guild: str, member_id: str, now: datetime
    ) -> tuple[UserError | None, SignerChallenge | None]:
        open_ = await queries.open_challenges(session, guild, member_id, now)
        if open_:
            return None, open_[0]
        latest = await queries.latest_challenge(session, guild, member_id)
        if latest is None:
            return NotFound(
                "You have no challenge to sign: run `/signer register address:` first."
            ), None
        if latest.used_at is not None:
            return Conflict(
                "Your last challenge was already used (each is single-use), so this binds "
                "nothing: run `/signer register address:` for a new one."
            ), None
        return Conflict(
            f"Your challenge expired at {latest.expires_at:%Y-%m-%d %H:%M} UTC: run "
            "`/signer register address:` for a new one. Nothing changed."
        ), None

    # -- reading and removing ---------------------------------------------------------------
    async def list(self) -> list[Signer]:
        async with self._sessions() as session:
            return await queries.signers(session, self._guild_id())

    async def of_member(self, member_id: str) -> Signer | None:
        async with self._sessions() as session:
            return await queries.signer_of_member(session, self._guild_id(), member_id)

    async def remove(self, actor_id: str, member_id: str) -> Signer:
        try:
            require(
                self._config.permissions,
                "remove_signer",
                self._actor(actor_id),
                doing="remove a signer",
            )
        except NotAllowed as refused:
            await self._refuse(member_id, actor_id, "remove_refused", refused)
        guild = self._guild_id()
        async with self._sessions.begin() as session:
            signer = await queries.signer_of_member(session, guild, member_id)
            if signer is not None:
                await queries.remove_signer(session, guild, member_id)
                queries.add_signer_event(
                    session,
                    guild,
                    member_id,
                    actor_id,
                    "removed",
                    f"<@{actor_id}> removed {signer.address}",
                    self._clock.now(),
                )
                return signer
        await self._refuse(
            member_id,
            actor_id,
            "remove_refused",
            NotFound(f"<@{member_id}> is not a bound signer; nothing to remove."),
        )


def _recover(text: str, signature: str) -> str | None:
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # a malformed signature recovers nothing
        return None
