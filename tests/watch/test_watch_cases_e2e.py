"""The chain watch's other done-when cases, end to end on anvil: the bot's own approved
pause opens nothing and lands in its incident's timeline; a restart while events arrive
declares each once; a reorg that removes a seen transaction is said in its incident."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.chain import VAULT
from tests.mitigate.conftest import cast, cast_send
from tests.mitigate.helpers import declare, described, propose, signed_up, timeline, titled
from tests.watch.helpers import POLL as POLL_STEP
from tests.watch.helpers import first_look, incident_channels, overlay_with, rpc, until

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return overlay_with()


async def test_the_bots_own_approved_pause_opens_nothing_and_lands_in_its_timeline(
    bot, control, clock, chain
):
    await first_look(bot, control, clock)
    info = await signed_up(control)
    channel = await declare(control, "Vault drained")
    proposal = await propose(control, channel)
    bob, carol = info["signers"][0], info["signers"][1]
    await control.react(bob["user_id"], channel, proposal["id"], "✅")
    await control.react(carol["user_id"], channel, proposal["id"], "✅")
    await control.wait_for_message(channel, titled("✅ Approved"), what="approval")
    timelock = info["contracts"]["PRAETOR_TIMELOCK"]
    cast_send(chain, bob["private_key"], timelock, "pause()")
    second = cast_send(chain, carol["private_key"], timelock, "pause()")

    async def landed() -> bool | None:
        events = await timeline(bot, channel)
        return any(e.startswith("chain_watch_approved") and second in e for e in events) or None

    await until(control, clock, landed, "the approved pause in the incident's timeline")
    assert [c["id"] for c in await incident_channels(control)] == [channel]
    assert not any(titled("🚨 Unauthorized")(m) for m in await control.messages(channel))


async def test_a_restart_while_events_arrive_declares_each_once(bot, control, clock, chain):
    await first_look(bot, control, clock)
    key = chain.attacker[1]
    vault = chain.contracts[VAULT]
    first = cast_send(chain, key, vault, "pause()")

    async def opened() -> Any:
        return (await incident_channels(control)) or None

    await until(control, clock, opened, "the first P0")
    await bot.stop()
    # While the bot is down: another attack's event from another sender, much later.
    rpc(chain, "evm_increaseTime", "3600")
    # The operator role moves: the deployer grants it anew to a second compromised key.
    other_key = chain.others[1][1]
    role = cast("keccak", "OPERATOR_ROLE").stdout.strip()
    cast_send(
        chain, chain.deployer[1], vault, "grantRole(bytes32,address)", role, chain.others[1][0]
    )
    second = cast_send(chain, other_key, vault, "transferOwnership(address)", chain.others[2][0])
    await bot.start()
    await bot.restart()  # a second restart mid-way: nothing is declared twice

    async def both() -> Any:
        found = await incident_channels(control)
        return found if len(found) >= 2 else None

    await until(control, clock, both, "the second P0 after the restart")

    async def citations() -> dict[str, set[str]] | None:
        cited: dict[str, set[str]] = {}
        for channel in await incident_channels(control):
            for message in await control.messages(channel["id"]):
                for tx in (first, second):
                    if tx in described(message) and titled("🚨")(message):
                        cited.setdefault(tx, set()).add(channel["id"])
        return cited if len(cited) == 2 else None

    await until(control, clock, citations, "both events cited")
    for _ in range(5):  # more looks after both are in: nothing more is declared or said
        clock.advance(POLL_STEP)
        await asyncio.sleep(0.2)
    cited = await citations()
    found = await incident_channels(control)
    assert len(found) == 2, [c["name"] for c in found]
    assert cited is not None
    assert {tx: len(where) for tx, where in cited.items()} == {first: 1, second: 1}
    assert cited[first] != cited[second]


async def test_a_reorg_that_removes_a_seen_transaction_is_said_in_its_incident(
    bot, control, clock, chain
):
    await first_look(bot, control, clock)
    snapshot = rpc(chain, "evm_snapshot")
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")

    async def cited() -> Any:
        for channel in await incident_channels(control):
            for message in await control.messages(channel["id"]):
                if tx in described(message) and titled("🚨")(message):
                    return channel
        return None

    channel = await until(control, clock, cited, "the P0")
    assert rpc(chain, "evm_revert", snapshot) == "true"
    for _ in range(3):
        rpc(chain, "evm_mine")

    async def reorged() -> Any:
        for message in await control.messages(channel["id"]):
            if titled("⚠️ Reorg")(message) and tx in described(message):
                return message
        return None

    message = await until(control, clock, reorged, "the reorg said in the incident")
    assert "no longer on the chain" in described(message)
    events = await timeline(bot, channel["id"])
    assert any(e.startswith("chain_watch_event") and tx in e for e in events)  # kept
    assert any(e.startswith("chain_watch_reorg") and tx in e for e in events)
