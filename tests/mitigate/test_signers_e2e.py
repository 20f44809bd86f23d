"""The signer registry in the sandbox: a challenge, an EIP-191 signature, one binding; every
bad input refused with a clear message, recorded, and nothing bound."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from sandbox.chain import dev_accounts
from sandbox.control_client import Control
from storage import mitigate as queries
from tests.e2e.helpers import text_of

pytestmark = pytest.mark.manual_clock
(BOB_ADDRESS, BOB_KEY), (OTHER_ADDRESS, OTHER_KEY) = dev_accounts(3)[1:3]
FENCED = re.compile(r"```\n(.*?)\n```", re.DOTALL)


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {"mitigate": {"chain": {"chain_id": 31337}}}


def sign(text: str, key: str) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=text), key).signature.hex().removeprefix(
        "0x"
    )


async def register(control: Control, user: str, address: str) -> str:
    general = await control.channel_id("general")
    return text_of(await control.command(user, general, "signer", "register", address=address))


async def verify(control: Control, user: str, signature: str) -> str:
    general = await control.channel_id("general")
    return text_of(await control.command(user, general, "signer", "verify", signature=signature))


async def bound(bot) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s.member_id, s.address) for s in await bot.services.mitigate.signers.list()]


async def refusals(bot) -> list[str]:  # type: ignore[no-untyped-def]
    guild = str(bot.services.discord.guild.id)
    async with bot.services.sessions() as session:
        return [e.kind for e in await queries.signer_events(session, guild)]


async def test_a_signer_binds_their_address_with_the_signed_challenge(bot, control, clock):
    bob = await control.user_id("bob")
    answer = await register(control, bob, BOB_ADDRESS.lower())
    challenge = FENCED.search(answer).group(1)  # type: ignore[union-attr]
    guild = (await control.world())["guild_id"]
    for part in (
        BOB_ADDRESS,
        f"Discord member: {bob}",
        f"Discord guild: {guild}",
        "Chain id: 31337",
    ):
        assert part in challenge
    assert "Nonce: " in challenge and "Expires: " in challenge
    assert "cast wallet sign" in answer
    assert "Bound" in await verify(control, bob, sign(challenge, BOB_KEY))
    assert await bound(bot) == [(bob, BOB_ADDRESS)]
    # Replayed: the challenge was single-use.
    replay = await verify(control, bob, sign(challenge, BOB_KEY))
    assert "already used" in replay
    listed = text_of(
        await control.command(bob, await control.channel_id("general"), "signer", "list")
    )
    assert BOB_ADDRESS in listed


async def test_bad_signer_input_is_refused_recorded_and_binds_nothing(bot, control, clock):
    bob = await control.user_id("bob")
    wrong = BOB_ADDRESS[:2] + BOB_ADDRESS[2:].swapcase()
    assert "wrong EIP-55 checksum" in await register(control, bob, wrong)
    assert "zero address" in await register(control, bob, "0x" + "0" * 40)
    frank = await control.user_id("frank")
    assert "multisig-signer" in await register(control, frank, OTHER_ADDRESS)
    assert "no challenge" in await verify(control, bob, "0x" + "ab" * 65)

    challenge = FENCED.search(await register(control, bob, BOB_ADDRESS)).group(1)  # type: ignore[union-attr]
    other = await verify(control, bob, sign(challenge, OTHER_KEY))
    assert f"from {OTHER_ADDRESS}, not from {BOB_ADDRESS}" in other
    over_other_text = await verify(control, bob, sign(challenge + "\nextra", BOB_KEY))
    assert "not from" in over_other_text
    assert "not a signature" in await verify(control, bob, "hello")
    clock.advance(timedelta(minutes=16))
    assert "expired" in await verify(control, bob, sign(challenge, BOB_KEY))
    assert await bound(bot) == []
    kinds = await refusals(bot)
    assert kinds.count("register_refused") == 3 and kinds.count("verify_refused") == 5


async def test_only_an_incident_admin_removes_a_signer(bot, control, clock):
    bob, carol, alice = [await control.user_id(n) for n in ("bob", "carol", "alice")]
    challenge = FENCED.search(await register(control, bob, BOB_ADDRESS)).group(1)  # type: ignore[union-attr]
    await verify(control, bob, sign(challenge, BOB_KEY))
    general = await control.channel_id("general")
    refused = text_of(await control.command(carol, general, "signer", "remove", member=bob))
    assert "incident-admin" in refused and await bound(bot) == [(bob, BOB_ADDRESS)]
    removed = text_of(await control.command(alice, general, "signer", "remove", member=bob))
    assert "Removed" in removed and await bound(bot) == []
