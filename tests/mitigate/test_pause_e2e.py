"""P0 emergency pause, shape (a), end to end: the real bot in the sandbox, on anvil, the
signers' transactions sent with cast as a signer would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sandbox.chain import VAULT
from tests.e2e.helpers import ALWAYS_ON_CALL, text_of
from tests.mitigate.conftest import cast_call, cast_send
from tests.mitigate.helpers import (
    declare,
    described,
    propose,
    signed_up,
    timeline,
    titled,
    watched,
)

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]
QUIET = {"escalate_after": "1h", "respond_within": "2h"}


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
        # threshold 3 here: the proposal must say the 2 it reads live from the timelock.
        "mitigate": {"chain": {"poll_every": "5s"}, "threshold": 3},
    }


async def test_p0_pause_needs_two_of_three_bound_signers_and_the_effect_on_chain(
    bot, control, clock, chain
):
    info = await signed_up(control)
    channel = await declare(control, "Vault drained")
    proposal = await propose(control, channel)
    body = described(proposal)
    timelock = info["contracts"]["PRAETOR_TIMELOCK"]
    assert f"**Target:** {timelock}" in body and "`pause()`" in body
    assert "0x8456cb59" in body and "2 of 3" in body
    command = f'cast send {timelock} "pause()" --rpc-url {info["rpc_url"]} --interactive'
    assert command in body
    for signer in info["signers"]:
        assert signer["private_key"][2:] not in body

    # A non-signer's ✅ does not count: removed, with a reason, and recorded.
    frank = await control.user_id("frank")
    await control.react(frank, channel, proposal["id"], "✅")
    await control.wait_for_message(
        channel,
        lambda m: "was removed: only bound signers count" in described(m),
        what="the reason",
    )
    messages = await control.messages(channel)
    [shown] = [m for m in messages if m["id"] == proposal["id"]]
    assert all(frank not in r["user_ids"] for r in shown["reactions"])
    assert any("mitigate_reaction_refused" in e for e in await timeline(bot, channel))

    bob, carol = info["signers"][0], info["signers"][1]
    await control.react(bob["user_id"], channel, proposal["id"], "✅")
    await control.react(carol["user_id"], channel, proposal["id"], "✅")
    approved = await control.wait_for_message(channel, titled("✅ Approved"), what="approval")
    assert command in described(approved)

    # The first signer's transaction lands: 1 of 2 on-chain, and nothing is applied yet.
    first = cast_send(chain, bob["private_key"], timelock, "pause()")
    on_chain = await watched(
        control, clock, channel, lambda m: first in described(m), "1 of 2 on-chain"
    )
    assert titled("⛓️ 1 of 2 on-chain")(on_chain)
    assert not any(titled("✅ Mitigation applied")(m) for m in await control.messages(channel))
    assert cast_call(chain, chain.contracts[VAULT], "paused()(bool)") == "false"

    second = cast_send(chain, carol["private_key"], timelock, "pause()")
    applied = await watched(
        control, clock, channel, titled("✅ Mitigation applied"), "Mitigation applied"
    )
    assert second in described(applied) and first not in described(applied)
    events = await timeline(bot, channel)
    assert any(
        e.startswith("mitigation_applied: Mitigation applied") and second in e for e in events
    )
    ops = await control.channel_id("ops-alerts")
    await control.wait_for_message(ops, titled("✅ Mitigation applied"), what="#ops-alerts")


async def test_an_expired_proposal_cannot_be_approved(bot, control, clock):
    info = await signed_up(control)
    channel = await declare(control, "Oracle hijacked")
    proposal = await propose(control, channel)
    clock.advance(timedelta(hours=24, seconds=1))
    reminder = await control.wait_for_message(
        channel, titled("⏰ Mitigation deadline approaching"), what="the 24 h reminder"
    )
    assert "0 of 2 ✅ so far" in described(reminder)
    clock.advance(timedelta(hours=24))
    await control.wait_for_message(channel, titled("⌛ Mitigation expired"), what="expiry")
    for signer in info["signers"][:2]:
        await control.react(signer["user_id"], channel, proposal["id"], "✅")
    await control.wait_for_message(
        channel, lambda m: "the proposal is expired" in described(m), what="refusal"
    )
    assert not any(titled("✅ Approved")(m) for m in await control.messages(channel))


async def test_pause_is_refused_outside_p0_and_when_the_simulation_reverts(
    bot, control, clock, chain
):
    info = await signed_up(control)
    alice = await control.user_id("alice")
    slow = await declare(control, "Slow pages", "P2")
    answer = text_of(await control.command(alice, slow, "mitigate", "pause"))
    assert "is for P0 incidents" in answer and "P2" in answer

    channel = await declare(control, "Bridge exploit")
    # The vault is already paused (by two signers, outside the bot): the call would revert.
    for signer in info["signers"][:2]:
        cast_send(chain, signer["private_key"], info["contracts"]["PRAETOR_TIMELOCK"], "pause()")
    answer = text_of(await control.command(alice, channel, "mitigate", "pause"))
    assert "reverts: **PraetorTimelock: target already paused**" in answer
    assert not any(titled("🛑")(m) for m in await control.messages(channel))
    events = await timeline(bot, channel)
    assert any("mitigate_refused" in e and "already paused" in e for e in events)


async def test_a_cancelled_proposal_counts_no_more_check_marks(bot, control, clock):
    info = await signed_up(control)
    channel = await declare(control, "Governance takeover")
    proposal = await propose(control, channel)
    bob = info["signers"][0]["user_id"]
    refused = text_of(await control.command(bob, channel, "mitigate", "cancel"))
    assert "may cancel" in refused
    alice = await control.user_id("alice")
    assert "cancelled" in text_of(await control.command(alice, channel, "mitigate", "cancel"))
    await control.react(bob, channel, proposal["id"], "✅")
    await control.wait_for_message(
        channel, lambda m: "the proposal is cancelled" in described(m), what="refusal"
    )
    events = await timeline(bot, channel)
    assert any(e.startswith("mitigation_cancelled") for e in events)
    assert not any(e.startswith("mitigation_confirmed") for e in events)


async def test_the_on_chain_confirmations_are_posted_before_mitigation_applied(
    bot, control, clock, chain
):
    # Both transactions land before the watch looks: one look queues "1 of 2", "2 of 2"
    # and "Mitigation applied" together. The first post is refused once by Discord (a
    # 500, which discord.py retries after a second); the later ones wait for it.
    info = await signed_up(control)
    channel = await declare(control, "Vault drained")
    proposal = await propose(control, channel)
    bob, carol = info["signers"][0], info["signers"][1]
    await control.react(bob["user_id"], channel, proposal["id"], "✅")
    await control.react(carol["user_id"], channel, proposal["id"], "✅")
    await control.wait_for_message(channel, titled("✅ Approved"), what="approval")
    timelock = info["contracts"]["PRAETOR_TIMELOCK"]
    cast_send(chain, bob["private_key"], timelock, "pause()")
    cast_send(chain, carol["private_key"], timelock, "pause()")
    await control.fault(
        "server_error", count=1, path_prefix=f"/api/v10/channels/{channel}/messages"
    )
    await watched(control, clock, channel, titled("✅ Mitigation applied"), "Mitigation applied")
    await control.wait_for(
        lambda: _titles(control, channel, "⛓️ 2 of 2 on-chain"), what="2 of 2 on-chain"
    )
    titles = await _titles(control, channel)
    order = [t for t in titles if t.startswith(("⛓️", "✅ Mitigation applied"))]
    assert order == ["⛓️ 1 of 2 on-chain", "⛓️ 2 of 2 on-chain", "✅ Mitigation applied"]


async def _titles(control, channel: str, wanted: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """The channel's embed titles in the order Discord took the messages."""
    messages = sorted(await control.messages(channel), key=lambda m: int(m["id"]))
    titles = [e.get("title") or "" for m in messages for e in m["embeds"]]
    return titles if wanted is None or wanted in titles else []
