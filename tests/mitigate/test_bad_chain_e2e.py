"""An RPC on the wrong chain or down, a second ✅ from one signer, the bot's own ✅: each
refused or not counted, recorded, with no state change."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox_run import free_port
from tests.e2e.helpers import ALWAYS_ON_CALL, text_of
from tests.mitigate.helpers import declare, propose, signed_up, timeline, titled

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]
QUIET = {"escalate_after": "1h", "respond_within": "2h"}


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def chain_overlay() -> dict[str, Any]:
    return {}


@pytest.fixture
def overlay(chain_overlay: dict[str, Any]) -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {"P0": dict(QUIET)}},
        "mitigate": {"chain": {"poll_every": "5s", **chain_overlay}},
    }


@pytest.mark.parametrize(
    ("chain_overlay", "said"),
    [
        ({"chain_id": 1}, "is on chain 31337, not the configured chain 1"),
        ({"rpc_url": f"http://127.0.0.1:{free_port('127.0.0.1')}"}, "could not be reached"),
    ],
    ids=["wrong-chain", "rpc-down"],
)
async def test_pause_is_refused_when_the_rpc_is_on_another_chain_or_down(bot, control, clock, said):
    await signed_up(control)
    channel = await declare(control, "Vault drained")
    alice = await control.user_id("alice")
    answer = text_of(await control.command(alice, channel, "mitigate", "pause"))
    assert said in answer and "nothing was" in answer.lower()
    assert not any(titled("🛑")(m) for m in await control.messages(channel))
    assert any("mitigate_refused" in e and said in e for e in await timeline(bot, channel))


async def test_a_signers_second_check_mark_and_the_bots_own_do_not_count(bot, control, clock):
    info = await signed_up(control)
    channel = await declare(control, "Vault drained")
    proposal = await propose(control, channel)
    bob = info["signers"][0]["user_id"]
    await control.react(bob, channel, proposal["id"], "✅")
    await control.unreact(bob, channel, proposal["id"], "✅")
    await control.react(bob, channel, proposal["id"], "✅")
    bot_id = (await control.world())["bot_user_id"]
    await control.react(bot_id, channel, proposal["id"], "✅")

    async def noted() -> bool:
        events = await timeline(bot, channel)
        return any("counts once" in e for e in events) and any(
            "the bot's own ✅ does not count" in e for e in events
        )

    await control.wait_for(noted, what="both recorded")
    events = await timeline(bot, channel)
    assert sum(e.startswith("mitigation_confirmed") for e in events) == 1
    assert not any(titled("✅ Approved")(m) for m in await control.messages(channel))
